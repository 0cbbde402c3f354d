#!/usr/bin/env python3
"""Request bodies for the HTTP benchmark, made with the import benchmark's generator.

Writes into OUT_DIR:
  patient.json      one JP Core Patient without an id (for POST /fhir/Patient)
  transaction.json  a transaction Bundle of exactly 100 POST entries: one Patient
                    and its Encounters, Conditions, lab Observations and
                    MedicationRequests, linked by urn:uuid full URLs (the server
                    assigns ids and rewrites the references)

Usage: bodies.py OUT_DIR [--seed S]
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ingest"))
import gen  # noqa: E402  (bench/ingest/gen.py)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    g = gen.Gen(a.seed, "uuid")

    patient, _fac = g.patient("x", 1)
    del patient["id"]
    with open(os.path.join(a.out, "patient.json"), "w", encoding="utf-8") as f:
        json.dump(patient, f, ensure_ascii=False)

    # Resources of several people until there are 100, references pointing at
    # urn:uuid full URLs instead of Type/id.
    entries = []
    seq = 0
    while len(entries) < 100:
        seq += 1
        for _t, res in g.person(seq, False):
            if len(entries) == 100:
                break
            entries.append(res)
    urn = {f"{r['resourceType']}/{r['id']}": f"urn:uuid:{r['id']}" for r in entries}
    bundle_entries = []
    for r in entries:
        full = urn[f"{r['resourceType']}/{r['id']}"]
        for k in ("subject", "encounter"):
            ref = r.get(k, {}).get("reference")
            if ref in urn:
                r[k] = {"reference": urn[ref]}
        del r["id"]
        bundle_entries.append({"fullUrl": full, "resource": r,
                               "request": {"method": "POST", "url": r["resourceType"]}})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": bundle_entries}
    with open(os.path.join(a.out, "transaction.json"), "w", encoding="utf-8") as f:
        json.dump(bundle, f, ensure_ascii=False)
    kinds = {}
    for r in entries:
        kinds[r["resourceType"]] = kinds.get(r["resourceType"], 0) + 1
    print("bodies.py: transaction of 100 entries: " + ", ".join(f"{k} {v}" for k, v in kinds.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
