//! A hand-built data set whose flows, unknowns, rates and suppressions are
//! worked out by hand in the comments: patients who move, a patient without an
//! address, a facility without an address, a facility in another prefecture
//! (新宮, 和歌山県), a count of exactly 10, and complementary suppression.

use regional::measure::{self, Filter, Period, Setting, Source};
use regional::{AreaModel, Count, Dataset, DiseaseGroup, Level, Month, Policy, Tables};
use serde_json::{Value, json};

const MUNI: &str = "http://medtwin.jp/fhir/StructureDefinition/municipality-code";
const AREA: &str = "http://medtwin.jp/fhir/StructureDefinition/medical-area-code";
const ICD: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full";

struct B {
    r: Vec<Value>,
    n: usize,
}

impl B {
    fn patient(&mut self, id: &str, addresses: Vec<Value>) {
        self.r.push(json!({"resourceType": "Patient", "id": id, "address": addresses}));
    }
    fn encounter(&mut self, pid: &str, org: &str, class: &str, start: &str, icd: &str) {
        self.n += 1;
        let n = self.n;
        self.r.push(json!({"resourceType": "Condition", "id": format!("c{n}"), "subject": {"reference": format!("Patient/{pid}")},
            "code": {"coding": [{"system": ICD, "code": icd}]}}));
        self.r.push(json!({"resourceType": "Encounter", "id": format!("e{n}"), "status": "finished", "class": {"code": class},
            "subject": {"reference": format!("Patient/{pid}")}, "serviceProvider": {"reference": format!("Organization/{org}")},
            "period": {"start": start}, "diagnosis": [{"condition": {"reference": format!("Condition/c{n}")}, "rank": 1}]}));
    }
    fn claim(&mut self, pid: &str, org: &str, start: &str, yen: f64) {
        self.n += 1;
        let n = self.n;
        self.r.push(json!({"resourceType": "Claim", "id": format!("cl{n}"), "status": "active", "use": "claim",
            "type": {"coding": [{"code": "professional"}]}, "patient": {"reference": format!("Patient/{pid}")},
            "provider": {"reference": format!("Organization/{org}")}, "billablePeriod": {"start": start},
            "total": {"value": yen, "currency": "JPY"}}));
    }
}

fn code(c: &str) -> Value {
    json!({"use": "home", "extension": [{"url": MUNI, "valueCode": c}]})
}
fn text(state: &str, city: &str) -> Value {
    json!({"use": "home", "state": state, "city": city})
}

