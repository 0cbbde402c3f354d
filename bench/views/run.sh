#!/usr/bin/env bash
# SQL-on-FHIR view benchmark (issue 7).
#
#   bench/views/run.sh [PATIENTS]        (default 100000)
#
# 1. Generates synthetic JP Core-shaped NDJSON (gen.py: PATIENTS patients,
#    5 lab Observations each) under target/bench-views/data.
# 2. Builds the driver (bench/views/runner, release) against crates/analytics.
# 3. Runs a 6-column Observation view and a forEach-heavy Patient view from
#    NDJSON with 1 thread and with all cores, printing resources/s.
# 4. Runs the same two views with helios-sof's CLI (`sof-cli`, from
#    `cargo install helios-sof`), if it is installed, on the same files.
# 5. Writes a 10,000,000-row Parquet table and times
#    `SELECT code, count(*) ... GROUP BY code` with DataFusion.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${1:-100000}"
work="$root/target/bench-views"
data="$work/data-$n"
mkdir -p "$work"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

if [ ! -s "$data/Observation.ndjson" ]; then
  python3 "$here/gen.py" "$data" "$n"
fi
# Same dependency versions as the workspace.
cp "$root/Cargo.lock" "$here/runner/Cargo.lock"
cargo build --release --features sql --manifest-path "$here/runner/Cargo.toml" 2>&1 | grep -v "^\s*Compiling" || true
bin="$CARGO_TARGET_DIR/release/medtwin-bench-views"
cores="$(nproc)"
echo "== medtwin view runner (NDJSON → Arrow), $(wc -l < "$data/Observation.ndjson") Observations, $(wc -l < "$data/Patient.ndjson") Patients"
for threads in 1 "$cores"; do
  echo "-- $threads thread(s)"
  RAYON_NUM_THREADS=$threads "$bin" view "$here/observation_6col.json" "$data/Observation.ndjson" "$threads"
  RAYON_NUM_THREADS=$threads "$bin" view "$here/patient_foreach.json" "$data/Patient.ndjson" "$threads"
done

sof="${SOF_CLI:-$(command -v sof-cli || true)}"
if [ -n "$sof" ]; then
  echo "== helios-sof ($sof), same views and files, CSV to /dev/null"
  # sof-cli reads a FHIR Bundle; wrap the NDJSON lines once.
  for t in Observation Patient; do
    b="$work/bundle-$n-$t.json"
    if [ ! -s "$b" ]; then
      python3 - "$data/$t.ndjson" "$b" <<'PY'
import sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    o.write('{"resourceType":"Bundle","type":"collection","entry":[')
    first = True
    for line in f:
        line = line.strip()
        if not line:
            continue
        o.write(("" if first else ",") + '{"resource":' + line + "}")
        first = False
    o.write("]}")
PY
    fi
  done
  for pair in "observation_6col.json Observation" "patient_foreach.json Patient"; do
    set -- $pair
    count=$(wc -l < "$data/$2.ndjson")
    start=$(date +%s.%N)
    "$sof" --view "$here/$1" --bundle "$work/bundle-$n-$2.json" --format csv > /dev/null
    end=$(date +%s.%N)
    python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print('{\"tool\": \"helios-sof\", \"view\": \"%s\", \"resources\": %d, \"seconds\": %.3f, \"resources_per_s\": %.0f}' % (sys.argv[3], int(sys.argv[4]), s, int(sys.argv[4])/s))" "$start" "$end" "$1" "$count"
  done
else
  echo "== helios-sof: sof-cli not found (cargo install helios-sof, or set SOF_CLI); skipped"
fi

echo "== DataFusion: count(*) GROUP BY over 10,000,000 Parquet rows"
"$bin" sql "$work/parquet" 10000000
