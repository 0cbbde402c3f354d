#!/usr/bin/env python3
"""Splits a `perf record --call-graph dwarf` profile of `medtwin import` into stages.

Reads `perf script -F tid,ip,sym` output on standard input (one block per
sample: a "TID" line, then the stack from leaf to root) and prints, per thread
role (reader = the main thread reading lines, parse workers = rayon threads,
writer = the thread that runs store transactions) and per stage, the share of
CPU samples. A sample belongs to the first stage in STAGES whose marker
appears anywhere in its stack, so allocator and memcpy time is charged to the
stage that caused it.

Usage (what bench/ingest/profile.sh does):
  perf record -F 499 --call-graph dwarf,16384 -o perf.data -- medtwin import ...
  perf script -i perf.data -F tid,ip,sym | python3 profile_stages.py
"""

import collections
import sys

# (stage, markers[, exclusions]): the first stage with a marker in the stack
# (and none of its exclusions) wins.
STAGES = [
    ("startup: definition tables", ["fhir::definitions::r4", "Definitions::new", "OnceLock"]),
    ("build deferred value indexes (sorted, end of import)", ["create_value_indexes"]),
    ("validate (fhir::validate)", ["fhir::validate"]),
    ("search index rows (store::index::extract)", ["store::index::extract"]),
    ("prepare: content hash, JSON text (store::prepare)", ["store::prepare::"]),
    ("unchanged check: content hash", ["content_hash"]),
    ("search index rows (identifier)", ["SqliteTx::index"]),
    ("SQLite (insert/update/lookup/commit)", ["sqlite3", "rusqlite::"]),
    ("serialize body (serde_json::to_string)", ["serde_json::ser::", "Serialize for serde_json::value::Value"]),
    ("JSON parse (serde_json::from_str)", ["serde_json::de::", "Deserialize for serde_json::value::Value", "ValueVisitor"]),
    ("clone Value for the store call", ["Clone>::clone", "clone_from"], ["SqliteTx"]),
    ("drop Values", ["drop_in_place<serde_json::value::Value>", "drop_in_place<medtwin::cmd::import::Item>",
                     "drop_in_place<alloc::vec::Vec<medtwin::cmd::import::Item>>"]),
    ("stamp id/meta, version bookkeeping (SqliteTx::write)", ["sqlite::tx::stamp", "Instant::to_fhir", "SqliteTx::write",
                                                             "StoreTx>::put", "TypeIds::id"]),
    ("read lines + UTF-8 check", ["read_until", "from_utf8", "BufRead", "std::io::"]),
    ("rayon scheduling / idle spin", ["rayon_core::", "rayon::"]),
    ("progress bar", ["indicatif"]),
]


def samples(stream):
    tid, frames = None, []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if tid is not None:
                yield tid, frames
            tid, frames = None, []
            continue
        if tid is None and line.strip().isdigit():
            # The sample header: the thread id, right-aligned.
            tid = line.strip()
            continue
        parts = line.strip().split(None, 1)
        frames.append(parts[1] if len(parts) > 1 else parts[0])
    if tid is not None:
        yield tid, frames


def classify(frames):
    for stage, markers, *exclusions in STAGES:
        if exclusions and any(x in f for f in frames for x in exclusions[0]):
            continue
        for f in frames:
            if any(m in f for m in markers):
                return stage
    if frames and all(f.startswith("[unknown]") or f.startswith("0x") for f in frames[:1]):
        return "kernel / unknown"
    return "other"


def main():
    per_role = collections.defaultdict(collections.Counter)
    roles = {}
    tids = collections.Counter()
    data = list(samples(sys.stdin))
    if not data:
        sys.exit("profile_stages.py: no samples on standard input")
    main_tid = min(int(t) for t, _ in data)
    for tid, frames in data:
        tids[tid] += 1
        text = " ".join(frames)
        if "import::writer" in text:
            roles[tid] = "writer"
        elif int(tid) == main_tid:
            roles.setdefault(tid, "reader (main)")
        elif "rayon" in text:
            roles.setdefault(tid, "parse workers")
    total = len(data)
    for tid, frames in data:
        role = roles.get(tid, "other threads")
        per_role[role][classify(frames)] += 1
    print(f"{total} CPU samples")
    overall = collections.Counter()
    for role in sorted(per_role, key=lambda r: -sum(per_role[r].values())):
        c = per_role[role]
        n = sum(c.values())
        print(f"\n{role}: {100 * n / total:.1f}% of CPU samples")
        for stage, k in c.most_common():
            overall[stage] += k
            if 100 * k / total >= 0.3:
                print(f"   {100 * k / total:5.1f}%  {stage}")
    print("\nall threads, by stage:")
    for stage, k in overall.most_common():
        print(f"   {100 * k / total:5.1f}%  {stage}")


if __name__ == "__main__":
    main()
