#!/usr/bin/env bash
# FHIRPath benchmark: medtwin's fhirpath crate vs fhirpath.js on the same
# expressions (20 common R4 search parameters + one simple path) and the same
# synthetic resources, in the same run. Prints evals/s per expression, the
# ratio, and the median ratio. Single thread; each figure is the median of
# RUNS runs (default 5).
#
# Needs: cargo, node and npm (fhirpath.js is installed into
# bench/fhirpath/node_modules, which git ignores).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${RUNS:-5}"
fhirpath_js_version="${FHIRPATH_JS_VERSION:-3}"

command -v node >/dev/null || { echo "error: node is required (apt-get install nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: npm is required (apt-get install npm)" >&2; exit 1; }

if [ ! -d "$here/node_modules/fhirpath" ]; then
  echo "installing fhirpath.js@$fhirpath_js_version into $here/node_modules ..." >&2
  (cd "$here" && npm install --no-save --no-package-lock --silent "fhirpath@$fhirpath_js_version" >&2)
fi
echo "fhirpath.js $(node -p "require('$here/node_modules/fhirpath/package.json').version")" >&2

(cd "$root" && cargo build --release -q -p medtwin-fhirpath --example fhirpath_bench)
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="$target_dir/release/examples/fhirpath_bench"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" emit "$work/spec.json"
echo "measuring fhirpath.js ..." >&2
(cd "$here" && node bench.js "$work/spec.json" "$runs") > "$work/js.json"
echo "measuring medtwin ..." >&2
"$bin" run "$work/spec.json" "$runs" "$work/js.json"
