#!/usr/bin/env bash
# SQL-on-FHIR view benchmark (issue 7).
#
#   bench/views/run.sh [PATIENTS]        (default 100000)
#
# 1. Generates synthetic JP Core-shaped NDJSON (gen.py: PATIENTS patients,
#    5 lab Observations each) under target/bench-views/data-PATIENTS.
# 2. Builds the drivers (release): bench/views/runner against crates/analytics,
#    bench/views/sql against DataFusion.
# 3. Runs a 6-column Observation view and a forEach-heavy Patient view from
#    NDJSON into Arrow, with 1 thread and with all cores; wall and CPU time.
#    Then the same from a medtwin store holding the same resources (loaded
#    once under target/bench-views/store-PATIENTS).
# 4. Side by side with helios-sof's CLI (`sof-cli`, `cargo install helios-sof`;
#    found on the PATH, in /tmp/helios-sof/bin, or through SOF_CLI): both
#    tools write the same view as CSV from the same NDJSON file, with 1
#    thread and with all cores, timed with /usr/bin/time (wall, user+sys);
#    the two CSV files are compared (sorted rows).
# 5. Writes a 10,000,000-row Parquet table and times
#    `SELECT code, count(*) ... GROUP BY code` with DataFusion (median of 3
#    after a warm-up).
#
# SQL=0 skips step 5 (the DataFusion driver's first release build takes tens
# of minutes; its figure does not depend on the view runner).
#
# RUNS (default 3) repeats every timed command; each figure is the median
# (by wall time) of the runs, printed as one JSON line with all run times.
# `uptime` is printed first and last, since the machine is shared.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${1:-100000}"
runs="${RUNS:-3}"
work="$root/target/bench-views"
data="$work/data-$n"
mkdir -p "$work"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
echo "== $(uptime)"

if [ ! -s "$data/Observation.ndjson" ]; then
  python3 "$here/gen.py" "$data" "$n"
fi
# Same dependency versions as the workspace.
build() {
  cp "$root/Cargo.lock" "$here/$1/Cargo.lock"
  CARGO_TARGET_DIR="$2" cargo build --release --manifest-path "$here/$1/Cargo.toml" 2>&1 | grep -v "^\s*Compiling" || true
}
build runner "$CARGO_TARGET_DIR"
bin="$CARGO_TARGET_DIR/release/medtwin-bench-views"
cores="$(nproc)"
views=("observation_6col.json Observation" "patient_foreach.json Patient")

