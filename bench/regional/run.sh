#!/usr/bin/env bash
# Regional analytics over a synthetic 三重県 population: `medtwin regional
# flows` and `rates` over the encounters and claims of N people × 10 years.
#
#   bench/regional/run.sh [N] [--runs R] [--chunk C]   (default N = 100000, R = 3, C = 20000)
#
# The data set is generated once under ${MEDTWIN_BENCH_DIR:-/tmp/medtwin-bench-regional}/N
# in chunks of C people (medtwin synth --seed 1, 2, ...: independent samples of
# 三重県's population whose patient ids never collide, since they are a
# bijection of (seed, index)), each chunk materialised to Parquet (medtwin
# regional materialize) and its NDJSON deleted at once: the NDJSON of 100,000
# people × 10 years would take about 9.5 GB even with only the six resource
# types the regional views read (the others are written to /dev/null). Both
# steps are timed per chunk and reported apart. The measured steps are the
# analysis commands reading all chunks' Parquet files (--parquet DIR
# repeated), R runs each. Delete the folder when done.
# MEDTWIN_BIN=path uses a prebuilt binary instead of building target/release/medtwin.
set -euo pipefail

N=100000
RUNS=3
CHUNK=20000
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --chunk) CHUNK="$2"; shift 2 ;;
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
print(f"{label:<52} wall {secs:7.2f} s   user+sys {user + sys_:7.2f} s   max RSS {rss:7.0f} MiB")
PY
  rm -f "$log"
}

CHUNKS=$(( (N + CHUNK - 1) / CHUNK ))
echo "medtwin regional benchmark: N = $N people × 10 years (三重県) in $CHUNKS chunk(s), $(nproc) cores"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if ! [ -f "$BASE/done" ]; then
  rm -rf "$BASE"
  for k in $(seq 0 $(( CHUNKS - 1 ))); do
    n=$(( k == CHUNKS - 1 ? N - k * CHUNK : CHUNK ))
    dir="$BASE/synth-$k"
    mkdir -p "$dir/fhir"
    for t in Observation MedicationRequest DiagnosticReport DocumentReference Procedure AllergyIntolerance Coverage Practitioner; do
      ln -s /dev/null "$dir/fhir/$t.ndjson"
    done
    measure "generate chunk $k ($n people, synth --seed $(( k + 1 )))" "$BIN" synth --patients "$n" --seed $(( k + 1 )) --years 2015-2024 --formats fhir --out "$dir"
    find "$dir/fhir" -type l -delete
    for name in Encounter Claim Condition; do
      printf '  %-10s %10d resources  %6d MiB NDJSON\n' "$name" "$(wc -l < "$dir/fhir/$name.ndjson")" "$(( $(stat -c %s "$dir/fhir/$name.ndjson") / 1048576 ))"
    done | tee -a "$BASE/sizes.txt"
    measure "materialize chunk $k (NDJSON → Parquet)" "$BIN" regional materialize --input "$dir/fhir" --out "$BASE/parquet/$k"
    rm -rf "$dir"
  done
  touch "$BASE/done"
fi
python3 - "$BASE" <<'PY'
import os, sys
pq = os.path.join(sys.argv[1], "parquet")
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(pq) for f in fs)
print(f"  regional views as Parquet: {size / 2**20:.0f} MiB")
PY
PARQUET=()
for d in "$BASE"/parquet/*; do
  PARQUET+=(--parquet "$d")
done
for i in $(seq 1 "$RUNS"); do
  measure "flows stroke inpatient kosoku #$i" "$BIN" regional flows "${PARQUET[@]}" --disease stroke --setting inpatient --level kosoku --format csv
  measure "flows all, municipality #$i" "$BIN" regional flows "${PARQUET[@]}" --level municipality --format csv
  measure "rates municipality × month #$i" "$BIN" regional rates "${PARQUET[@]}" --level municipality --period month --format csv
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
