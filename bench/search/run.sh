#!/usr/bin/env bash
# Search benchmark: loads PATIENTS synthetic patients (each with OBS
# Observations) with every search index, then measures in process (counting,
# latency, cursor paging, query plans; `crates/store/examples/search_bench.rs`)
# and through `medtwin serve` on loopback (latency and throughput at
# concurrency 8 with the load tool oha, counting, and paging through every
# match by following `next` links; `over_http.py`).
#
# Usage: bench/search/run.sh [PATIENTS=2000] [OBS=50] [DIR] [--reuse] [--no-http] [--duration 10s] [--no-build]
#   DIR         where the database is built (default $TMPDIR/medtwin-search-bench)
#   --reuse     keep the database already in DIR (built by an earlier run with
#               the same PATIENTS and OBS) and only measure the searches
#   --no-http   skip the server measurements
#   --duration  length of each oha scenario (default 10s)
#   --no-build  use the existing release builds (or $MEDTWIN_BIN for the server)
#
# The issue's target scale is PATIENTS=100000 OBS=100 (about 10 million
# resources, about 13 GB of database). It needs cargo, python3 (standard
# library) and oha (installed with `cargo install oha --version 1.16.0 --locked`
# if it is not on PATH). Only 127.0.0.1 is contacted; the server is stopped on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pos=()
reuse=0
http=1
duration=10s
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --reuse) reuse=1; shift ;;
        --no-http) http=0; shift ;;
        --duration) duration="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) pos+=("$1"); shift ;;
    esac
done
PATIENTS="${pos[0]:-2000}"
OBS="${pos[1]:-50}"
DIR="${pos[2]:-${TMPDIR:-/tmp}/medtwin-search-bench}"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="${MEDTWIN_BIN:-$target/release/medtwin}"

if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -q -p medtwin-store --example search_bench)
    if [ "$http" = 1 ] && [ -z "${MEDTWIN_BIN:-}" ]; then
        (cd "$root" && cargo build --release -q -p medtwin-cli)
    fi
fi

echo "== in process ($(uptime | sed 's/.*load/load/'))"
MEDTWIN_BENCH_REUSE="$reuse" "$target/release/examples/search_bench" "$PATIENTS" "$OBS" "$DIR"
[ "$http" = 1 ] || exit 0

. "$root/bench/serve.sh"
ensure_oha
[ -x "$bin" ] || { echo "run.sh: $bin not found (build with: cargo build --release -p medtwin-cli)" >&2; exit 1; }

log="$(mktemp "${TMPDIR:-/tmp}/medtwin-search-serve.XXXXXX")"
cleanup() {
    stop_server
    rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== through medtwin serve (loopback, oha $(oha --version | awk '{print $2}'))"
start_server "$bin" "$log" --data "$DIR" --sync normal
python3 "$root/bench/search/over_http.py" "http://$addr/fhir" "$PATIENTS" "$OBS" --duration "$duration" --server-pid "$server_pid"
