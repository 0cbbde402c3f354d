#!/usr/bin/env bash
# HTTP benchmark: `medtwin serve` on loopback, loaded with oha.
#
# Usage: bench/http/run.sh [--duration 10s] [--runs R] [--sync full|normal] [--base N] [--keep] [--no-build]
#   --duration  length of each measured scenario (default 10s)
#   --runs      repetitions of the whole scenario list; the summary shows medians (default 1)
#   --sync      durability of `medtwin serve` (default full, the server's default)
#   --base      background resources imported before serving (default 100000)
#   --keep      keep the temporary directory (data, bodies, oha JSON)
#   --no-build  use the existing target/release/medtwin (or $MEDTWIN_BIN, which is never rebuilt)
#
# It starts `medtwin serve --addr 127.0.0.1:0` (the OS picks a free port; the
# script reads it from the server's start-up line) on a temporary data
# directory that holds N generated JP Core-like resources plus 10,000 Patients
# with known ids (pat-00000001 ...), then measures, each for --duration after a
# short warm-up, at concurrency 1 and 8:
#   read         GET /fhir/Patient/pat-0000NNNN, 9,000 different existing ids
#   create       POST /fhir/Patient (one JP Core Patient)
#   transaction  POST /fhir, a transaction Bundle of 100 POST entries
# and prints requests/s and p50/p99 latency per scenario. Only 127.0.0.1 is
# ever contacted. The server is stopped (SIGTERM) on exit, also on errors.
#
# It needs: cargo (builds medtwin, and installs oha with `cargo install oha
# --version 1.16.0 --locked` if oha is not on PATH), python3 (standard library).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
duration=10s
runs=1
sync=full
base=100000
keep=0
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --sync) sync="$2"; shift 2 ;;
        --base) base="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

command -v python3 >/dev/null || { echo "run.sh: python3 is required" >&2; exit 1; }
. "$root/bench/serve.sh"
ensure_oha
echo "run.sh: using $(oha --version)" >&2

target="${CARGO_TARGET_DIR:-$root/target}"
bin="${MEDTWIN_BIN:-$target/release/medtwin}"
if [ "$build" = 1 ] && [ -z "${MEDTWIN_BIN:-}" ]; then
    (cd "$root" && cargo build --release -p medtwin-cli)
