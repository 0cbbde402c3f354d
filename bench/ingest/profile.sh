#!/usr/bin/env bash
# Where does `medtwin import` spend its CPU? Samples one import with perf and
# splits the samples by thread role and stage (bench/ingest/profile_stages.py).
#
# Usage: bench/ingest/profile.sh [N] [--sync full|normal] [--reimport]
#   N           resources to generate and import (default 100000)
#   --reimport  profile the second import of the same files (every resource unchanged)
# Needs perf (apt-get install -y linux-perf; installed if missing), python3, cargo.
# $MEDTWIN_BIN selects a prebuilt binary instead of building target/release/medtwin.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
n=100000
sync=full
reimport=0
while [ $# -gt 0 ]; do
    case "$1" in
        --sync) sync="$2"; shift 2 ;;
        --reimport) reimport=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        [0-9]*) n="$1"; shift ;;
        *) echo "profile.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if ! command -v perf >/dev/null; then
    echo "profile.sh: installing perf (apt-get install -y linux-perf)" >&2
    apt-get install -y linux-perf >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y linux-perf >/dev/null; }
fi
target="${CARGO_TARGET_DIR:-$root/target}"
bin="${MEDTWIN_BIN:-$target/release/medtwin}"
if [ -z "${MEDTWIN_BIN:-}" ]; then
    (cd "$root" && cargo build --release -p medtwin-cli)
fi
tmp="$(mktemp -d "${TMPDIR:-/tmp}/medtwin-profile-ingest.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
python3 "$root/bench/ingest/gen.py" "$n" "$tmp/ndjson"
if [ "$reimport" = 1 ]; then
    "$bin" import --data "$tmp/db" --sync "$sync" "$tmp/ndjson" | tail -1
fi
# DWARF call graphs: release builds keep line tables (Cargo.toml [profile.release]) but no frame pointers.
perf record -q -F 499 --call-graph dwarf,16384 -o "$tmp/perf.data" -- \
    "$bin" import --data "$tmp/db" --sync "$sync" "$tmp/ndjson" | tail -1
perf script -i "$tmp/perf.data" -F tid,ip,sym 2>"$tmp/perf-script.err" | python3 "$root/bench/ingest/profile_stages.py"
