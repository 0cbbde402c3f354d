#!/usr/bin/env bash
# Regional analytics over a synthetic 三重県 population: `medtwin regional
# flows` and `rates` over the encounters and claims of N people × 10 years.
#
#   bench/regional/run.sh [N] [--runs R]      (default N = 100000, R = 3)
#
# The data set is generated once (medtwin synth, FHIR only) under
# ${MEDTWIN_BENCH_DIR:-/tmp/medtwin-bench-regional}/N; only the six resource
# types the regional views read are kept on disk (the other NDJSON files are
# symbolic links to /dev/null: 100,000 people × 10 years would otherwise take
# about 22 GB, and even so the kept files are about 9.5 GB). The regional views
# are materialised to Parquet once (medtwin regional materialize); both steps
# are timed once and reported apart, and the NDJSON files are then deleted
# (KEEP_NDJSON=1 keeps them and adds one run of flows straight from NDJSON).
# The measured steps are the analysis commands reading the Parquet files
# (--parquet), R runs each. Delete the folder when done.
# MEDTWIN_BIN=path uses a prebuilt binary instead of building target/release/medtwin.
set -euo pipefail

N=100000
RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    *) N="$1"; shift ;;
  esac
done

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BASE="${MEDTWIN_BENCH_DIR:-/tmp/medtwin-bench-regional}/$N"
if [ -z "${MEDTWIN_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p medtwin-cli)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/medtwin"
else
  BIN="$MEDTWIN_BIN"
fi
if ! [ -x /usr/bin/time ]; then
  apt-get install -y time >/dev/null
fi

measure() { # label, command...
  local label="$1"; shift
  local log
  log="$(mktemp)"
  /usr/bin/time -v "$@" >/dev/null 2>"$log"
  python3 - "$label" "$log" <<'PY'
import re, sys
label, path = sys.argv[1], sys.argv[2]
t = open(path, encoding="utf-8", errors="replace").read()
def g(k):
    m = re.search(re.escape(k) + r":\s*(.+)", t)
    return m.group(1).strip() if m else "?"
wall = g("Elapsed (wall clock) time (h:mm:ss or m:ss)")
parts = [float(x) for x in wall.split(":")]
secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
user, sys_ = float(g("User time (seconds)")), float(g("System time (seconds)"))
rss = int(g("Maximum resident set size (kbytes)")) / 1024
print(f"{label:<44} wall {secs:7.2f} s   user+sys {user + sys_:7.2f} s   max RSS {rss:7.0f} MiB")
PY
  rm -f "$log"
}

echo "medtwin regional benchmark: N = $N people × 10 years (三重県), $(nproc) cores"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if ! [ -f "$BASE/done" ]; then
  rm -rf "$BASE"
  mkdir -p "$BASE/synth/fhir"
  for t in Observation MedicationRequest DiagnosticReport DocumentReference Procedure AllergyIntolerance Coverage Practitioner; do
    ln -s /dev/null "$BASE/synth/fhir/$t.ndjson"
  done
  measure "generate (medtwin synth, fhir only)" "$BIN" synth --patients "$N" --seed 1 --years 2015-2024 --formats fhir --out "$BASE/synth"
  python3 - "$BASE" > "$BASE/sizes.txt" <<'PY'
import os, sys
base = sys.argv[1]
for name in ["Encounter", "Claim", "Patient", "Condition"]:
    p = os.path.join(base, "synth", "fhir", f"{name}.ndjson")
    n = sum(1 for _ in open(p, "rb"))
    print(f"  {name:<10} {n:>10,} resources  {os.path.getsize(p) / 2**20:8.0f} MiB NDJSON")
PY
  find "$BASE/synth/fhir" -type l -delete
  measure "materialize regional views (NDJSON → Parquet)" "$BIN" regional materialize --input "$BASE/synth/fhir" --out "$BASE/parquet"
  if [ -z "${KEEP_NDJSON:-}" ]; then
    rm -rf "$BASE/synth/fhir"
  fi
  touch "$BASE/done"
fi
cat "$BASE/sizes.txt"
python3 - "$BASE" <<'PY'
import os, sys
pq = os.path.join(sys.argv[1], "parquet")
size = sum(os.path.getsize(os.path.join(pq, f)) for f in os.listdir(pq))
print(f"  regional views as Parquet: {size / 2**20:.0f} MiB")
PY
for i in $(seq 1 "$RUNS"); do
  measure "flows stroke inpatient kosoku (parquet) #$i" "$BIN" regional flows --parquet "$BASE/parquet" --disease stroke --setting inpatient --level kosoku --format csv
  measure "flows all, municipality (parquet) #$i" "$BIN" regional flows --parquet "$BASE/parquet" --level municipality --format csv
  measure "rates municipality × month (parquet) #$i" "$BIN" regional rates --parquet "$BASE/parquet" --level municipality --period month --format csv
done
if [ -d "$BASE/synth/fhir" ]; then
  measure "flows stroke inpatient kosoku (NDJSON input)" "$BIN" regional flows --input "$BASE/synth/fhir" --disease stroke --setting inpatient --format csv
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
