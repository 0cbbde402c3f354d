#!/usr/bin/env python3
"""Deterministic generator of JP Core-like FHIR R4 NDJSON for the import benchmark.

Writes exactly N resources, one NDJSON file per type (Patient, Encounter,
Condition, Observation, MedicationRequest), into OUT_DIR. About 22 resources
per patient: 1 Patient, 1-5 Encounters, ~0.7 Conditions, ~4 lab Observations
and ~1.3 MedicationRequests per Encounter. Patients carry kanji (IDE) and kana
(SYL) names, JP_Patient identifiers and Japanese addresses; lab Observations
are JLAC10-coded with UCUM units and reference ranges; MedicationRequests are
YJ-coded with JAMI-style dosage text; Conditions carry ICD-10 and the claims
disease-master code. Every child references its Patient and Encounter, which
are always written (parents come before children in generation order, so the
cut at exactly N never leaves a dangling reference).

The code tables mirror crates/synth/src/codes.rs (JLAC10 analyte codes from the
JP-CLINS core list; YJ brand digits and disease-master codes are illustrative).
All people are invented. The output depends only on N and --seed.

This is a stand-in until the synth issue's generator can write a data set of
a given size; it is only meant to be fast and realistic in shape and size.

Usage: gen.py N OUT_DIR [--seed S] [--ids uuid|seq] [--only-patients]
"""

import argparse
import json
import os
import random
import sys
import time

JP = "http://jpfhir.jp/fhir/core/StructureDefinition/"
JLAC10 = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits"
YJ = "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code"
ICD10 = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full"
DISEASE = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/masterB-disease"
UCUM = "http://unitsofmeasure.org"
PATIENT_ID = "urn:oid:1.2.392.100495.20.3.51.1"
EN_REP = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
USAGE = "urn:oid:1.2.392.200250.2.2.20.20"  # JAMI 用法コード
RX_NO = "urn:oid:1.2.392.100495.20.3.81"  # 処方箋内部の剤グループ (RP番号)
DEPT = "http://jami.jp/SS-MIX2/CodeSystem/ClinicalDepartment"

FAMILY = [
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
    ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"),
    ("井上", "イノウエ"), ("木村", "キムラ"), ("林", "ハヤシ"), ("斎藤", "サイトウ"), ("清水", "シミズ"),
    ("山崎", "ヤマザキ"), ("森", "モリ"), ("池田", "イケダ"), ("橋本", "ハシモト"), ("阿部", "アベ"),
    ("石川", "イシカワ"), ("前田", "マエダ"), ("藤田", "フジタ"), ("岡田", "オカダ"), ("後藤", "ゴトウ"),
]
GIVEN_M = [
    ("太郎", "タロウ"), ("健一", "ケンイチ"), ("翔太", "ショウタ"), ("大輔", "ダイスケ"), ("誠", "マコト"),
    ("浩", "ヒロシ"), ("隆", "タカシ"), ("蓮", "レン"), ("悠真", "ユウマ"), ("一郎", "イチロウ"),
    ("和夫", "カズオ"), ("拓也", "タクヤ"), ("直樹", "ナオキ"), ("修", "オサム"), ("茂", "シゲル"),
]
GIVEN_F = [
    ("花子", "ハナコ"), ("陽子", "ヨウコ"), ("美咲", "ミサキ"), ("恵子", "ケイコ"), ("さくら", "サクラ"),
    ("由美", "ユミ"), ("結衣", "ユイ"), ("久美子", "クミコ"), ("裕子", "ユウコ"), ("陽菜", "ヒナ"),
    ("幸子", "サチコ"), ("真由美", "マユミ"), ("葵", "アオイ"), ("明美", "アケミ"), ("京子", "キョウコ"),
]
# (prefecture, city, postal prefix)
PLACES = [
    ("東京都", "新宿区", "160"), ("東京都", "世田谷区", "154"), ("大阪府", "大阪市北区", "530"),
    ("神奈川県", "横浜市港北区", "222"), ("愛知県", "名古屋市中区", "460"), ("北海道", "札幌市中央区", "060"),
    ("福岡県", "福岡市博多区", "812"), ("京都府", "京都市左京区", "606"), ("宮城県", "仙台市青葉区", "980"),
    ("広島県", "広島市中区", "730"), ("埼玉県", "さいたま市浦和区", "330"), ("千葉県", "千葉市中央区", "260"),
]
STREETS = ["本町", "中央", "緑町", "栄町", "旭町", "桜木町", "東町", "南町", "西町", "北町"]
FACILITIES = ["1310000011", "2710000022", "1410000033", "2310000044", "0110000055"]
# (dept code, name)
DEPTS = [("01", "内科"), ("08", "循環器内科"), ("30", "外科"), ("05", "消化器内科"), ("13", "整形外科")]