/// The data set:
/// - A: 12 people in 津市 (code 242012), one stroke admission each at h-tsu (津),
///   and one stroke outpatient visit each at h-matsu (not inpatient).
/// - B: 10 people in 松阪市 (text only) admitted for stroke at h-tsu: exactly 10;
///   and each one diabetes admission at h-matsu (not stroke).
/// - C: 3 people in 松阪市 (code 242047) admitted for stroke at h-matsu (松阪).
/// - D: 15 people in 尾鷲市 (東紀州) admitted at h-shingu (新宮, 和歌山県, area code only).
/// - E: 11 people in 尾鷲市 admitted at h-matsu.
/// - M moves from 津市 (until 2023-12-31) to 松阪市 (from 2024-01-01): admitted
///   2023-06 at h-tsu (as a 津 resident) and 2024-06 at h-matsu (as a 松阪 resident).
/// - U has no address, admitted at h-tsu: unknown residence.
/// - F lives in 津市, admitted at h-none (no address): unknown facility.
fn data() -> Vec<Value> {
    let mut b = B { r: Vec::new(), n: 0 };
    b.r.push(json!({"resourceType": "Organization", "id": "h-tsu", "name": "津病院",
        "address": [{"extension": [{"url": MUNI, "valueCode": "242012"}], "state": "三重県", "city": "津市"}]}));
    b.r.push(json!({"resourceType": "Organization", "id": "h-matsu", "name": "松阪病院", "address": [{"state": "三重県", "city": "松阪市"}]}));
    b.r.push(json!({"resourceType": "Organization", "id": "h-shingu", "name": "新宮病院",
        "address": [{"extension": [{"url": AREA, "valueCode": "3007"}], "state": "和歌山県", "city": "新宮"}]}));
    b.r.push(json!({"resourceType": "Organization", "id": "h-none", "name": "所在不明病院"}));
    for i in 0..12 {
        let p = format!("a{i}");
        b.patient(&p, vec![code("242012")]);
        b.encounter(&p, "h-tsu", "IMP", "2024-03-10", "I639");
        b.encounter(&p, "h-matsu", "AMB", "2024-04-10", "I639");
    }
    for i in 0..10 {
        let p = format!("b{i}");
        b.patient(&p, vec![text("三重県", "松阪市")]);
        b.encounter(&p, "h-tsu", "IMP", "2024-05-01", "I610");
        b.encounter(&p, "h-matsu", "IMP", "2024-07-01", "E119");
    }
    for i in 0..3 {
        let p = format!("c{i}");
        b.patient(&p, vec![code("242047")]);
        b.encounter(&p, "h-matsu", "IMP", "2024-05-01", "I639");
    }
    for i in 0..15 {
        let p = format!("d{i}");
        b.patient(&p, vec![code("242098")]);
        b.encounter(&p, "h-shingu", "IMP", "2024-02-01", "I639");
    }
    for i in 0..11 {
        let p = format!("e{i}");
        b.patient(&p, vec![code("242098")]);
        b.encounter(&p, "h-matsu", "IMP", "2024-02-01", "I639");
    }
    b.patient(
        "m",
        vec![
            json!({"use": "home", "extension": [{"url": MUNI, "valueCode": "242012"}], "period": {"end": "2023-12-31"}}),
            json!({"use": "home", "extension": [{"url": MUNI, "valueCode": "242047"}], "period": {"start": "2024-01-01"}}),
        ],
    );
    b.encounter("m", "h-tsu", "IMP", "2023-06-15", "I639");
    b.encounter("m", "h-matsu", "IMP", "2024-06-15", "I639");
    b.patient("u", vec![]);
    b.encounter("u", "h-tsu", "IMP", "2024-01-01", "I639");
    b.patient("f", vec![code("242012")]);
    b.encounter("f", "h-none", "IMP", "2024-01-01", "I639");
    // Claims for the rates: A's 12 people one claim each in 2024-05 at h-tsu
    // (10,000 yen = 1,000 points), a0 a second claim at h-tsu in the same month
    // (same レセプト: 12 claims, 13,000 points); B's 10 people in 2024-05 at
    // h-matsu (5,000 yen = 500 points); M in 2024-06 at h-matsu (300 points).
    for i in 0..12 {
        b.claim(&format!("a{i}"), "h-tsu", "2024-05-20", 10_000.0);
    }
    b.claim("a0", "h-tsu", "2024-05-28", 10_000.0);
    for i in 0..10 {
        b.claim(&format!("b{i}"), "h-matsu", "2024-05-20", 5_000.0);
    }
    b.claim("m", "h-matsu", "2024-06-03", 3_000.0);
    b.r
}

fn setup() -> (AreaModel, Dataset) {
    let m = AreaModel::mie().expect("model");
    let ds = Dataset::build(&Tables::from_values(&data()).expect("views"), &m).expect("dataset");
    (m, ds)
}

fn stroke_inpatient() -> Filter {
    Filter { disease: DiseaseGroup::parse("stroke").expect("stroke"), setting: Setting::Inpatient, from: None, to: None }
}

fn cell(r: &measure::FlowReport, t: &measure::FlowTable, row: &str, col: &str) -> Count {
    let i = r.rows.iter().position(|x| x.name == row).unwrap_or_else(|| panic!("row {row}"));
    let j = r.cols.iter().position(|x| x.name == col).unwrap_or_else(|| panic!("col {col}"));
    t.cells[i * r.cols.len() + j]
}