echo "== medtwin view runner (NDJSON → Arrow), $(wc -l < "$data/Observation.ndjson") Observations, $(wc -l < "$data/Patient.ndjson") Patients; median of $runs runs"
# The median (by wall time) of the runner's JSON lines on stdin, with every run's times.
median() {
  python3 -c '
import json, sys
runs = sorted((json.loads(l) for l in sys.stdin), key=lambda r: r["seconds"])
m = dict(runs[len(runs) // 2])
m["runs_seconds"] = [r["seconds"] for r in runs]
m["runs_cpu_seconds"] = [r["cpu_seconds"] for r in runs]
print(json.dumps(m))'
}
for threads in 1 "$cores"; do
  for pair in "${views[@]}"; do
    set -- $pair
    for _ in $(seq "$runs"); do
      RAYON_NUM_THREADS=$threads "$bin" view "$here/$1" "$data/$2.ndjson" "$threads"
    done | median
  done
done
# From the store: the same resources in a medtwin store (loaded once, without
# search index rows, which a view never reads), read as `medtwin view run
# VIEW --data DIR` reads them (the store's scan on its own thread, the view
# evaluating on rayon).
store_dir="$work/store-$n"
if [ ! -s "$store_dir/medtwin.db" ]; then
  rm -rf "$store_dir"
  "$bin" store-load "$store_dir" "$data/Patient.ndjson" "$data/Observation.ndjson"
fi
echo "== medtwin view runner (store → Arrow), $(du -sh "$store_dir" | cut -f1) store; median of $runs runs"
for threads in 1 "$cores"; do
  for pair in "${views[@]}"; do
    set -- $pair
    for _ in $(seq "$runs"); do
      RAYON_NUM_THREADS=$threads "$bin" store "$here/$1" "$store_dir" "$threads"
    done | median
  done
done

# Runs a command RUNS times under /usr/bin/time and prints one JSON line
# (the median run by wall time, and every run's wall and CPU time).
timed() {
  local tool="$1" view="$2" threads="$3" count="$4"
  shift 4
  local t all=""
  for _ in $(seq "$runs"); do
    if ! /usr/bin/time -o "$work/time.txt" -f "%e %U %S" "$@" > /dev/null 2> "$work/stderr.txt"; then
      echo "$tool failed: $(head -c 500 "$work/stderr.txt")" >&2
      return 1
    fi
    t="$(tail -1 "$work/time.txt")"
    if ! [[ "$t" =~ ^[0-9.]+\ [0-9.]+\ [0-9.]+$ ]]; then
      echo "$tool failed: $t $(head -c 500 "$work/stderr.txt")" >&2
      return 1
    fi
    all="$all $t"
  done
  python3 - "$tool" "$view" "$threads" "$count" $all <<'PY'
import json, sys
tool, view, threads, count = sys.argv[1:5]
t = [float(x) for x in sys.argv[5:]]
runs = sorted(((t[i], t[i + 1] + t[i + 2]) for i in range(0, len(t), 3)))
wall, cpu = runs[len(runs) // 2]
count = int(count)
print(json.dumps({"tool": tool, "view": view, "threads": int(threads), "resources": count, "seconds": wall,
                  "cpu_seconds": round(cpu, 2), "resources_per_s": round(count / wall), "resources_per_cpu_s": round(count / cpu),
                  "runs_seconds": [r[0] for r in runs], "runs_cpu_seconds": [round(r[1], 2) for r in runs]}))
PY
}

sof="${SOF_CLI:-$(command -v sof-cli || true)}"
if [ -z "$sof" ] && [ -x /tmp/helios-sof/bin/sof-cli ]; then sof=/tmp/helios-sof/bin/sof-cli; fi
if [ -n "$sof" ]; then
  echo "== side by side: medtwin and helios-sof ($sof), same views and NDJSON files, CSV output; median of $runs runs"
  : > "$work/side.jsonl"
  for threads in 1 "$cores"; do
    for pair in "${views[@]}"; do
      set -- $pair
      count=$(wc -l < "$data/$2.ndjson")
      RAYON_NUM_THREADS=$threads timed "medtwin" "$1" "$threads" "$count" \
        "$bin" view "$here/$1" "$data/$2.ndjson" "$threads" "$work/medtwin-$1.csv" | tee -a "$work/side.jsonl"
      timed "helios-sof" "$1" "$threads" "$count" \
        "$sof" -v "$here/$1" -b "$data/$2.ndjson" -f csv -t "$threads" -o "$work/sof-$1.csv" | tee -a "$work/side.jsonl"
    done
  done
  # How many times faster medtwin is, in wall time and in CPU time.
  python3 - "$work/side.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["tool"], r["view"], r["threads"]): r for r in rows}
for (tool, view, threads), m in by.items():
    s = by.get(("helios-sof", view, threads))
    if tool == "medtwin" and s:
        print(json.dumps({"ratio": "helios-sof / medtwin", "view": view, "threads": threads,
                          "wall": round(s["seconds"] / m["seconds"], 1), "cpu": round(s["cpu_seconds"] / m["cpu_seconds"], 1)}))
PY
  for pair in "${views[@]}"; do
    set -- $pair
    if cmp -s <(tail -n +2 "$work/medtwin-$1.csv" | sort) <(tail -n +2 "$work/sof-$1.csv" | sort); then
      echo "{\"check\": \"same CSV rows from both tools\", \"view\": \"$1\", \"rows\": $(($(wc -l < "$work/medtwin-$1.csv") - 1))}"
    else
      echo "{\"check\": \"CSV rows differ\", \"view\": \"$1\", \"medtwin_rows\": $(($(wc -l < "$work/medtwin-$1.csv") - 1)), \"sof_rows\": $(($(wc -l < "$work/sof-$1.csv") - 1))}"
      diff <(tail -n +2 "$work/medtwin-$1.csv" | sort) <(tail -n +2 "$work/sof-$1.csv" | sort) | head -6 || true
    fi
  done
else
  echo "== helios-sof: sof-cli not found (cargo install helios-sof, or set SOF_CLI); no side-by-side figures"
fi

if [ "${SQL:-1}" = 0 ]; then
  echo "== DataFusion: skipped (SQL=0)"
  echo "== $(uptime)"
  exit 0
fi
echo "== DataFusion: count(*) GROUP BY over 10,000,000 Parquet rows"
# SQL_TARGET_DIR: where to build the DataFusion driver (default: CARGO_TARGET_DIR).
sql_target="${SQL_TARGET_DIR:-$CARGO_TARGET_DIR}"
build sql "$sql_target"
"$sql_target/release/medtwin-bench-views-sql" "$work/parquet" 10000000
echo "== $(uptime)"
