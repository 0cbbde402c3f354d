#!/usr/bin/env bash
# Benchmark of the synthetic population generator: builds the `synth-bench`
# example in release mode and generates people with all three formats into a
# temporary directory, first N/10 then N (default 100,000), so that the peak
# memory of the two runs shows whether memory stays flat as N grows. Prints
# people/s, resources/s, bytes written, CPU time (user+sys), peak RSS and the
# load average. Target: 100,000 people in under 2 minutes on 2 cores.
#
# The output is about 300 KB per person (29 GB for 100,000 people), so the
# script checks the free disk space first and refuses to start without it.
#
# Usage: bench/synth/run.sh [N] [SEED] [OUT_DIR]
#   KEEP=1 keeps the output; SMALL=<n> sets the first, smaller run (0: skip it).
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-100000}"
SEED="${2:-1}"
OUT="${3:-$(mktemp -d -t medtwin-synth-bench-XXXXXX)}"
SMALL="${SMALL:-$((N / 10))}"
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release -p medtwin-synth --example synth-bench
BIN="$TARGET/release/examples/synth-bench"

run() {
  local n="$1" dir="$2"
  rm -rf "$dir"
  mkdir -p "$dir"
  local need=$((n * 320 / 1024)) # MB, with a margin over ~300 KB per person
  local free
  free=$(df -Pm "$dir" | awk 'NR == 2 { print $4 }')
  if [ "$free" -lt "$need" ]; then
    echo "not enough disk space for $n people: need about $need MB, $free MB free on $(df -P "$dir" | awk 'NR == 2 { print $6 }')" >&2
    rm -rf "$dir"
    return 1
  fi
  echo "== $n people (seed $SEED) into $dir on $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/env time -f "cpu:             %U s user + %S s sys\nwall:            %e s\npeak RSS:        %M KB" \
    "$BIN" "$n" "$SEED" "$dir" 2> "$dir.time" || { cat "$dir.time"; return 1; }
  grep -v "people, " "$dir.time"
  echo "files:           $(find "$dir" -type f | wc -l) in $(find "$dir" -type d | wc -l) directories, $(du -sh "$dir" | cut -f1) on disk"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ -z "${KEEP:-}" ]; then rm -rf "$dir"; fi
  rm -f "$dir.time"
}

if [ "$SMALL" -gt 0 ] && [ "$SMALL" -lt "$N" ]; then
  run "$SMALL" "$OUT-small"
fi
run "$N" "$OUT"
