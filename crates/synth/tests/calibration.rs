//! Statistical calibration with a fixed seed: quantities measured from a
//! generated data set (FHIR output and truth files only) agree with the
//! configured parameters written to truth.json — acute-care flows between
//! 構想区域, incidence of chronic conditions (observed vs expected from the
//! configured rates, person-month by person-month), background mortality, and
//! heart-failure in-hospital / 30-day mortality against the model probabilities.
//! Tolerances are about four standard errors, so a wrong rate fails.

mod common;

use serde_json::Value;
use std::collections::HashMap;
use synth::Date;

fn ext<'a>(v: &'a Value, url: &str) -> Option<&'a str> {
    v["extension"].as_array()?.iter().find(|e| e["url"] == url)?["valueCode"].as_str()
}

fn rate_band(table: &Value, male: bool, age: i32) -> f64 {
    let b = ((age.max(0) / 10) as usize).min(8);
    table[if male { "male" } else { "female" }][b].as_f64().expect("rate")
}

#[test]
fn measured_rates_match_configured_ones() {
    let (dir, summary) = common::generate("calib", 1200, 2024, "fhir", 200);
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).expect("truth")).expect("json");
    let start = Date::parse_iso(truth["period"]["start"].as_str().expect("start")).expect("date");
    let end = Date::parse_iso(truth["period"]["end"].as_str().expect("end")).expect("date");

    // --- people ---
    struct P {
        male: bool,
        birth: Date,
        death: Option<Date>,
        area: String,
        active: bool,
        conds: Vec<(String, Date)>,
    }
    let mut people: HashMap<String, P> = HashMap::new();
    for p in common::read_type(&dir, "Patient") {
        let id = p["id"].as_str().expect("id").to_string();
        people.insert(
            id,
            P {
                male: p["gender"] == "male",
                birth: Date::parse_iso(p["birthDate"].as_str().expect("birth")).expect("date"),
                death: p["deceasedDateTime"].as_str().and_then(Date::parse_iso),
                area: ext(&p["address"][0], synth::codes::system::EXT_AREA).expect("area").to_string(),
                active: p["active"] == true,
                conds: Vec::new(),
            },
        );
    }
    assert_eq!(people.len() as u64, summary.patients);
    for c in common::read_type(&dir, "Condition") {
        let pid = c["subject"]["reference"].as_str().expect("ref").trim_start_matches("Patient/").to_string();
        let code = c["code"]["coding"][0]["code"].as_str().expect("code").to_string();
        let onset = Date::parse_iso(c["onsetDateTime"].as_str().expect("onset")).expect("date");
        people.get_mut(&pid).expect("patient").conds.push((code, onset));
    }

    // --- incidence: observed vs expected, person-month by person-month ---
    let incidence = truth["params"]["incidence"].as_array().expect("incidence");
    let m0 = start.month_index();
    let m1 = end.month_index();
    for (key, icd) in [("hypertension", "I10"), ("diabetes", "E119"), ("dyslipidemia", "E785"), ("ckd", "N183")] {
        let inc = incidence.iter().find(|i| i["cond"] == key).expect("configured");
        let mults: Vec<(String, f64)> = inc["multipliers"]
            .as_array()
            .expect("mults")
            .iter()
            .map(|m| {
                let k = m[0].as_str().expect("k");
                let code = match k {
                    "hypertension" => "I10",
                    "diabetes" => "E119",
                    other => panic!("unexpected multiplier {other}"),
                };
                (code.to_string(), m[1].as_f64().expect("mult"))
            })
            .collect();
        let (mut observed, mut expected) = (0.0, 0.0);
        for p in people.values().filter(|p| p.active) {
            let onset = p.conds.iter().find(|(c, _)| c == icd).map(|(_, d)| *d);
            let last = p.death.map(|d| d.month_index()).unwrap_or(m1).min(m1);
            for m in m0..=last {
                let ms = Date::from_month_index(m);
                if onset.is_some_and(|o| o < ms) {
                    break;
                }
                let age = p.birth.age_on(ms);
                let mut r = rate_band(&inc["per_1000_py"], p.male, age) / 1000.0;
                for (code, f) in &mults {
                    if p.conds.iter().any(|(c, d)| c == code && *d < ms) {
                        r *= f;
                    }
                }
                expected += 1.0 - (-r / 12.0).exp();
                if onset.is_some_and(|o| o.month_index() == m) {
                    observed += 1.0;
                }
            }
        }
        eprintln!("{key}: observed {observed}, expected {expected:.1}");
        assert!(expected > 40.0, "{key}: too few expected events ({expected}) for a meaningful test");
        assert!((observed - expected).abs() <= 4.0 * expected.sqrt() + 3.0, "{key}: observed {observed} vs expected {expected:.1}");
    }

    // --- background mortality is at least what the life table implies (acute deaths add to it) ---
    let gm = &truth["params"]["mortality"];
    let (mut deaths, mut exp_bg) = (0.0, 0.0);
    for p in people.values().filter(|p| p.active) {
        let last = p.death.map(|d| d.month_index()).unwrap_or(m1).min(m1);
        let (a, b) = if p.male { (gm["male"][0].as_f64(), gm["male"][1].as_f64()) } else { (gm["female"][0].as_f64(), gm["female"][1].as_f64()) };
        let (a, b) = (a.expect("a"), b.expect("b"));
        for m in m0..=last {
            let age = p.birth.age_on(Date::from_month_index(m));
            let q = (a + b * age as f64).exp().min(0.6);
            exp_bg += 1.0 - (-q / 12.0).exp();
        }
        deaths += p.death.is_some() as u8 as f64;
    }
    eprintln!("deaths: observed {deaths}, background expected {exp_bg:.1}");
    assert!(deaths >= exp_bg - 4.0 * exp_bg.sqrt(), "too few deaths: {deaths} vs {exp_bg:.1}");
    assert!(deaths <= 1.6 * exp_bg + 10.0, "too many deaths: {deaths} vs {exp_bg:.1}");

    // --- acute-care flows: residence zone -> hospital zone of emergency admissions ---
    let mut org_area: HashMap<String, String> = HashMap::new();
    for o in common::read_type(&dir, "Organization") {
        org_area.insert(format!("Organization/{}", o["id"].as_str().expect("id")), ext(&o["address"][0], synth::codes::system::EXT_AREA).expect("area").to_string());
    }
    let mut flows: HashMap<(String, String), f64> = HashMap::new();
    let mut from_totals: HashMap<String, f64> = HashMap::new();
    for e in common::read_type(&dir, "Encounter") {
        if e["class"]["code"] != "IMP" || e["priority"]["coding"][0]["code"] != "EM" {
            continue;
        }
        let pid = e["subject"]["reference"].as_str().expect("ref").trim_start_matches("Patient/");
        let from = people[pid].area.clone();
        let to = org_area[e["serviceProvider"]["reference"].as_str().expect("org")].clone();
        *flows.entry((from.clone(), to)).or_default() += 1.0;
        *from_totals.entry(from).or_default() += 1.0;
    }
    let mut configured: HashMap<(String, String), f64> = HashMap::new();
    for f in truth["geography"]["acute_flow"].as_array().expect("flows") {
        configured.insert((f["from"].as_str().expect("from").to_string(), f["to"].as_str().expect("to").to_string()), f["probability"].as_f64().expect("p"));
    }
    let mut checked = 0;
    for (from, n) in &from_totals {
        if *n < 40.0 {
            continue;
        }
        for ((f, to), p) in configured.iter().filter(|((f, _), _)| f == from) {
            let obs = flows.get(&(f.clone(), to.clone())).copied().unwrap_or(0.0) / n;
            let se = (p * (1.0 - p) / n).sqrt();
            assert!((obs - p).abs() <= 4.0 * se + 0.02, "flow {f}->{to}: observed {obs:.3} of {n}, configured {p:.3}");
            checked += 1;
        }
        // Nothing goes where the configuration sends nobody.
        for ((f, to), c) in flows.iter().filter(|((f, _), _)| f == from) {
            assert!(configured.contains_key(&(f.clone(), to.clone())), "{c} admissions {f}->{to} not in the configuration");
        }
    }
    assert!(checked >= 10, "too few zones with enough admissions ({checked})");

    // --- heart failure: deaths vs model probabilities (truth file), and NYHA on the Encounter ---
    let hf: Vec<Value> = std::fs::read_to_string(dir.join("truth_hf_admissions.ndjson"))
        .expect("hf truth")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let (mut o_inh, mut e_inh, mut o_30, mut e_30) = (0.0, 0.0, 0.0, 0.0);
    let encounters: HashMap<String, Value> = common::read_type(&dir, "Encounter").into_iter().map(|e| (e["id"].as_str().expect("id").to_string(), e)).collect();
    for h in &hf {
        let t = &h["truth"];
        o_inh += t["died_in_hospital"].as_bool().expect("b") as u8 as f64;
        e_inh += t["p_in_hospital"].as_f64().expect("p");
        o_30 += t["died_30d"].as_bool().expect("b") as u8 as f64;
        e_30 += t["p_30d"].as_f64().expect("p");
        let e = &encounters[t["encounter"].as_str().expect("enc")];
        let disp = e["hospitalization"]["dischargeDisposition"]["coding"][0]["code"].as_str().expect("disp");
        assert_eq!(disp == "exp", t["died_in_hospital"] == true);
        assert!(e["extension"][0]["valueCodeableConcept"]["text"].as_str().expect("nyha").starts_with("NYHA"));
    }
    eprintln!("HF admissions {}: in-hospital deaths {o_inh} vs {e_inh:.1}, 30-day {o_30} vs {e_30:.1}", hf.len());
    assert!(hf.len() >= 20, "too few heart-failure admissions ({})", hf.len());
    assert!((o_30 - e_30).abs() <= 4.0 * e_30.sqrt() + 2.0);
    assert!((o_inh - e_inh).abs() <= 4.0 * e_inh.sqrt() + 2.0);
    let _ = std::fs::remove_dir_all(&dir);
}
