#!/usr/bin/env python3
"""Search benchmark through the HTTP API (called by run.sh with a running server).

Usage: over_http.py BASE_URL PATIENTS OBS [--duration 10s] [--server-pid PID]

1. Sanity checks: the searches below answer 200 with searchset Bundles, and a
   patient's Observation count is OBS, so that a benchmark of error responses
   cannot pass unnoticed.
2. Latency and throughput at concurrency 8 (and 1) with oha, each scenario
   over a fixed list of URLs for different patients, after a 2 s warm-up.
3. `Observation?code=X&_summary=count`: median of 5, matches counted per second.
4. Paging through every match of one code with `_count=1000`, following the
   Bundle's `next` links on one keep-alive connection: resources/s downloaded
   and the first, middle and last page times (cursor paging keeps them flat).
"""
import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("base")
ap.add_argument("patients", type=int)
ap.add_argument("obs", type=int)
ap.add_argument("--duration", default="10s")
ap.add_argument("--server-pid", type=int)
a = ap.parse_args()

base = urllib.parse.urlsplit(a.base)
conn = http.client.HTTPConnection(base.hostname, base.port, timeout=600)


def get(path_and_query):
    """GET on the keep-alive connection; returns (status, body bytes, seconds)."""
    t = time.perf_counter()
    conn.request("GET", base.path + path_and_query, headers={"Accept": "application/fhir+json"})
    r = conn.getresponse()
    body = r.read()
    return r.status, body, time.perf_counter() - t


def q(s):
    """Percent-encodes the query part of `path?query` (the `|` of tokens, kana...)."""
    path, _, query = s.partition("?")
    return path + "?" + urllib.parse.quote(query, safe="=&/:,")


LOINC = "http://loinc.org|2345-7"
IDENT = "urn:oid:1.2.392.100495.20.3.51.1"
scenarios = [
    ("patient-centric", "Observation?subject=Patient/p{i}&code=" + LOINC + "&date=ge2020"),
    ("_include", "Observation?subject=Patient/p{i}&_include=Observation:subject"),
    ("chain", "Observation?subject:Patient.identifier=" + IDENT + "|{i:08}&code=2345-7"),
    ("string+token", "Patient?family=yamada{f}&gender=male"),
]

# 1. Sanity.
status, body, _ = get(q(f"/Observation?subject=Patient/p1&_summary=count"))
doc = json.loads(body)
if status != 200 or doc.get("total") != a.obs:
    sys.exit(f"over_http.py: Observation?subject=Patient/p1&_summary=count gave {status} total={doc.get('total')}, expected {a.obs}")
for name, tmpl in scenarios:
    status, body, _ = get("/" + q(tmpl.format(i=1, f=1)))
    doc = json.loads(body)
    if status != 200 or doc.get("resourceType") != "Bundle" or doc.get("type") != "searchset":
        sys.exit(f"over_http.py: {name}: {status} {body[:300]!r}")
    if name == "_include" and not any(e.get("search", {}).get("mode") == "include" for e in doc.get("entry", [])):
        sys.exit("over_http.py: _include returned no included Patient")
print("   sanity: every scenario answers 200 with a searchset; Patient/p1 has", a.obs, "Observations")


