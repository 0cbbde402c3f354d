#!/usr/bin/env bash
# Import benchmark: `medtwin import` of N generated JP Core-like resources into SQLite.
#
# Usage: bench/ingest/run.sh [N] [--runs R] [--sync "full normal"] [--batch B] [--no-index] [--keep] [--no-build]
#   N         resources to generate and import (default 1000000)
#   --runs    imports per configuration; the summary shows medians (default 3)
#   --sync    durability modes to measure (default "full normal")
#   --batch   passed to `medtwin import --batch` (default: the binary's default)
#   --no-index  import without search-index rows (MEDTWIN_BENCH_NO_INDEX=1, a
#             benchmark-only switch: the store is marked for a full re-index on
#             its next open); only the first import is measured
#   --keep    keep the temporary directory (data set, databases, logs)
#   --dataset DIR  keep the generated NDJSON in DIR and reuse it next time (same N)
#   --no-build  use the existing target/release/medtwin (or $MEDTWIN_BIN, which is never rebuilt)
#
# For every sync mode and run it imports into an empty data directory (the
# "first import"), then imports the same files again into the same directory
# (the "re-import unchanged" pass: every resource is compared with its stored
# hash and skipped). Each import runs under `/usr/bin/time -v`, which gives the
# wall time and the peak resident memory (Maximum resident set size); the
# database size is `du` of the data directory after the first import.
#
# It needs: cargo, python3 (the generator uses only the standard library) and
# GNU time (/usr/bin/time; installed with apt-get if missing). The machine is
# usually shared: the load average is printed next to every run, and medians
# are reported.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
n=1000000
runs=3
syncs="full normal"
batch=""
keep=0
build=1
dataset=""
noindex=0
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --sync) syncs="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        --no-index) noindex=1; shift ;;
        --dataset) dataset="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        [0-9]*) n="$1"; shift ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [ ! -x /usr/bin/time ]; then
    echo "run.sh: installing GNU time (apt-get install -y time) for peak-memory figures" >&2
    apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi
command -v python3 >/dev/null || { echo "run.sh: python3 is required (for gen.py)" >&2; exit 1; }

target="${CARGO_TARGET_DIR:-$root/target}"
bin="${MEDTWIN_BIN:-$target/release/medtwin}"
if [ "$build" = 1 ] && [ -z "${MEDTWIN_BIN:-}" ]; then
    (cd "$root" && cargo build --release -p medtwin-cli)
