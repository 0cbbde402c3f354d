#!/usr/bin/env bash
# Benchmark medtwin-analytics against lifelines / scikit-learn on the same data.
# Needs python3 with: python3 -m pip install lifelines==0.30.3 scikit-learn==1.9.1
# Usage: bench/stats/run.sh [--rows N] [--ps-rows N] [--repeats N] [--py-repeats N] [--cox-py-repeats N]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
cargo build --release -p medtwin-analytics --example bench_stats
target="${CARGO_TARGET_DIR:-$root/target}"
exec python3 "$root/bench/stats/bench.py" "$target/release/examples/bench_stats" "$@"