fi
[ -x "$bin" ] || { echo "run.sh: $bin not found (build with: cargo build --release -p medtwin-cli)" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/medtwin-bench-http.XXXXXX")"
cleanup() {
    stop_server
    if [ "$keep" = 1 ]; then echo "run.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== preparing data: $base background resources + 10000 Patients with known ids"
python3 "$root/bench/ingest/gen.py" "$base" "$tmp/base"
python3 "$root/bench/ingest/gen.py" 10000 "$tmp/patients" --only-patients --ids seq --seed 99
python3 "$root/bench/http/bodies.py" "$tmp/bodies"
"$bin" import --data "$tmp/data" --sync normal "$tmp/base" "$tmp/patients" | tail -1

echo "== starting medtwin serve (sync=$sync) on 127.0.0.1, port chosen by the OS"
start_server "$bin" "$tmp/serve.log" --data "$tmp/data" --sync "$sync"
base_url="http://$addr/fhir"
echo "   listening at $base_url (pid $server_pid)"

# Sanity checks, so that a benchmark of error responses cannot pass unnoticed.
python3 - "$base_url" "$tmp/bodies" <<'EOF'
import json, sys, urllib.request
base, bodies = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    req = urllib.request.Request(base + path, data=body, method=method,
                                 headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read())
s, p = call("GET", "/Patient/pat-00001000")
assert s == 200 and p["id"] == "pat-00001000", (s, p)
s, p = call("GET", "/Patient/pat-00009999")
assert s == 200, s
s, p = call("POST", "/Patient", open(f"{bodies}/patient.json", "rb").read())
assert s == 201, s
s, b = call("POST", "", open(f"{bodies}/transaction.json", "rb").read())
assert s == 200 and b["type"] == "transaction-response" and len(b["entry"]) == 100, (s, b.get("type"))
assert all(e["response"]["status"].startswith("201") for e in b["entry"]), b["entry"][0]
print("   sanity: read 200, create 201, 100-entry transaction 200 with 100 x 201")
EOF

results="$tmp/results.tsv"
printf 'scenario\tconcurrency\trun\trps\tp50_ms\tp99_ms\tok\terrors\tload1\tserver_cpu_s\n' >"$results"

# User + system CPU time of the server process so far, in clock ticks.
server_cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }

# Runs oha for one scenario and appends a row; fails if any response was not 2xx.
measure() {
    local name="$1" conc="$2" run="$3"
    shift 3
    local json="$tmp/$name-c$conc-$run.json" load
    oha --no-tui --output-format json -z 2s -c "$conc" "$@" >/dev/null  # warm-up
    load=$(cut -d' ' -f1 /proc/loadavg)
    local t0 t1
    t0=$(server_cpu_ticks)
    oha --no-tui --output-format json -z "$duration" -c "$conc" "$@" >"$json"
    t1=$(server_cpu_ticks)
    python3 - "$json" "$name" "$conc" "$run" "$load" "$(( t1 - t0 ))" "$(getconf CLK_TCK)" >>"$results" <<'EOF'
import json, sys
path, name, conc, run, load, ticks, hz = sys.argv[1:]
server_cpu = int(ticks) / int(hz)
d = json.load(open(path))
codes = {int(k): v for k, v in d.get("statusCodeDistribution", {}).items()}
ok = sum(v for k, v in codes.items() if 200 <= k < 300)
# Requests still in flight when the duration ends are cut off by oha; they are not server errors.
errors = {k: v for k, v in d.get("errorDistribution", {}).items() if k != "aborted due to deadline"}
bad = sum(v for k, v in codes.items() if not 200 <= k < 300) + sum(errors.values())
lat = d["latencyPercentiles"]
if ok == 0:
    sys.exit(f"run.sh: {name} c={conc}: no successful responses: {codes} {d.get('errorDistribution')}")
print(f"{name}\t{conc}\t{run}\t{d['summary']['requestsPerSec']:.1f}\t{lat['p50'] * 1000:.3f}\t{lat['p99'] * 1000:.3f}\t{ok}\t{bad}\t{load}\t{server_cpu:.2f}")
EOF
    tail -1 "$results" | awk -F'\t' '{printf "   %-12s c=%-2s run %s: %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  (%s ok, %s errors, server CPU %.0f us/req, load %s)\n", $1, $2, $3, $4, $5, $6, $7, $8, 1e6*$10/$7, $9}'
    if [ "$(tail -1 "$results" | cut -f8)" != 0 ]; then
        echo "run.sh: $name c=$conc had non-2xx responses or errors; see $json (use --keep)" >&2
        keep=1
        exit 1
    fi
}

ct="Content-Type: application/fhir+json"
for run in $(seq 1 "$runs"); do
    echo "== run $run/$runs ($duration per scenario)"
    for conc in 1 8; do
        measure read "$conc" "$run" --rand-regex-url "$base_url/Patient/pat-0000[1-9][0-9]{3}"
    done
    for conc in 1 8; do
        measure create "$conc" "$run" -m POST -H "$ct" -D "$tmp/bodies/patient.json" "$base_url/Patient"
    done
    for conc in 1 8; do
        measure transaction "$conc" "$run" -m POST -H "$ct" -D "$tmp/bodies/transaction.json" "$base_url"
    done
done

echo
python3 - "$results" "$runs" "$duration" "$sync" "$base" <<'EOF'
import csv, statistics, sys
path, runs, duration, sync, base = sys.argv[1:]
rows = list(csv.DictReader(open(path), delimiter="\t"))
print(f"medtwin serve HTTP benchmark (loopback, oha, {duration} per scenario, sync={sync}, "
      f"{int(base) + 10000} resources loaded), median of {runs} run(s)")
print(f"{'scenario':<13}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'res/s':>10}{'srv CPU us/req':>16}{'load1':>7}")
groups = {}
for r in rows:
    groups.setdefault((r["scenario"], r["concurrency"]), []).append(r)
for (name, conc), rs in groups.items():
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    per = 100 if name == "transaction" else 1
    print(f"{name:<13}{conc:>5}{med('rps'):>10.0f}{med('p50_ms'):>9.2f}{med('p99_ms'):>9.2f}{med('rps') * per:>10.0f}{statistics.median(1e6 * float(r['server_cpu_s']) / float(r['ok']) for r in rs):>16.0f}{med('load1'):>7.2f}")
print("res/s = resources read or written per second (100 per transaction);")
print("srv CPU us/req = user + system CPU of medtwin serve per successful request (independent of machine load).")
print("target (2 cores): read >= 10000 req/s with p99 < 5 ms; oha runs on the same 2 cores.")
EOF
