#!/usr/bin/env python3
"""Writes synthetic JP Core-shaped NDJSON for the view benchmark.

Usage: gen.py OUT_DIR [PATIENTS]  (default 100000 patients, 5 lab results each)

The shape follows crates/synth's FHIR writer (JP_Patient with kanji/kana
names, municipality-code Address extension, JP_Observation_LabResult with
JLAC10 codes and UCUM quantities). Deterministic (fixed seed).
"""
import json, os, random, sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
os.makedirs(out, exist_ok=True)
rnd = random.Random(7)
FAM = [("山田", "ヤマダ"), ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ")]
GIV = [("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ"), ("美咲", "ミサキ"), ("健", "ケン"), ("陽菜", "ヒナ")]
MUNI = [("131016", "1301", "東京都", "千代田区"), ("271004", "2701", "大阪府", "大阪市"), ("011002", "0104", "北海道", "札幌市"), ("401005", "4009", "福岡県", "北九州市")]
LABS = [("3F015000002327101", "HbA1c", "%", "%", 5.8, 1.0), ("3D010000001926101", "グルコース", "mg/dL", "mg/dL", 105, 25),
        ("3C015000002327101", "クレアチニン", "mg/dL", "mg/dL", 0.9, 0.3), ("3B035000002327201", "AST", "U/L", "U/L", 25, 10),
        ("3B045000002327201", "ALT", "U/L", "U/L", 22, 12)]
REP = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
with open(os.path.join(out, "Patient.ndjson"), "w") as fp, open(os.path.join(out, "Observation.ndjson"), "w") as fo:
    for i in range(n):
        pid = f"P{i:07d}"
        f, g = rnd.choice(FAM), rnd.choice(GIV)
        m = rnd.choice(MUNI)
        names = [
            {"extension": [{"url": REP, "valueCode": "IDE"}], "use": "official", "text": f"{f[0]} {g[0]}", "family": f[0], "given": [g[0]]},
            {"extension": [{"url": REP, "valueCode": "SYL"}], "use": "official", "text": f"{f[1]} {g[1]}", "family": f[1], "given": [g[1]]},
        ]
        if rnd.random() < 0.2:
            names.append({"use": "old", "family": rnd.choice(FAM)[0], "given": [g[0]]})
        ids = [{"system": "http://medtwin.jp/fhir/NamingSystem/synthetic-person-id", "value": pid}]
        for k in range(rnd.randint(1, 3)):
            ids.append({"system": f"urn:oid:1.2.392.100495.20.3.51.11310000{k:03d}", "value": f"{i:08d}"})
        pt = {"resourceType": "Patient", "id": pid, "meta": {"profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"]},
              "identifier": ids, "active": True, "name": names,
              "telecom": [{"system": "phone", "value": f"03-{rnd.randint(1000, 9999)}-{rnd.randint(1000, 9999)}", "use": "home"}],
              "gender": rnd.choice(["male", "female"]), "birthDate": f"{rnd.randint(1930, 2020)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
              "address": [{"extension": [{"url": "http://medtwin.jp/fhir/StructureDefinition/municipality-code", "valueCode": m[0]},
                                         {"url": "http://medtwin.jp/fhir/StructureDefinition/medical-area-code", "valueCode": m[1]}],
                           "use": "home", "text": m[2] + m[3], "city": m[3], "state": m[2], "country": "JP"}],
              "deceasedBoolean": False}
        fp.write(json.dumps(pt, ensure_ascii=False, separators=(",", ":")) + "\n")
        for k, (code, name, unit, ucum, mu, sd) in enumerate(LABS):
            v = round(max(0.1, rnd.gauss(mu, sd)), 1)
            ob = {"resourceType": "Observation", "id": f"obs-{pid}-{k}", "meta": {"profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Observation_LabResult"]},
                  "status": "final",
                  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory", "display": "Laboratory"}]}],
                  "code": {"coding": [{"system": "http://medis.or.jp/CodeSystem/master-JLAC10-17digits", "code": code, "display": name}], "text": name},
                  "subject": {"reference": f"Patient/{pid}"}, "encounter": {"reference": f"Encounter/enc-{pid}-1"},
                  "effectiveDateTime": f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T09:30:00+09:00",
                  "valueQuantity": {"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": ucum},
                  "referenceRange": [{"low": {"value": mu - sd}, "high": {"value": mu + sd}}]}
            fo.write(json.dumps(ob, ensure_ascii=False, separators=(",", ":")) + "\n")
print(f"wrote {n} patients and {n * len(LABS)} observations to {out}")