# key, JLAC10, name, UCUM, displayed unit, low, high, decimals (crates/synth/src/codes.rs)
LABS = [
    ("wbc", "2A990000001930952", "白血球数", "10*3/uL", "10^3/μL", 3.3, 8.6, 1),
    ("hb", "2A030000001930101", "ヘモグロビン", "g/dL", "g/dL", 11.6, 16.8, 1),
    ("plt", "2A050000001930952", "血小板数", "10*4/uL", "10^4/μL", 15.8, 34.8, 1),
    ("crp", "5C070000002306101", "CRP", "mg/dL", "mg/dL", 0.0, 0.14, 2),
    ("ast", "3B035000002327201", "AST", "U/L", "U/L", 13.0, 30.0, 0),
    ("alt", "3B045000002327201", "ALT", "U/L", "U/L", 7.0, 30.0, 0),
    ("ggt", "3B090000002327101", "γ-GT", "U/L", "U/L", 9.0, 50.0, 0),
    ("alb", "3A015000002327101", "アルブミン", "g/dL", "g/dL", 4.1, 5.1, 1),
    ("bun", "3C025000002327101", "尿素窒素", "mg/dL", "mg/dL", 8.0, 20.0, 1),
    ("cre", "3C015000002327101", "クレアチニン", "mg/dL", "mg/dL", 0.46, 1.07, 2),
    ("egfr", "8A065000002391901", "eGFR", "mL/min/{1.73_m2}", "mL/min/1.73m2", 60.0, 120.0, 1),
    ("na", "3H010000002327101", "ナトリウム", "mmol/L", "mmol/L", 138.0, 145.0, 0),
    ("k", "3H015000002327101", "カリウム", "mmol/L", "mmol/L", 3.6, 4.8, 1),
    ("glu", "3D010000001926101", "血糖", "mg/dL", "mg/dL", 73.0, 109.0, 0),
    ("hba1c", "3D046000001906202", "HbA1c(NGSP)", "%", "%", 4.9, 6.0, 1),
    ("ldl", "3F077000002327101", "LDLコレステロール", "mg/dL", "mg/dL", 65.0, 139.0, 0),
    ("hdl", "3F070000002327101", "HDLコレステロール", "mg/dL", "mg/dL", 40.0, 90.0, 0),
    ("tg", "3F015000002327101", "中性脂肪", "mg/dL", "mg/dL", 40.0, 149.0, 0),
    ("bnp", "4Q020000002227101", "BNP", "pg/mL", "pg/mL", 0.0, 18.4, 1),
]
# YJ, name, dose per time, unit, usage text, times per day (crates/synth/src/codes.rs)
DRUGS = [
    ("2171022F2020", "アムロジピン錠5mg", 1, "錠", "1日1回朝食後", 1),
    ("2149040F3020", "カンデサルタン錠8mg", 1, "錠", "1日1回朝食後", 1),
    ("3962002F1020", "メトホルミン塩酸塩錠250mg", 2, "錠", "1日2回朝夕食後", 2),
    ("3969010F2020", "シタグリプチン錠50mg", 1, "錠", "1日1回朝食後", 1),
    ("2189015F2020", "アトルバスタチン錠10mg", 1, "錠", "1日1回夕食後", 1),
    ("2189017F1020", "ロスバスタチン錠2.5mg", 1, "錠", "1日1回夕食後", 1),
    ("3399007H1021", "バイアスピリン錠100mg", 1, "錠", "1日1回朝食後", 1),
    ("2329023F2020", "ランソプラゾールOD錠15mg", 1, "錠", "1日1回朝食後", 1),
    ("2139005F1020", "フロセミド錠20mg", 1, "錠", "1日1回朝食後", 1),
    ("2149032F3020", "カルベジロール錠2.5mg", 1, "錠", "1日2回朝夕食後", 2),
    ("1141007F1020", "アセトアミノフェン錠200mg", 1, "錠", "1日3回毎食後", 3),
    ("2233002F2020", "カルボシステイン錠500mg", 1, "錠", "1日3回毎食後", 3),
    ("6131001M1020", "アモキシシリンカプセル250mg", 1, "カプセル", "1日3回毎食後", 3),
]
# ICD-10, claims disease-master code (illustrative), name
CONDITIONS = [
    ("I10", "8833421", "本態性高血圧症"), ("E119", "8846464", "2型糖尿病"), ("E785", "8843645", "脂質異常症"),
    ("J069", "8842169", "急性上気道炎"), ("K219", "8834412", "逆流性食道炎"), ("I500", "4289003", "うっ血性心不全"),
    ("I200", "4131007", "不安定狭心症"), ("M545", "7244004", "腰痛症"), ("J189", "4861007", "肺炎"),
    ("N184", "5853004", "慢性腎臓病ステージ4"),
]