#[test]
fn raw_flows_by_hand() {
    let (m, ds) = setup();
    assert_eq!(ds.patients, 12 + 10 + 3 + 15 + 11 + 3);
    // Internal check only: threshold 1 shows raw counts.
    let r = measure::flows(&ds, &m, Level::Kosoku, &stroke_inpatient(), Source::Encounters, Policy { threshold: 1 });
    let v = |row, col| cell(&r, &r.patients, row, col).value().expect("shown");
    assert_eq!(v("津", "津"), 13); // A + M before the move
    assert_eq!(v("松阪", "津"), 10); // B
    assert_eq!(v("松阪", "松阪"), 4); // C + M after the move
    assert_eq!(v("東紀州", "新宮（和歌山県）"), 15); // D
    assert_eq!(v("東紀州", "松阪"), 11); // E
    assert_eq!(r.patients.total, Count::Value(53));
    assert_eq!(r.rows.len(), 8, "the 8 構想区域 of 三重県");
    assert_eq!(r.cols.len(), 9, "plus 新宮");
    assert_eq!(r.unknown.residence_records, Count::Value(1));
    assert_eq!(r.unknown.facility_records, Count::Value(1));
    let a = |name: &str| r.patients.areas.iter().find(|a| a.area.name == name).expect("area").clone();
    let matsusaka = a("松阪");
    assert_eq!((matsusaka.residents, matsusaka.within, matsusaka.outflow, matsusaka.inflow, matsusaka.treated),
        (Count::Value(14), Count::Value(4), Count::Value(10), Count::Value(11), Count::Value(15)));
    assert!((matsusaka.self_sufficiency.expect("rate") - 4.0 / 14.0).abs() < 1e-12);
    assert!((matsusaka.inflow_rate.expect("rate") - 11.0 / 15.0).abs() < 1e-12);
    let tsu = a("津");
    assert_eq!((tsu.residents, tsu.within, tsu.outflow, tsu.inflow, tsu.treated),
        (Count::Value(13), Count::Value(13), Count::Value(0), Count::Value(10), Count::Value(23)));
    assert_eq!(a("東紀州").outflow_rate, Some(1.0));
    // Records equal patients here except nobody has two admissions in one cell.
    assert_eq!(r.records.total, Count::Value(53));
    // Municipality level: 新宮 becomes "県外: 和歌山県".
    let r = measure::flows(&ds, &m, Level::Municipality, &stroke_inpatient(), Source::Encounters, Policy { threshold: 1 });
    assert_eq!(cell(&r, &r.patients, "尾鷲市", "県外: 和歌山県"), Count::Value(15));
    assert_eq!(cell(&r, &r.patients, "松阪市", "津市"), Count::Value(10));
    // Outpatient stroke: only A's visits, at h-matsu.
    let f = Filter { setting: Setting::Outpatient, ..stroke_inpatient() };
    let r = measure::flows(&ds, &m, Level::Kosoku, &f, Source::Encounters, Policy { threshold: 1 });
    assert_eq!(r.patients.total, Count::Value(12));
    assert_eq!(cell(&r, &r.patients, "津", "松阪"), Count::Value(12));
    // Period filter: from 2024-01 drops M's 2023 admission.
    let f = Filter { from: Month::parse("2024-01"), ..stroke_inpatient() };
    let r = measure::flows(&ds, &m, Level::Kosoku, &f, Source::Encounters, Policy { threshold: 1 });
    assert_eq!(cell(&r, &r.patients, "津", "津"), Count::Value(12));
    // Diabetes (E10-E14): B's admissions only.
    let f = Filter { disease: DiseaseGroup::parse("diabetes").expect("dm"), ..stroke_inpatient() };
    let r = measure::flows(&ds, &m, Level::Kosoku, &f, Source::Encounters, Policy { threshold: 1 });
    assert_eq!(cell(&r, &r.patients, "松阪", "松阪"), Count::Value(10));
}

