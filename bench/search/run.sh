#!/usr/bin/env bash
# Search benchmark: builds in release, loads PATIENTS synthetic patients
# (each with OBS Observations) with every search index, and prints counting
# speed, p50/p99 latency at concurrency 8 with throughput, cursor paging speed,
# index size per resource and the SQLite query plans of the slowest searches.
#
# Usage: bench/search/run.sh [PATIENTS=2000] [OBS=50] [DIR]
# The issue's target scale is PATIENTS=100000 OBS=100 (about 10 million resources).
set -euo pipefail
cd "$(dirname "$0")/../.."
PATIENTS="${1:-2000}"
OBS="${2:-50}"
DIR="${3:-${TMPDIR:-/tmp}/medtwin-search-bench}"
cargo build --release -q -p medtwin-store --example search_bench
exec target/release/examples/search_bench "$PATIENTS" "$OBS" "$DIR"
