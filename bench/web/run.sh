#!/usr/bin/env bash
# Server time of every dashboard page at N synthetic patients (default 100,000).
#
#   bench/web/run.sh [N] [--runs R] [--years 2013-2024]
#
# Generates and imports the population once with `medtwin demo --no-serve`
# (into $MEDTWIN_BENCH_DATA or /tmp/medtwin-bench-web-N; delete it to
# regenerate; --years limits the calendar years of care generated: the full
# 2013-2024 history is about 340 resources and 2.3 MB of database per person,
# so 100,000 people × 12 years do not fit a small machine's disk), starts `medtwin serve` on loopback with request logging, opens
# each page R times (default 5) with curl, one request at a time, and prints
# per page the server time the server itself logged (median and max over the
# runs; for the patient page, over 30 patients spread over the population),
# the status and the response size. Target: every page under 200 ms.
# MEDTWIN_BIN=path uses a prebuilt binary instead of building target/release/medtwin.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=100000
RUNS=5
YEARS=2013-2024
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --years) YEARS="$2"; shift 2 ;;
    *) N="$1"; shift ;;
  esac
done
DATA="${MEDTWIN_BENCH_DATA:-/tmp/medtwin-bench-web-$N}"

if [ -z "${MEDTWIN_BIN:-}" ]; then
  cargo build --release --quiet -p medtwin-cli
  BIN="${CARGO_TARGET_DIR:-target}/release/medtwin"
else
  BIN="$MEDTWIN_BIN"
fi

echo "== data: $N patients, care in $YEARS, in $DATA"
if [ ! -f "$DATA/medtwin.db" ]; then
  /usr/bin/env time -v "$BIN" demo --patients "$N" --years "$YEARS" --data "$DATA" --no-serve 2> >(tee "$DATA.demo.log" >&2) || {
    echo "demo failed; see $DATA.demo.log" >&2; exit 1; }
else
  "$BIN" demo --patients "$N" --data "$DATA" --no-serve
fi
du -sh "$DATA"/medtwin.db "$DATA"/views 2>/dev/null || true

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp /tmp/medtwin-bench-web.XXXXXX.log)
NO_COLOR=1 MEDTWIN_LOG="warn,server::middleware=debug" "$BIN" serve --data "$DATA" --addr "127.0.0.1:$PORT" 2> "$LOG" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -fs "$BASE/fhir/metadata" >/dev/null 2>&1 && break; sleep 0.2; done