#[test]
fn protected_flows_by_hand() {
    let (m, ds) = setup();
    let r = measure::flows(&ds, &m, Level::Kosoku, &stroke_inpatient(), Source::Encounters, Policy::default());
    let c = |row, col| cell(&r, &r.patients, row, col).to_string();
    // Primary: 松阪→松阪 = 4. Then, relation by relation (rows, columns, totals,
    // then each area's outflow/inflow relations), the complements:
    //   row 松阪 (10, 4 | 14): 10 (松阪→津);  column 津 (13, 10 | 23): 13;
    //   column 松阪 (4, 11 | 15): 11;  津's inflow (10 | 10) has no positive
    //   other part: the inflow total;  津's row (13 | 13): its total;  松阪's
    //   outflow (10 | 10) and inflow (11 | 11): their totals;  東紀州's outflow
    //   (11, 15 | 26): 15;  column 新宮 (15 | 15): its total;  row totals
    //   (津 s, 14, 26 | 53): 14;  column totals (23, 15, 新宮 s | 53): 15.
    assert_eq!(c("津", "津"), "秘匿");
    assert_eq!(c("松阪", "津"), "秘匿", "exactly 10 is not small, but is a complement here");
    assert_eq!(c("松阪", "松阪"), "<10");
    assert_eq!(c("東紀州", "松阪"), "秘匿");
    assert_eq!(c("東紀州", "新宮（和歌山県）"), "秘匿");
    assert_eq!(c("桑員", "桑員"), "0");
    let t = |v: &[Count]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let rows = t(&r.patients.row_totals);
    assert_eq!(&rows[3..], ["秘匿", "0", "秘匿", "0", "26"]); // 津 伊賀 松阪 伊勢志摩 東紀州
    let cols = t(&r.patients.col_totals);
    assert_eq!(&cols[3..], ["23", "0", "秘匿", "0", "0", "秘匿"]); // 津 伊賀 松阪 伊勢志摩 東紀州 新宮
    assert_eq!(r.patients.total, Count::Value(53));
    let a = |name: &str| r.patients.areas.iter().find(|a| a.area.name == name).expect("area").clone();
    let hk = a("東紀州");
    assert_eq!((hk.residents, hk.within, hk.outflow, hk.inflow), (Count::Value(26), Count::Value(0), Count::Value(26), Count::Value(0)));
    assert_eq!(hk.self_sufficiency, Some(0.0));
    let tsu = a("津");
    assert_eq!(tsu.inflow.to_string(), "秘匿");
    assert_eq!(tsu.self_sufficiency, None, "a rate over suppressed counts is not shown");
    assert_eq!(tsu.treated, Count::Value(23));
    // Unknown counts are 1 each: shown as <10.
    assert_eq!(r.unknown.residence_records.to_string(), "<10");
    assert_eq!(r.unknown.facility_patients.to_string(), "<10");
    // No shown count is between 1 and 9 anywhere in the report.
    let json = serde_json::to_value(&r).expect("json");
    fn walk(v: &Value, bad: &mut Vec<u64>) {
        match v {
            Value::Number(n) if n.as_u64().is_some_and(|x| (1..10).contains(&x)) => bad.push(n.as_u64().unwrap_or(0)),
            Value::Array(a) => a.iter().for_each(|x| walk(x, bad)),
            Value::Object(o) => o.iter().filter(|(k, _)| *k != "threshold").for_each(|(_, x)| walk(x, bad)),
            _ => {}
        }
    }
    let mut bad = Vec::new();
    walk(&json["patients"], &mut bad);
    walk(&json["records"], &mut bad);
    walk(&json["unknown"], &mut bad);
    assert!(bad.is_empty(), "small counts leaked: {bad:?}");
}

#[test]
fn facilities_by_hand() {
    let (m, ds) = setup();
    let r = measure::facilities(&ds, &m, Level::Kosoku, &stroke_inpatient(), Source::Encounters, Policy { threshold: 1 });
    let f = |name: &str, col: &str| {
        let i = r.facilities.iter().position(|x| x.name == name).expect("facility");
        let j = r.cols.iter().position(|x| x.name == col).expect("col");
        r.cells[i * r.cols.len() + j]
    };
    assert_eq!(f("津病院", "津"), Count::Value(13));
    assert_eq!(f("津病院", "松阪"), Count::Value(10));
    assert_eq!(f("松阪病院", "東紀州"), Count::Value(11));
    assert_eq!(f("新宮病院", "東紀州"), Count::Value(15));
    // h-none has a patient but no address: it is listed, its area unknown.
    let none = r.facilities.iter().find(|x| x.name == "所在不明病院").expect("listed");
    assert!(none.area.is_none());
    assert_eq!(r.unknown.residence_records, Count::Value(1));
}

#[test]
fn rates_by_hand() {
    let (m, ds) = setup();
    let all = Filter { disease: DiseaseGroup::parse("all").expect("all"), setting: Setting::All, from: None, to: None };
    let r = measure::rates(&ds, &m, Level::Municipality, &all, Period::Month, Policy { threshold: 1 });
    assert_eq!(r.periods, ["2024-05", "2024-06"]);
    let at = |muni: &str, p: usize| {
        let i = r.rows.iter().position(|x| x.name == muni).expect("row");
        r.cells[i * r.periods.len() + p].clone()
    };
    let tsu = at("津市", 0);
    assert_eq!(tsu.claims, Count::Value(12), "a0's two claims at one facility in one month are one レセプト");
    assert!((tsu.mean_points.expect("mean") - 13_000.0 / 12.0).abs() < 1e-9);
    assert!((tsu.rate_per_1000.expect("rate") - 12.0 / 274_537.0 * 1000.0).abs() < 1e-12);
    let mat = at("松阪市", 0);
    assert_eq!(mat.claims, Count::Value(10));
    assert_eq!(mat.mean_points, Some(500.0));
    assert_eq!(at("松阪市", 1).claims, Count::Value(1), "M lives in 松阪 after moving");
    assert_eq!(at("津市", 1).claims, Count::Value(0));
    // Protected: 松阪市 2024-06 = 1 is primary; complements follow.
    let r = measure::rates(&ds, &m, Level::Municipality, &all, Period::Month, Policy::default());
    let i = r.rows.iter().position(|x| x.name == "松阪市").expect("row");
    assert_eq!(r.cells[i * 2 + 1].claims.to_string(), "<10");
    assert_eq!(r.cells[i * 2 + 1].rate_per_1000, None);
    assert_eq!(r.cells[i * 2].claims.to_string(), "秘匿", "the only other part of 松阪市's row");
    assert_eq!(r.cells[i * 2].mean_points, None);
    // Fiscal year: all in FY2024 (April 2024 to March 2025).
    let r = measure::rates(&ds, &m, Level::Kosoku, &all, Period::Fy, Policy { threshold: 1 });
    assert_eq!(r.periods, ["FY2024"]);
    assert_eq!(r.months, [2]);
    assert_eq!(r.total.claims, Count::Value(23));
}