def profile(name):
    return {"profile": [JP + name]}


def coding(system, code, display):
    return {"system": system, "code": code, "display": display}


_DATES = {}


def date_str(day):
    """ISO date of a day number counted from 1970-01-01 (memoised: there are few distinct days)."""
    s = _DATES.get(day)
    if s is None:
        s = _DATES[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
    return s


class Gen:
    def __init__(self, seed, ids):
        self.rng = random.Random(seed)
        self.ids = ids
        self.counter = 0

    def new_id(self, prefix):
        self.counter += 1
        if self.ids == "seq":
            return f"{prefix}-{self.counter:08d}"
        # A version-4 UUID drawn from the seeded generator (uuid.uuid4 is not seedable).
        h = f"{self.rng.getrandbits(122):031x}"
        return f"{h[:8]}-{h[8:12]}-4{h[12:15]}-{'89ab'[int(h[15], 16) & 3]}{h[16:19]}-{h[19:31]}"

    def patient(self, pid, seq):
        r = self.rng
        male = r.random() < 0.49
        fam = r.choice(FAMILY)
        giv = r.choice(GIVEN_M if male else GIVEN_F)
        pref, city, postal = r.choice(PLACES)
        street = f"{r.choice(STREETS)}{r.randint(1, 9)}-{r.randint(1, 30)}-{r.randint(1, 20)}"
        fac = r.choice(FACILITIES)
        birth = r.randint(-25000, 19000)  # 1901..2022
        local_no = f"{seq:010d}"
        return {
            "resourceType": "Patient",
            "id": pid,
            "meta": profile("JP_Patient"),
            "identifier": [{"system": PATIENT_ID + fac, "value": local_no}],
            "active": True,
            "name": [
                {"extension": [{"url": EN_REP, "valueCode": "IDE"}], "use": "official",
                 "text": f"{fam[0]} {giv[0]}", "family": fam[0], "given": [giv[0]]},
                {"extension": [{"url": EN_REP, "valueCode": "SYL"}], "use": "official",
                 "text": f"{fam[1]} {giv[1]}", "family": fam[1], "given": [giv[1]]},
            ],
            "telecom": [{"system": "phone", "value": f"0{r.randint(3, 99)}-{r.randint(100, 9999)}-{r.randint(1000, 9999)}", "use": "home"}],
            "gender": "male" if male else "female",
            "birthDate": date_str(birth),
            "address": [{"use": "home", "text": f"{pref}{city}{street}", "line": [street], "city": city,
                         "state": pref, "postalCode": f"{postal}-{r.randint(0, 9999):04d}", "country": "JP"}],
        }, fac

    def encounter(self, eid, pref, day, fac):
        r = self.rng
        inpatient = r.random() < 0.1
        dept = r.choice(DEPTS)
        start = date_str(day)
        end = date_str(day + (r.randint(2, 20) if inpatient else 0))
        cls = ("IMP", "inpatient encounter") if inpatient else ("AMB", "ambulatory")
        return {
            "resourceType": "Encounter",
            "id": eid,
            "meta": profile("JP_Encounter"),
            "identifier": [{"system": "http://medtwin.jp/fhir/NamingSystem/encounter-id/" + fac, "value": eid}],
            "status": "finished",
            "class": {"system": ACT, "code": cls[0], "display": cls[1]},
            "serviceType": {"coding": [coding(DEPT, dept[0], dept[1])], "text": dept[1]},
            "subject": pref,
            "period": {"start": f"{start}T09:00:00+09:00", "end": f"{end}T{r.randint(10, 17)}:{r.randint(0, 59):02d}:00+09:00"},
            "serviceProvider": {"reference": f"Organization/org-{fac}"},
        }

    def condition(self, cid, pref, eref, day):
        icd, rcode, name = self.rng.choice(CONDITIONS)
        return {
            "resourceType": "Condition",
            "id": cid,
            "meta": profile("JP_Condition"),
            "clinicalStatus": {"coding": [coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active")]},
            "verificationStatus": {"coding": [coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed")]},
            "category": [{"coding": [coding("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", "Encounter Diagnosis")]}],
            "code": {"coding": [coding(ICD10, icd, name), coding(DISEASE, rcode, name)], "text": name},
            "subject": pref,
            "encounter": eref,
            "onsetDateTime": date_str(day - self.rng.randint(0, 400)),
            "recordedDate": date_str(day),
        }

    def observation(self, oid, pref, eref, day):
        r = self.rng
        _key, code, name, ucum, unit, lo, hi, dec = r.choice(LABS)
        span = (hi - lo) or 1.0
        v = round(r.gauss((lo + hi) / 2, span / 2.5), dec)
        if v < 0:
            v = 0.0
        if dec == 0:
            v = int(v)
        o = {
            "resourceType": "Observation",
            "id": oid,
            "meta": profile("JP_Observation_LabResult"),
            "status": "final",
            "category": [{"coding": [coding(OBS_CAT, "laboratory", "Laboratory")]}],
            "code": {"coding": [coding(JLAC10, code, name)], "text": name},
            "subject": pref,
            "encounter": eref,
            "effectiveDateTime": f"{date_str(day)}T09:30:00+09:00",
            "issued": f"{date_str(day)}T11:00:00+09:00",
            "valueQuantity": {"value": v, "unit": unit, "system": UCUM, "code": ucum},
            "referenceRange": [{"low": {"value": lo, "unit": unit, "system": UCUM, "code": ucum},
                                "high": {"value": hi, "unit": unit, "system": UCUM, "code": ucum}}],
        }
        if v > hi:
            o["interpretation"] = [{"coding": [coding(INTERP, "H", "High")]}]
        elif v < lo:
            o["interpretation"] = [{"coding": [coding(INTERP, "L", "Low")]}]
        return o

    def medication(self, mid, pref, eref, day, rp):
        r = self.rng
        yj, name, dose, unit, usage, times = r.choice(DRUGS)
        days = r.choice([7, 14, 28, 30, 56, 90])
        return {
            "resourceType": "MedicationRequest",
            "id": mid,
            "meta": profile("JP_MedicationRequest"),
            "identifier": [{"system": RX_NO, "value": str(rp)}],
            "status": "completed",
            "intent": "order",
            "medicationCodeableConcept": {"coding": [coding(YJ, yj, name)], "text": name},
            "subject": pref,
            "encounter": eref,
            "authoredOn": f"{date_str(day)}T10:15:00+09:00",
            "dosageInstruction": [{
                "text": f"{usage} {dose}{unit} {days}日分",
                "timing": {"repeat": {"frequency": times, "period": 1, "periodUnit": "d"},
                           "code": {"text": usage}},
                "route": {"coding": [coding("http://jpfhir.jp/fhir/core/CodeSystem/JP_MedicationRouteHL70162_CS", "PO", "口")]},
                "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit,
                                                  "system": "urn:oid:1.2.392.100495.20.2.101", "code": "TAB" if unit == "錠" else "CAP"}}],
            }],
            "dispenseRequest": {"quantity": {"value": dose * times * days, "unit": unit},
                                "expectedSupplyDuration": {"value": days, "unit": "日", "system": UCUM, "code": "d"}},
        }

    def person(self, seq, patients_only):
        """Yields (type, resource) for one patient and everything about them."""
        r = self.rng
        pid = self.new_id("pat")
        pat, fac = self.patient(pid, seq)
        yield "Patient", pat
        if patients_only:
            return
        pref = {"reference": f"Patient/{pid}"}
        day = r.randint(18000, 20400)  # 2019..2025
        for _ in range(r.randint(1, 5)):
            day += r.randint(7, 120)
            eid = self.new_id("enc")
            yield "Encounter", self.encounter(eid, pref, day, fac)
            eref = {"reference": f"Encounter/{eid}"}
            if r.random() < 0.7:
                yield "Condition", self.condition(self.new_id("cond"), pref, eref, day)
            for _ in range(r.randint(2, 6)):
                yield "Observation", self.observation(self.new_id("obs"), pref, eref, day)
            rp = 0
            for _ in range(r.choice([0, 1, 1, 2, 2])):
                rp += 1
                yield "MedicationRequest", self.medication(self.new_id("med"), pref, eref, day, rp)


TYPES = ["Patient", "Encounter", "Condition", "Observation", "MedicationRequest"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="number of resources to write")
    ap.add_argument("out", help="output directory (created)")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--ids", choices=["uuid", "seq"], default="uuid",
                    help="uuid: random-looking v4 UUIDs from the seed (default); seq: pat-00000001 style")
    ap.add_argument("--only-patients", action="store_true", help="write only Patient resources")
    a = ap.parse_args()
    if a.n < 1:
        sys.exit("gen.py: N must be at least 1")
    os.makedirs(a.out, exist_ok=True)
    files = {t: open(os.path.join(a.out, f"{t}.ndjson"), "w", encoding="utf-8", buffering=1 << 20) for t in TYPES}
    counts = dict.fromkeys(TYPES, 0)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    g = Gen(a.seed, a.ids)
    written = 0
    seq = 0
    started = time.time()
    while written < a.n:
        seq += 1
        for t, res in g.person(seq, a.only_patients):
            files[t].write(dumps(res))
            files[t].write("\n")
            counts[t] += 1
            written += 1
            if written == a.n:
                break
    size = 0
    for t, f in files.items():
        f.close()
        p = os.path.join(a.out, f"{t}.ndjson")
        if counts[t] == 0:
            os.remove(p)
        else:
            size += os.path.getsize(p)
    took = time.time() - started
    print(f"gen.py: wrote {written} resources ({seq} patients, {size / 1e6:.0f} MB) to {a.out} in {took:.1f} s: "
          + ", ".join(f"{t} {counts[t]}" for t in TYPES if counts[t]), file=sys.stderr)


if __name__ == "__main__":
    main()
