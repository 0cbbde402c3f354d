"""Independent flow matrix for the synth cross-check (pandas).

Reads a `medtwin synth` FHIR folder and prints, as JSON, the inpatient flow
matrix between 構想区域: [[residence, care, distinct patients, encounters], ...].
Residence: the patient's home address; place: the municipality-code extension
mapped with the 三重県 table, else the 構想区域-code extension. Written without
medtwin's code so that it checks it.
"""
import json
import sys

import pandas as pd

MUNI = "http://medtwin.jp/fhir/StructureDefinition/municipality-code"
AREA = "http://medtwin.jp/fhir/StructureDefinition/medical-area-code"


def area_of(address, muni_to_area):
    ext = {e.get("url"): e.get("valueCode") for e in address.get("extension", [])}
    code = ext.get(MUNI)
    if code and code[:5] in muni_to_area:
        return muni_to_area[code[:5]]
    return ext.get(AREA)


def main():
    fhir, table = sys.argv[1], sys.argv[2]
    munis = pd.read_csv(table, dtype=str)
    muni_to_area = dict(zip(munis["muni_code"].str[:5], munis["area_code"]))
    res = {}
    with open(f"{fhir}/Patient.ndjson", encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            homes = [a for a in p.get("address", []) if a.get("use", "home") == "home"]
            res[p["id"]] = area_of(homes[0], muni_to_area) if homes else None
    fac = {}
    with open(f"{fhir}/Organization.ndjson", encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            addr = o.get("address", [])
            fac[o["id"]] = area_of(addr[0], muni_to_area) if addr else None
    rows = []
    with open(f"{fhir}/Encounter.ndjson", encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            if e.get("class", {}).get("code") != "IMP":
                continue
            pid = e["subject"]["reference"].split("/", 1)[1]
            org = e["serviceProvider"]["reference"].split("/", 1)[1]
            rows.append((pid, res.get(pid), fac.get(org)))
    df = pd.DataFrame(rows, columns=["patient", "residence", "care"]).dropna()
    g = df.groupby(["residence", "care"]).agg(patients=("patient", "nunique"), encounters=("patient", "size")).reset_index()
    out = [[r.residence, r.care, int(r.patients), int(r.encounters)] for r in g.itertuples()]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