# Patients to open: 30 spread over the population, and one kana family name and birth date to search for.
read -r -a IDS < <(curl -fs "$BASE/fhir/Patient?_count=1000&_elements=id" | python3 -c '
import json, sys
ids = [e["resource"]["id"] for e in json.load(sys.stdin).get("entry", [])]
print(" ".join(ids[:: max(1, len(ids) // 30)][:30]))')
read -r KANA BIRTH < <(curl -fs "$BASE/fhir/Patient/${IDS[0]}" | python3 -c '
import json, sys
p = json.load(sys.stdin)
kana = [n for n in p["name"] if any(e.get("valueCode") == "SYL" for e in n.get("extension", []))]
print((kana[0]["family"] if kana else p["name"][0]["family"]), p["birthDate"])')
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }

declare -a PAGES=(
  "home|/"
  "patients: list|/patients"
  "patients: kana family name|/patients?q=$(enc "$KANA")"
  "patients: birth date|/patients?birthdate=$BIRTH"
  "patients: ID|/patients?q=${IDS[1]}"
  "explorer: form|/explorer"
  "explorer: Observation by code|/explorer?type=Observation&params=$(enc 'code=http://medis.or.jp/CodeSystem/master-JLAC10-17digits|3D046000001906202')"
  "explorer: one resource|/explorer/Patient/${IDS[2]}"
  "sql: console|/sql"
  "sql: patients by sex|/sql?q=$(enc 'SELECT sex, count(*) AS n FROM patients GROUP BY sex')"
  "sql: mean HbA1c by year|/sql?q=$(enc "SELECT substr(effective, 1, 4) AS year, count(*) AS n, avg(value) AS mean FROM lab_results WHERE analyte_code = '3D046' GROUP BY 1 ORDER BY 1")"
  "sql: top conditions|/sql?q=$(enc 'SELECT icd10, name, count(DISTINCT patient_id) AS patients FROM conditions GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20')"
  "studies: list|/studies"
  "studies: statin study, not yet run|/studies/statin-intensity"
)
# Running a study is an analysis over the whole store, not a page view: timed
# once per study (POST, answered with a 303 to the result), then the result
# page is timed like the other pages.
# The regional page reads every Patient, Organization, Encounter, Claim and
# Condition once into a cache (rebuilt when the store changes): its first
# view is timed the same way.
declare -a RUNS_ONCE=(
  "studies: RUN statin study (analysis)|POST|/studies/statin-intensity/run"
  "studies: RUN heart-failure study (analysis)|POST|/studies/heart-failure-mortality/run"
  "regional: first view, builds the cache (analysis)|GET|/regional"
)
declare -a AFTER=(
  "studies: statin study result|/studies/statin-intensity"
  "studies: heart-failure study result|/studies/heart-failure-mortality"
  "regional: stroke, inpatient, 構想区域|/regional"
  "regional: cancer, outpatient, municipality|/regional?disease=cancer&setting=outpatient&level=municipality"
  "regional: diabetes, claims, claims rate|/regional?disease=diabetes&source=claims&measure=claims_rate"
  "regional: flows CSV|/regional/flows.csv?disease=stroke"
)
# The SQL session opens lazily: one warm-up request, not counted.
curl -fs -o /dev/null "$BASE/sql" || true

: > "$LOG.curl"
for entry in "${PAGES[@]}"; do
  name="${entry%%|*}"; path="${entry#*|}"
  for _ in $(seq "$RUNS"); do
    curl -s -o /dev/null -w "$name|$path|%{http_code}|%{size_download}|%{time_total}\n" "$BASE$path" >> "$LOG.curl"
  done
done
for entry in "${RUNS_ONCE[@]}"; do
  IFS='|' read -r name method path <<< "$entry"
  curl -s -X "$method" -o /dev/null -w "$name|$path|%{http_code}|%{size_download}|%{time_total}\n" "$BASE$path" >> "$LOG.curl"
done
for entry in "${AFTER[@]}"; do
  name="${entry%%|*}"; path="${entry#*|}"
  for _ in $(seq "$RUNS"); do
    curl -s -o /dev/null -w "$name|$path|%{http_code}|%{size_download}|%{time_total}\n" "$BASE$path" >> "$LOG.curl"
  done
done
for id in "${IDS[@]}"; do
  curl -s -o /dev/null -w "patient page (digital twin)|/patients/$id|%{http_code}|%{size_download}|%{time_total}\n" "$BASE/patients/$id" >> "$LOG.curl"
done
kill -TERM $SERVER; wait $SERVER 2>/dev/null || true
trap - EXIT

echo "== $(date -u +%FT%TZ), $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$LOG" "$LOG.curl" "$N" <<'EOF'
import re, statistics, sys, urllib.parse
log, curl, n = sys.argv[1], sys.argv[2], sys.argv[3]
# Server-side times, in request order, from the middleware's "done" lines.
server = []
for line in open(log, encoding="utf-8", errors="replace"):
    m = re.search(r'uri=(\S+?)[}:].*done status=(\d+) micros=(\d+)', line)
    if m:
        server.append((urllib.parse.unquote(m.group(1)), int(m.group(3))))
rows = [l.rstrip("\n").split("|") for l in open(curl, encoding="utf-8")]
# Match each curl request to the server's log line for the same path, in order.
times = {}
i = 0
for name, path, status, size, total in rows:
    want = urllib.parse.unquote(path)
    while i < len(server) and server[i][0] != want:
        i += 1
    micros = server[i][1] if i < len(server) else None
    i += 1
    t = times.setdefault(name, {"ms": [], "status": set(), "size": []})
    if micros is not None:
        t["ms"].append(micros / 1000)
    t["status"].add(status)
    t["size"].append(int(size))
print(f"{'page':<46} {'runs':>4} {'median ms':>10} {'max ms':>8} {'status':>7} {'KB':>7}")
worst = 0.0
for name, t in times.items():
    ms = t["ms"] or [float("nan")]
    if "(analysis)" not in name:
        worst = max(worst, max(ms))
    print(f"{name:<46} {len(t['ms']):>4} {statistics.median(ms):>10.1f} {max(ms):>8.1f} {','.join(sorted(t['status'])):>7} {statistics.median(t['size'])/1024:>7.0f}")
print(f"slowest page {worst:.1f} ms server time at {int(n):,} patients (target: under 200 ms)")
EOF
rm -f "$LOG" "$LOG.curl"
