#!/usr/bin/env bash
# SQL-on-FHIR view benchmark (issue 7).
#
#   bench/views/run.sh [PATIENTS]        (default 100000)
#
# 1. Generates synthetic JP Core-shaped NDJSON (gen.py: PATIENTS patients,
#    5 lab Observations each) under target/bench-views/data-PATIENTS.
# 2. Builds the driver (bench/views/runner, release) against crates/analytics.
# 3. Runs a 6-column Observation view and a forEach-heavy Patient view from
#    NDJSON into Arrow, with 1 thread and with all cores; wall and CPU time.
# 4. Side by side with helios-sof's CLI (`sof-cli`, `cargo install helios-sof`;
#    found on the PATH, in /tmp/helios-sof/bin, or through SOF_CLI): both
#    tools write the same view as CSV from the same NDJSON file, with 1
#    thread and with all cores, timed with /usr/bin/time (wall, user+sys);
#    the two CSV files are compared (sorted rows).
# 5. Writes a 10,000,000-row Parquet table and times
#    `SELECT code, count(*) ... GROUP BY code` with DataFusion.
#
# Every figure is one JSON line; `uptime` is printed first and last, since
# the machine is shared.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${1:-100000}"
work="$root/target/bench-views"
data="$work/data-$n"
mkdir -p "$work"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
echo "== $(uptime)"

if [ ! -s "$data/Observation.ndjson" ]; then
  python3 "$here/gen.py" "$data" "$n"
fi
# Same dependency versions as the workspace.
cp "$root/Cargo.lock" "$here/runner/Cargo.lock"
cargo build --release --features sql --manifest-path "$here/runner/Cargo.toml" 2>&1 | grep -v "^\s*Compiling" || true
bin="$CARGO_TARGET_DIR/release/medtwin-bench-views"
cores="$(nproc)"
views=("observation_6col.json Observation" "patient_foreach.json Patient")

echo "== medtwin view runner (NDJSON → Arrow), $(wc -l < "$data/Observation.ndjson") Observations, $(wc -l < "$data/Patient.ndjson") Patients"
for threads in 1 "$cores"; do
  for pair in "${views[@]}"; do
    set -- $pair
    RAYON_NUM_THREADS=$threads "$bin" view "$here/$1" "$data/$2.ndjson" "$threads"
  done
done

# Runs a command under /usr/bin/time and prints one JSON line.
timed() {
  local tool="$1" view="$2" threads="$3" count="$4"
  shift 4
  local t
  t="$( { /usr/bin/time -f "%e %U %S" "$@" > /dev/null 2> "$work/stderr.txt"; } 2>&1 | tail -1)"
  if ! [[ "$t" =~ ^[0-9.]+\ [0-9.]+\ [0-9.]+$ ]]; then
    echo "$tool failed: $t $(head -c 500 "$work/stderr.txt")" >&2
    return 1
  fi
  python3 - "$tool" "$view" "$threads" "$count" $t <<'PY'
import json, sys
tool, view, threads, count, wall, user, sys_ = sys.argv[1:]
count, wall, cpu = int(count), float(wall), float(user) + float(sys_)
print(json.dumps({"tool": tool, "view": view, "threads": int(threads), "resources": count, "seconds": wall,
                  "cpu_seconds": round(cpu, 2), "resources_per_s": round(count / wall), "resources_per_cpu_s": round(count / cpu)}))
PY
}

sof="${SOF_CLI:-$(command -v sof-cli || true)}"
if [ -z "$sof" ] && [ -x /tmp/helios-sof/bin/sof-cli ]; then sof=/tmp/helios-sof/bin/sof-cli; fi
if [ -n "$sof" ]; then
  echo "== side by side: medtwin and helios-sof ($sof), same views and NDJSON files, CSV output"
  for threads in 1 "$cores"; do
    for pair in "${views[@]}"; do
      set -- $pair
      count=$(wc -l < "$data/$2.ndjson")
      RAYON_NUM_THREADS=$threads timed "medtwin" "$1" "$threads" "$count" \
        "$bin" view "$here/$1" "$data/$2.ndjson" "$threads" "$work/medtwin-$1.csv"
      timed "helios-sof" "$1" "$threads" "$count" \
        "$sof" -v "$here/$1" -b "$data/$2.ndjson" -f csv -t "$threads" -o "$work/sof-$1.csv"
    done
  done
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

echo "== DataFusion: count(*) GROUP BY over 10,000,000 Parquet rows"
"$bin" sql "$work/parquet" 10000000
echo "== $(uptime)"
