//! `medtwin regional` end to end: a hand-built NDJSON data set (the same design
//! as `crates/regional/tests/handbuilt.rs`, whose numbers are worked out by
//! hand there) written to files, read by the real binary from NDJSON and from
//! the store, printed as tables, CSV and JSON.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn medtwin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_medtwin"));
    c.env_remove("MEDTWIN_DATA").env("MEDTWIN_SYNC", "normal");
    c
}

fn run(args: &[&str]) -> Output {
    medtwin().args(args).output().expect("run medtwin")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    // Piped: no progress bar, nothing on standard error.
    assert!(o.stderr.is_empty(), "{args:?} wrote to stderr: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf-8")
}

fn fails(args: &[&str], message: &str) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(1), "{args:?} should fail");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(message), "{args:?}: expected {message:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

const MUNI: &str = "http://medtwin.jp/fhir/StructureDefinition/municipality-code";
const AREA: &str = "http://medtwin.jp/fhir/StructureDefinition/medical-area-code";
const ICD: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full";

#[derive(Default)]
struct B {
    r: Vec<Value>,
    n: usize,
}

impl B {
    fn patient(&mut self, id: &str, addresses: Vec<Value>) {
        let mut p = json!({"resourceType": "Patient", "id": id});
        if !addresses.is_empty() {
            p["address"] = json!(addresses);
        }
        self.r.push(p);
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

/// The data set (stroke = I60-I69):
/// - A: 12 people in 津市, a stroke admission each at h-tsu (津) and an outpatient stroke visit at h-matsu (松阪).
/// - B: 10 people in 松阪市 (address text only) admitted for stroke at h-tsu (exactly 10), and for diabetes at h-matsu.
/// - C: 3 people in 松阪市 admitted for stroke at h-matsu.
/// - D: 15 people in 尾鷲市 (東紀州) admitted at h-shingu (新宮, 和歌山県).
/// - E: 11 people in 尾鷲市 admitted at h-matsu.
/// - M moves from 津市 to 松阪市 on 2024-01-01: admitted 2023-06 at h-tsu and 2024-06 at h-matsu.
/// - U has no address (unknown residence); F is admitted at h-none, which has no address (unknown facility).
///
/// Inpatient stroke by 構想区域, raw: 津→津 13, 松阪→津 10, 松阪→松阪 4,
/// 東紀州→松阪 11, 東紀州→新宮 15; total 53; one record each of unknown
/// residence and unknown facility.
fn data() -> Vec<Value> {
    let mut b = B::default();
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
        b.patient(&p, vec![json!({"use": "home", "state": "三重県", "city": "松阪市"})]);
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
    // Claims: A's 12 people in 2024-05 at h-tsu (1,000 points each), a0 twice
    // (one レセプト: 12 claims, 13,000 points); B's 10 in 2024-05 at h-matsu
    // (500 points); M in 2024-06 at h-matsu (300 points).
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

/// Writes the data set as one NDJSON file per type into `dir`.
fn write_ndjson(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut by_type: std::collections::BTreeMap<String, String> = Default::default();
    for r in data() {
        let ty = r["resourceType"].as_str().expect("type").to_string();
        let text = by_type.entry(ty).or_default();
        text.push_str(&r.to_string());
        text.push('\n');
    }
    for (ty, text) in by_type {
        std::fs::write(dir.join(format!("{ty}.ndjson")), text).expect("write");
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The long-format CSV rows as (residence, care) → patients.
fn csv_cells(csv: &str) -> std::collections::HashMap<(String, String), String> {
    csv.trim_start_matches('\u{feff}')
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            ((f[1].to_string(), f[3].to_string()), f[4].to_string())
        })
        .collect()
}

#[test]
fn every_regional_command_has_help() {
    for sub in ["flows", "rates", "facilities", "reference", "materialize"] {
        let out = ok(&["regional", sub, "--help"]);
        assert!(out.contains("Usage: medtwin regional"), "{sub}: {out}");
    }
    let out = ok(&["regional", "flows", "--help"]);
    for flag in ["--disease", "--setting", "--level", "--from", "--to", "--format", "--threshold", "--areas", "--input", "--data"] {
        assert!(out.contains(flag), "flows --help lacks {flag}");
    }
}

#[test]
fn flows_from_ndjson_are_protected_and_state_the_unknowns() {
    let d = tempfile::tempdir().expect("tmp");
    let input = d.path().join("fhir");
    write_ndjson(&input);
    let base = ["regional", "flows", "--input", s(&input), "--disease", "stroke", "--setting", "inpatient", "--level", "kosoku"];

    // CSV: UTF-8 with a BOM, CRLF, protected cells (see handbuilt.rs for the
    // derivation of the complementary suppression).
    let csv = ok(&[&base[..], &["--format", "csv"]].concat());
    assert!(csv.starts_with("\u{feff}residence_code,residence_name,care_code,care_name,patients,records\r\n"), "{csv}");
    let c = csv_cells(&csv);
    let at = |r: &str, k: &str| c.get(&(r.to_string(), k.to_string())).unwrap_or_else(|| panic!("{r}→{k} in {csv}")).as_str();
    assert_eq!(at("松阪", "松阪"), "<10", "4 patients");
    assert_eq!(at("津", "津"), "秘匿", "13, suppressed as a complement");
    assert_eq!(at("松阪", "津"), "秘匿", "exactly 10 is not small, but a complement here");
    assert_eq!(at("東紀州", "新宮（和歌山県）"), "秘匿");
    assert_eq!(at("合計", "津"), "23");
    assert_eq!(at("合計", "合計"), "53");
    assert_eq!(at("東紀州", "合計"), "26");
    assert_eq!(at("桑員", "桑員"), "0");
    // The unknowns: one record each, shown as <10.
    assert_eq!(at("住所地不明（集計から除外）", "合計"), "<10");
    assert_eq!(at("合計", "医療機関所在地不明（集計から除外）"), "<10");
    // No count between 1 and 9 is printed anywhere.
    for v in c.values() {
        assert!(!v.parse::<u64>().is_ok_and(|n| (1..10).contains(&n)), "small count leaked: {v}");
    }

    // The area summary: 東紀州 sends all its 26 residents out (自給率 0).
    let areas = ok(&[&base[..], &["--format", "csv", "--table", "areas"]].concat());
    let row = areas.lines().find(|l| l.starts_with("2412,東紀州,")).expect("東紀州");
    assert_eq!(row, "2412,東紀州,26,0,0,26,0,0.0000,1.0000,-");

    // JSON carries the same values, and the unknowns.
    let j: Value = serde_json::from_str(&ok(&[&base[..], &["--format", "json"]].concat())).expect("json");
    assert_eq!(j["patients"]["total"], json!(53));
    assert_eq!(j["unknown"]["residence_records"], json!("<10"));
    assert_eq!(j["disease"][0], "stroke");

    // The table says what was excluded.
    let table = ok(&base);
    assert!(table.contains("住所地不明: <10 件（<10 人） / 医療機関所在地不明: <10 件（<10 人）（集計から除外）"), "{table}");

    // A lower threshold shows more: with 3 (the least allowed) nothing is
    // small, and the raw counts worked out by hand appear.
    let csv = ok(&[&base[..], &["--format", "csv", "--threshold", "3"]].concat());
    let c = csv_cells(&csv);
    let raw = [("津", "津", "13"), ("松阪", "津", "10"), ("松阪", "松阪", "4"), ("東紀州", "松阪", "11"), ("東紀州", "新宮（和歌山県）", "15"), ("合計", "松阪", "15")];
    for (r, k, v) in raw {
        assert_eq!(c[&(r.to_string(), k.to_string())], v, "{r}→{k}");
    }
    assert_eq!(c[&("住所地不明（集計から除外）".into(), "合計".into())], "<3");

    // Period filter: from 2024-01 drops M's 2023 admission at h-tsu (津→津 12),
    // and ICD-10 lists work like the named groups: I61 only is B's 10.
    let csv = ok(&[&base[..], &["--format", "csv", "--threshold", "3", "--from", "2024-01", "--to", "2024-12"]].concat());
    assert_eq!(csv_cells(&csv)[&("津".into(), "津".into())], "12");
    let csv = ok(&["regional", "flows", "--input", s(&input), "--disease", "I61", "--format", "csv", "--threshold", "3"]);
    let c = csv_cells(&csv);
    assert_eq!(c[&("松阪".into(), "津".into())], "10");
    assert_eq!(c[&("合計".into(), "合計".into())], "10");
}

#[test]
fn store_and_ndjson_give_the_same_report() {
    let d = tempfile::tempdir().expect("tmp");
    let input = d.path().join("fhir");
    write_ndjson(&input);
    let data = d.path().join("data");
    let o = run(&["import", "--data", s(&data), s(&input)]);
    assert!(o.status.success(), "import: {}", String::from_utf8_lossy(&o.stderr));
    for args in [
        vec!["flows", "--disease", "stroke", "--setting", "inpatient", "--format", "csv"],
        vec!["facilities", "--disease", "stroke", "--setting", "inpatient", "--format", "csv"],
        vec!["rates", "--level", "municipality", "--format", "csv"],
    ] {
        let from_files = ok(&[&["regional"][..], &args, &["--input", s(&input)]].concat());
        let from_store = ok(&[&["regional"][..], &args, &["--data", s(&data)]].concat());
        assert_eq!(from_files, from_store, "{args:?}");
    }
}

#[test]
fn facilities_and_rates_by_hand() {
    let d = tempfile::tempdir().expect("tmp");
    let input = d.path().join("fhir");
    write_ndjson(&input);
    // Patients per facility by residence 構想区域, threshold 3. F, the one
    // patient of the facility without an address, is small; 津病院's 13 from
    // 津 is its complement in column 津, and so on.
    let csv = ok(&["regional", "facilities", "--input", s(&input), "--disease", "stroke", "--setting", "inpatient", "--format", "csv", "--threshold", "3"]);
    assert!(csv.starts_with('\u{feff}'));
    let find = |fac: &str, res: &str| {
        csv.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f[1] == fac && f[5] == res)
            .unwrap_or_else(|| panic!("{fac} × {res} in {csv}"))[6]
            .to_string()
    };
    assert_eq!(find("所在不明病院", "津"), "<3");
    assert_eq!(find("津病院", "津"), "秘匿");
    assert_eq!(find("津病院", "松阪"), "秘匿");
    assert_eq!(find("津病院", "合計"), "23");
    assert_eq!(find("松阪病院", "東紀州"), "11");
    assert_eq!(find("新宮病院", "東紀州"), "15");
    assert_eq!(find("合計", "津"), "14");
    assert!(csv.contains("total,合計,,,unknown,住所地不明（集計から除外）,<3"), "{csv}");

    // Claims rates by municipality and month. May 2024 alone: 津市 = 12 レセプト
    // (a0's two claims at one facility in one month are one), 13,000 points,
    // population 274,537 (2020 census): 12 / 274,537 × 1,000 = 0.0437 per
    // 1,000 per month; 松阪市 = B's 10 at 500 points.
    let csv = ok(&["regional", "rates", "--input", s(&input), "--level", "municipality", "--format", "csv", "--threshold", "3", "--from", "2024-05", "--to", "2024-05"]);
    assert!(csv.starts_with("\u{feff}area_code,area_name,period,months,population,claims,claims_per_1000_per_month,mean_points\r\n"), "{csv}");
    assert!(csv.contains("\r\n24201,津市,2024-05,1,274537,12,0.0437,1083.3\r\n"), "{csv}");
    assert!(csv.contains("\r\n24204,松阪市,2024-05,1,159145,10,0.0628,500.0\r\n"), "{csv}");
    // Both months: 松阪市 2024-06 is M alone (1 < 3), so suppressed; then 松阪市
    // 2024-05 by its row, and 津市 2024-05 by the column of May.
    let csv = ok(&["regional", "rates", "--input", s(&input), "--level", "municipality", "--format", "csv", "--threshold", "3"]);
    assert!(csv.contains("24204,松阪市,2024-06,1,159145,<3,-,-"), "{csv}");
    assert!(csv.contains("24204,松阪市,2024-05,1,159145,秘匿,-,-"), "{csv}");
    assert!(csv.contains("24201,津市,2024-05,1,274537,秘匿,-,-"), "{csv}");
    assert!(csv.contains("unknown,区域外・住所地不明（集計から除外）,total,2,,0,-,-"), "{csv}");
}

#[test]
fn reference_lists_the_ndb_rates() {
    let out = ok(&["regional", "reference", "--pref", "24", "--format", "csv"]);
    assert!(out.starts_with('\u{feff}'));
    assert_eq!(out.lines().count(), 1 + 8, "三重県 has 8 構想区域: {out}");
    assert!(out.contains("24,三重県,2412,東紀州,65221,0.5594,"), "{out}");
    let all = ok(&["regional", "reference", "--format", "csv"]);
    assert_eq!(all.lines().count(), 1 + 339);
}

#[test]
fn clear_errors_and_non_zero_exit() {
    let d = tempfile::tempdir().expect("tmp");
    let input = d.path().join("fhir");
    write_ndjson(&input);
    let i = s(&input);
    fails(&["regional", "flows", "--input", i, "--disease", "flu"], "--disease: 'flu' is not an ICD-10 code");
    fails(&["regional", "flows", "--input", i, "--from", "2024-13"], "--from must look like 2024-04");
    fails(&["regional", "rates", "--input", i, "--from", "2024-06", "--to", "2024-01"], "is after --to");
    fails(&["regional", "flows", "--input", i, "--level", "ward"], "unknown level 'ward'");
    let missing = d.path().join("nothing-here");
    fails(&["regional", "flows", "--data", s(&missing)], "no medtwin store in");
    assert!(!missing.exists(), "a missing data directory is not created");
    fails(&["regional", "flows", "--input", s(&missing)], "cannot read");
    fails(&["regional", "flows", "--input", s(d.path()), "--areas", s(&missing)], "cannot read");
    for bad in [["--format", "xml"], ["--threshold", "2"]] {
        let o = run(&[&["regional", "flows", "--input", i][..], &bad].concat());
        assert_eq!(o.status.code(), Some(2), "{bad:?} is a usage error");
    }
}


/// `GET path` on a server, returning the status line and the body.
fn http_get(addr: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let text = String::from_utf8(out).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

#[test]
fn the_web_page_serves_the_cli_numbers() {
    use std::io::BufRead;
    let d = tempfile::tempdir().expect("tmp");
    let input = d.path().join("fhir");
    write_ndjson(&input);
    let data = d.path().join("data");
    let o = run(&["import", "--data", s(&data), s(&input)]);
    assert!(o.status.success(), "import: {}", String::from_utf8_lossy(&o.stderr));
    // The CLI's CSVs first (the server then holds the store).
    let q = ["--disease", "stroke", "--setting", "inpatient", "--level", "kosoku", "--from", "2024-01", "--to", "2024-12", "--data", s(&data)];
    let cli = [
        ok(&[&["regional", "flows"][..], &q, &["--format", "csv"]].concat()),
        ok(&[&["regional", "flows"][..], &q, &["--format", "csv", "--table", "areas"]].concat()),
        ok(&[&["regional", "facilities"][..], &q, &["--format", "csv"]].concat()),
        ok(&[&["regional", "rates"][..], &q, &["--format", "csv", "--period", "month"]].concat()),
        ok(&[&["regional", "flows"][..], &q, &["--format", "csv", "--source", "claims"]].concat()),
    ];
    let mut child = medtwin()
        .args(["serve", "--data", s(&data), "--addr", "127.0.0.1:0"])
        .env("MEDTWIN_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut addr = None;
    for _ in 0..20 {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("read") == 0 {
            break;
        }
        if let Some(a) = line.split("http://").nth(1).and_then(|r| r.split('/').next()) {
            addr = Some(a.trim().to_string());
            break;
        }
    }
    let addr = addr.expect("the server prints its address");
    let query = "disease=stroke&setting=inpatient&level=kosoku&from=2024-01&to=2024-12";
    let web: Vec<(String, String)> = ["flows.csv", "areas.csv", "facilities.csv", "rates.csv"]
        .iter()
        .map(|f| http_get(&addr, &format!("/regional/{f}?{query}")))
        .chain([http_get(&addr, &format!("/regional/flows.csv?{query}&source=claims"))])
        .collect();
    let (status, page) = http_get(&addr, &format!("/regional?{query}"));
    let (bad_status, _) = http_get(&addr, "/regional?disease=flu");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    for (i, ((st, body), expected)) in web.iter().zip(&cli).enumerate() {
        assert!(st.contains("200"), "{i}: {st}");
        assert_eq!(body, expected, "download {i} differs from the CLI");
    }
    assert!(status.contains("200"), "{status}");
    // The page's total is the CLI's: 52 inpatient stroke patients in 2024.
    assert!(page.contains("<span id=\"total-patients\">52</span>"), "page total");
    assert!(bad_status.contains("400"), "{bad_status}");
}