def server_cpu():
    if not a.server_pid:
        return 0.0
    f = open(f"/proc/{a.server_pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


# 2. Latency with oha.
rng = random.Random(7)
tmp = tempfile.mkdtemp(prefix="medtwin-search-urls.")
rows = []
for name, tmpl in scenarios:
    path = os.path.join(tmp, name + ".txt")
    with open(path, "w") as f:
        for _ in range(20000):
            i = rng.randrange(a.patients)
            f.write(a.base + "/" + q(tmpl.format(i=i, f=i % 1000)) + "\n")
    for conc in (1, 8):
        cmd = ["oha", "--no-tui", "--output-format", "json", "-c", str(conc), "--urls-from-file", path]
        subprocess.run(cmd + ["-z", "2s"], check=True, capture_output=True)  # warm-up
        load = open("/proc/loadavg").read().split()[0]
        c0 = server_cpu()
        out = subprocess.run(cmd + ["-z", a.duration], check=True, capture_output=True).stdout
        cpu = server_cpu() - c0
        d = json.loads(out)
        codes = {int(k): v for k, v in d.get("statusCodeDistribution", {}).items()}
        ok = sum(v for k, v in codes.items() if 200 <= k < 300)
        errors = {k: v for k, v in d.get("errorDistribution", {}).items() if k != "aborted due to deadline"}
        bad = sum(v for k, v in codes.items() if not 200 <= k < 300) + sum(errors.values())
        if ok == 0 or bad:
            sys.exit(f"over_http.py: {name} c={conc}: {ok} ok, {bad} bad: {codes} {errors}")
        lat = d["latencyPercentiles"]
        rows.append((name, conc, d["summary"]["requestsPerSec"], lat["p50"] * 1e3, lat["p99"] * 1e3, 1e6 * cpu / ok, load))
        print(f"   {name:<16} c={conc}: {rows[-1][2]:7.0f} searches/s  p50 {rows[-1][3]:6.2f} ms  p99 {rows[-1][4]:6.2f} ms"
              f"  server CPU {rows[-1][5]:5.0f} us/search  load {load}", flush=True)

# 3. Counting.
times = []
for _ in range(6):
    status, body, dt = get("/" + q(f"Observation?code={LOINC}&_summary=count"))
    if status != 200:
        sys.exit(f"over_http.py: count: {status} {body[:300]!r}")
    times.append(dt)
total = json.loads(body)["total"]
med = statistics.median(times[1:])
print(f"   Observation?code=X&_summary=count: {total} matches, median {med * 1e3:.1f} ms = {total / med / 1e6:.2f} M counted/s")

# 4. Paging by `next` links.
nxt = re.compile(rb'"relation"\s*:\s*"next"\s*,\s*"url"\s*:\s*"([^"]+)"')
url = "/" + q(f"Observation?code={LOINC}&_count=1000")
pages, seen, nbytes = [], 0, 0
t0 = time.perf_counter()
first = True
while url:
    status, body, dt = get(url)
    if status != 200:
        sys.exit(f"over_http.py: paging: {status} {body[:300]!r}")
    pages.append(dt)
    nbytes += len(body)
    if first:  # the cheap parsing below is checked against a full parse once
        doc = json.loads(body)
        assert len(doc["entry"]) == body.count(b'"fullUrl"'), "entry count"
        links = [l["url"] for l in doc.get("link", []) if l["relation"] == "next"]
        m = nxt.search(body)
        assert (m.group(1).decode() if m else None) == (links[0] if links else None), "next link"
        first = False
    seen += body.count(b'"fullUrl"')
    m = nxt.search(body)
    url = None
    if m:
        u = urllib.parse.urlsplit(m.group(1).decode())
        url = u.path[len(base.path):] + "?" + u.query
wall = time.perf_counter() - t0
if seen != total:
    sys.exit(f"over_http.py: paging returned {seen} resources, the count was {total}")
mid = pages[len(pages) // 2]
print(f"   paging Observation?code=X&_count=1000: {seen} resources in {len(pages)} pages, {seen / wall:,.0f} resources/s"
      f" ({nbytes / wall / 1e6:.0f} MB/s); page time first {pages[0] * 1e3:.1f} ms (with the accurate total, the default), middle {mid * 1e3:.1f} ms,"
      f" last {pages[-1] * 1e3:.1f} ms, median {statistics.median(pages) * 1e3:.1f} ms, max {max(pages) * 1e3:.1f} ms")
print("targets (issue #4, 2 cores): count >= 2 M/s; patient-centric, _include and chain p50 < 5 ms and p99 < 20 ms at c=8;"
      " paging >= 50,000 resources/s. oha and this script run on the same 2 cores as the server.")