/// The Parquet path (`Tables::from_parquet`: only the needed columns, the ids
/// as dictionaries, the event table not counted left out) gives the same
/// reports as the tables in memory, including a claim that names its provider
/// only by 医療機関コード.
#[test]
fn parquet_tables_give_the_same_reports() {
    use analytics::view::{BatchWriter, Format};
    use regional::Need;
    let mut resources = data();
    resources.push(json!({"resourceType": "Claim", "id": "uke1", "status": "active", "use": "claim",
        "type": {"coding": [{"code": "institutional"}]}, "patient": {"reference": "Patient/a1"},
        "provider": {"identifier": {"value": "2410000001"}}, "billablePeriod": {"start": "2024-05-02"},
        "total": {"value": 120_000.0, "currency": "JPY"}}));
    let m = AreaModel::mie().expect("model");
    let mem = Tables::from_values(&resources).expect("views");
    let dir = tempfile::tempdir().expect("tempdir");
    for view in regional::data::views().expect("views") {
        let name = view.name.clone().expect("name");
        let f = std::fs::File::create(dir.path().join(format!("{name}.parquet"))).expect("create");
        let mut w = BatchWriter::new(Format::Parquet, view.schema(), f).expect("writer");
        for b in &mem.batches[&name] {
            w.write(b).expect("write");
        }
        w.finish().expect("finish");
    }
    let full = Dataset::build(&mem, &m).expect("dataset");
    fn same<T: serde::Serialize>(a: &T, b: &T, what: &str) {
        assert_eq!(serde_json::to_string(a).expect("json"), serde_json::to_string(b).expect("json"), "{what}");
    }
    let filters = [Filter { disease: DiseaseGroup::parse("all").expect("all"), setting: Setting::All, from: None, to: None }, stroke_inpatient()];
    for (need, sources) in [
        (Need::Both, vec![Source::Encounters, Source::Claims]),
        (Need::Encounters, vec![Source::Encounters]),
        (Need::Claims, vec![Source::Claims]),
    ] {
        let t = Tables::from_parquet(&[dir.path().to_path_buf()], need).expect("parquet");
        for view in ["regional_encounters", "regional_claims"] {
            for b in t.batches.get(view).into_iter().flatten() {
                let ty = b.column_by_name("patient_id").expect("patient_id").data_type().clone();
                assert!(matches!(ty, arrow::datatypes::DataType::Dictionary(..)), "{view}.patient_id read as {ty}");
            }
        }
        let ds = Dataset::build(&t, &m).expect("dataset");
        for policy in [Policy { threshold: 1 }, Policy::default()] {
            for f in &filters {
                for &level in &[Level::Municipality, Level::Kosoku, Level::Iryoken2, Level::Prefecture] {
                    for &source in &sources {
                        let what = format!("{need:?} {source:?} {level:?} {}", f.disease.key);
                        same(&measure::flows(&full, &m, level, f, source, policy), &measure::flows(&ds, &m, level, f, source, policy), &what);
                        same(&measure::facilities(&full, &m, level, f, source, policy), &measure::facilities(&ds, &m, level, f, source, policy), &what);
                    }
                    if need != Need::Encounters {
                        for period in [Period::Month, Period::Fy] {
                            same(&measure::rates(&full, &m, level, f, period, policy), &measure::rates(&ds, &m, level, f, period, policy), "rates");
                        }
                    }
                }
            }
        }
    }
}

