#!/usr/bin/env bash
# Benchmark of the synthetic population generator: builds the `synth-bench`
# example in release mode and generates N people (default 100,000) with all
# three formats into a temporary directory, printing people/s, resources/s and
# bytes written. Target: 100,000 people in under 2 minutes on 2 cores.
#
# Usage: bench/synth/run.sh [N] [SEED] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-100000}"
SEED="${2:-1}"
OUT="${3:-$(mktemp -d -t medtwin-synth-bench-XXXXXX)}"
cargo build --release -p medtwin-synth --example synth-bench
rm -rf "$OUT"
echo "generating $N people (seed $SEED) into $OUT on $(nproc) cores"
/usr/bin/env time -v ./target/release/examples/synth-bench "$N" "$SEED" "$OUT" 2> "$OUT.time" || { cat "$OUT.time"; exit 1; }
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$OUT.time"
echo "files: $(find "$OUT" -type f | wc -l), on disk: $(du -sh "$OUT" | cut -f1)"
if [ -z "${KEEP:-}" ]; then rm -rf "$OUT" "$OUT.time"; fi