fi
[ -x "$bin" ] || { echo "run.sh: $bin not found (build with: cargo build --release -p medtwin-cli)" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/medtwin-bench-ingest.XXXXXX")"
cleanup() { if [ "$keep" = 1 ]; then echo "run.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi; }
trap cleanup EXIT

ndjson="$tmp/ndjson"
if [ -n "$dataset" ]; then
    ndjson="$dataset"
fi
if [ -n "$dataset" ] && [ "$(cat "$dataset/.generated" 2>/dev/null)" = "$n" ]; then
    echo "== reusing the $n generated resources in $dataset"
else
    echo "== generating $n resources (bench/ingest/gen.py, fixed seed)"
    rm -rf "$ndjson"
    python3 "$root/bench/ingest/gen.py" "$n" "$ndjson"
    echo "$n" >"$ndjson/.generated"
fi
input_bytes=$(du -sb --exclude=.generated "$ndjson" | cut -f1)

results="$tmp/results.tsv"
printf 'sync\tphase\trun\tresources\twall_s\tpeak_rss_kb\tcpu_pct\tdb_bytes\tload1\treported_rate\tcpu_s\n' >"$results"

# Runs one import under time -v and appends a row to the results.
one() {
    local sync="$1" phase="$2" run="$3" db="$4"
    local load out err
    load=$(cut -d' ' -f1 /proc/loadavg)
    out="$tmp/$sync-$phase-$run.out"
    err="$tmp/$sync-$phase-$run.time"
    local extra=()
    [ -n "$batch" ] && extra=(--batch "$batch")
    if ! MEDTWIN_BENCH_NO_INDEX="$noindex" /usr/bin/time -v "$bin" import --data "$db" --sync "$sync" "${extra[@]}" "$ndjson" >"$out" 2>"$err"; then
        echo "run.sh: import failed ($sync, $phase, run $run):" >&2
        tail -20 "$err" >&2
        exit 1
    fi
    python3 - "$out" "$err" "$db" "$sync" "$phase" "$run" "$load" >>"$results" <<'EOF'
import re, subprocess, sys
out, err, db, sync, phase, run, load = sys.argv[1:]
text = open(out, encoding="utf-8").read()
m = re.search(r"imported (\d+) resources .*\((\d+) resources/s\); (\d+) rejected", text)
if not m:
    sys.exit(f"run.sh: no summary line in {out}:\n{text}")
total, rate, rejected = int(m.group(1)), int(m.group(2)), int(m.group(3))
if rejected:
    sys.exit(f"run.sh: {rejected} resources were rejected; see {out}")
tv = open(err, encoding="utf-8").read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", tv).group(1)
secs = 0.0
for part in wall.split(":"):
    secs = secs * 60 + float(part)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv).group(1))
cpu = re.search(r"Percent of CPU this job got: (\d+)%", tv).group(1)
cpu_s = float(re.search(r"User time \(seconds\): (\S+)", tv).group(1)) + float(re.search(r"System time \(seconds\): (\S+)", tv).group(1))
size = int(subprocess.run(["du", "-sb", db], capture_output=True, text=True, check=True).stdout.split()[0])
print(f"{sync}\t{phase}\t{run}\t{total}\t{secs:.2f}\t{rss}\t{cpu}\t{size}\t{load}\t{rate}\t{cpu_s:.2f}")
EOF
    tail -1 "$results" | awk -F'\t' '{printf "   %-6s %-9s run %s: %s resources in %s s wall (%.0f/s), peak RSS %.0f MiB, CPU %s s (%s%%), db %.0f MB, load %s\n", $1, $2, $3, $4, $5, $4/$5, $6/1024, $11, $7, $8/1e6, $9}'
}

for sync in $syncs; do
    for run in $(seq 1 "$runs"); do
        db="$tmp/db-$sync-$run"
        rm -rf "$db"
        echo "== sync=$sync run $run/$runs"
        if [ "$noindex" = 1 ]; then
            one "$sync" no-index "$run" "$db"
        else
            one "$sync" first "$run" "$db"
            one "$sync" unchanged "$run" "$db"
        fi
        [ "$keep" = 1 ] || rm -rf "$db"
    done
done

echo
python3 - "$results" "$n" "$input_bytes" "$runs" <<'EOF'
import csv, statistics, sys
path, n, input_bytes, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = list(csv.DictReader(open(path), delimiter="\t"))
print(f"medtwin import benchmark: {n} resources, input {input_bytes / 1e6:.0f} MB NDJSON "
      f"({input_bytes / n:.0f} B/resource), median of {runs} run(s)")
print(f"{'sync':<7}{'pass':<11}{'wall s':>8}{'res/s':>10}{'CPU s':>8}{'res/CPU-s':>11}{'peak RSS MiB':>14}{'DB MB':>8}{'DB B/res':>10}{'load1':>7}")
groups = {}
for r in rows:
    groups.setdefault((r["sync"], r["phase"]), []).append(r)
for (sync, phase), rs in groups.items():
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    wall = med("wall_s")
    res = float(rs[0]["resources"])
    cpu = med("cpu_s")
    print(f"{sync:<7}{phase:<11}{wall:>8.1f}{res / wall:>10.0f}{cpu:>8.1f}{res / cpu:>11.0f}{med('peak_rss_kb') / 1024:>14.0f}"
          f"{med('db_bytes') / 1e6:>8.0f}{med('db_bytes') / res:>10.0f}{med('load1'):>7.2f}")
print("res/s = resources / wall time of the whole process (open, import, final checkpoint);")
print("CPU s = user + system time of the import (all threads); res/CPU-s does not depend on what else runs.")
print("targets (2 cores): first import >= 15000 res/s with all search indexes, >= 30000 res/s without (--no-index),")
print("peak RSS < 500 MiB at any input size.")
EOF
