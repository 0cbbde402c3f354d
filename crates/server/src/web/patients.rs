//! Patients: search by name (kanji or kana; hiragana is matched as katakana),
//! ID or birth date (`/patients`), and the patient's digital twin
//! (`/patients/{id}`): demographics, allergies, active conditions, SVG charts
//! of HbA1c, LDL-C, eGFR, BNP and blood pressure over time, and a timeline of
//! encounters, conditions, prescriptions and procedures, each linked to its
//! raw FHIR resource.

use super::chart::{self, Series};
use super::layout::raw;
use super::{Ctx, Html, Key, WebError, page};
use crate::{ApiError, AppState};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use maud::{Markup, html};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use store::{Condition, SearchQuery, Store, TotalMode};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/patients", get(search_page)).route("/patients/{id}", get(twin))
}

const PAGE: usize = 25;

/// What the search form asked for, normalised.
#[derive(Debug, Default, Clone, PartialEq)]
struct SearchForm {
    /// The name or ID as typed.
    q: String,
    /// The birth date as typed.
    birthdate: String,
    cursor: Option<String>,
}

/// Hiragana → katakana (synthetic and SS-MIX2 kana names are katakana), and
/// full-width spaces → spaces.
fn normalise_kana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

/// A birth date as typed (`1950-04-01`, `1950/4/1`, `19500401`, `1950-04`,
/// `1950`) as a FHIR date; Err with a message otherwise.
fn parse_birthdate(s: &str) -> Result<String, ()> {
    let s = s.trim();
    let parts: Vec<&str> = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        vec![&s[0..4], &s[4..6], &s[6..8]]
    } else {
        s.split(['-', '/', '.']).collect()
    };
    let nums: Vec<u32> = parts.iter().map(|p| p.parse::<u32>().map_err(|_| ())).collect::<Result<_, _>>()?;
    match nums.as_slice() {
        [y] if (1850..=2100).contains(y) => Ok(format!("{y:04}")),
        [y, m] if (1850..=2100).contains(y) && (1..=12).contains(m) => Ok(format!("{y:04}-{m:02}")),
        [y, m, d] if (1850..=2100).contains(y) && (1..=12).contains(m) && (1..=31).contains(d) => {
            Ok(format!("{y:04}-{m:02}-{d:02}"))
        }
        _ => Err(()),
    }
}

fn is_id_like(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn cond(t: &str, name: &str, value: &str) -> Result<Condition, ApiError> {
    Ok(store::search::parse_condition(t, name, value)?)
}

/// One row of the results table.
struct Hit {
    id: String,
    kanji: String,
    kana: String,
    gender: String,
    birth: String,
    city: String,
}

fn hit(body: &str) -> Option<Hit> {
    let v: Value = serde_json::from_str(body).ok()?;
    let (kanji, kana) = names(&v);
    Some(Hit {
        id: v["id"].as_str()?.to_string(),
        kanji,
        kana,
        gender: v["gender"].as_str().unwrap_or("").to_string(),
        birth: v["birthDate"].as_str().unwrap_or("").to_string(),
        city: v["address"][0]["city"].as_str().unwrap_or("").to_string(),
    })
}

/// (kanji name, kana name) from JP Core HumanNames (IDE / SYL representation);
/// the first name is taken as kanji when there is no representation code.
fn names(p: &Value) -> (String, String) {
    let mut kanji = String::new();
    let mut kana = String::new();
    for n in p["name"].as_array().into_iter().flatten() {
        let rep = n["extension"].as_array().into_iter().flatten().find_map(|e| e["valueCode"].as_str()).unwrap_or("");
        let text = n["text"].as_str().map(str::to_string).unwrap_or_else(|| {
            let given: Vec<&str> = n["given"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            format!("{} {}", n["family"].as_str().unwrap_or(""), given.join(" ")).trim().to_string()
        });
        match rep {
            "SYL" if kana.is_empty() => kana = text,
            "IDE" | "" if kanji.is_empty() => kanji = text,
            _ => {}
        }
    }
    (kanji, kana)
}

struct Results {
    hits: Vec<Hit>,
    total: Option<u64>,
    next: Option<String>,
}

fn run_search(s: &dyn Store, f: &SearchForm, birth: Option<&str>) -> Result<Results, ApiError> {
    let q = normalise_kana(f.q.trim());
    let mut base = Vec::new();
    if let Some(b) = birth {
        base.push(cond("Patient", "birthdate", b)?);
    }
    let query = |conds: Vec<Condition>, cursor: Option<String>| SearchQuery {
        resource_types: vec!["Patient".into()],
        conditions: vec![conds],
        count: PAGE,
        cursor,
        total: TotalMode::Accurate,
        ..Default::default()
    };
    let mut tries: Vec<Vec<Condition>> = Vec::new();
    if q.is_empty() {
        tries.push(base.clone());
    } else if is_id_like(&q) {
        // An ID: the logical id or any identifier value (hospital patient IDs).
        let mut by_id = base.clone();
        by_id.push(cond("Patient", "_id", &q)?);
        tries.push(by_id);
        let mut by_identifier = base.clone();
        by_identifier.push(cond("Patient", "identifier", &q)?);
        tries.push(by_identifier);
    } else {
        let mut by_name = base.clone();
        for token in q.split_whitespace() {
            by_name.push(cond("Patient", "name", token)?);
        }
        tries.push(by_name);
    }
    if tries.len() == 1 {
        let r = s.search(&query(tries.remove(0), f.cursor.clone()))?;
        let mut res = Results { hits: r.entries.iter().filter_map(|e| e.body.as_deref().and_then(hit)).collect(), total: r.total, next: r.next_cursor };
        // "山田太郎" typed without a space: try family + given at each split.
        let chars: Vec<char> = q.chars().collect();
        if res.hits.is_empty() && f.cursor.is_none() && !q.contains(' ') && !is_id_like(&q) && (2..=12).contains(&chars.len()) {
            for i in 1..chars.len() {
                let (fam, giv): (String, String) = (chars[..i].iter().collect(), chars[i..].iter().collect());
                let mut c = base.clone();
                c.push(cond("Patient", "family", &fam)?);
                c.push(cond("Patient", "given", &giv)?);
                let r = s.search(&query(c, None))?;
                if !r.entries.is_empty() {
                    res = Results { hits: r.entries.iter().filter_map(|e| e.body.as_deref().and_then(hit)).collect(), total: r.total, next: None };
                    break;
                }
            }
        }
        return Ok(res);
    }
    // ID searches: the union of the tries, at most one page.
    let mut hits: Vec<Hit> = Vec::new();
    for t in tries {
        for e in s.search(&query(t, None))?.entries {
            if let Some(h) = e.body.as_deref().and_then(hit)
                && !hits.iter().any(|x| x.id == h.id)
            {
                hits.push(h);
            }
        }
    }
    let total = Some(hits.len() as u64);
    Ok(Results { hits, total, next: None })
}

fn criticality<'a>(ctx: &Ctx, c: &'a str) -> &'a str {
    match c {
        "low" => ctx.tr("低", "low"),
        "high" => ctx.tr("高", "high"),
        "unable-to-assess" => ctx.tr("評価不能", "unable to assess"),
        c => c,
    }
}

fn gender(ctx: &Ctx, g: &str) -> String {
    match g {
        "male" => ctx.tr("男性", "male").into(),
        "female" => ctx.tr("女性", "female").into(),
        "other" => ctx.tr("その他", "other").into(),
        "unknown" => ctx.tr("不明", "unknown").into(),
        g => g.into(),
    }
}

async fn search_page(State(state): State<AppState>, ctx: Ctx, Query(params): Query<HashMap<String, String>>) -> Result<Html, WebError> {
    let form = SearchForm {
        q: params.get("q").map(|s| s.trim().to_string()).unwrap_or_default(),
        birthdate: params.get("birthdate").map(|s| s.trim().to_string()).unwrap_or_default(),
        cursor: params.get("cursor").filter(|c| !c.is_empty()).cloned(),
    };
    if form.q.chars().count() > 100 {
        return Err(WebError::bad_request(&ctx, ctx.tr("検索語が長すぎます（100 文字まで）。", "The search text is too long (100 characters at most).")));
    }
    let birth = if form.birthdate.is_empty() {
        None
    } else {
        Some(parse_birthdate(&form.birthdate).map_err(|_| {
            WebError::bad_request(
                &ctx,
                format!(
                    "{}: {}",
                    ctx.tr("生年月日の形式が正しくありません", "The birth date is not a date"),
                    form.birthdate
                ) + ctx.tr("（例: 1950-04-01、1950/4/1、1950）", " (e.g. 1950-04-01, 1950/4/1, 1950)"),
            )
        })?)
    };
    let f = form.clone();
    let results = state.blocking(move |s| run_search(s, &f, birth.as_deref())).await.map_err(|e| WebError::from_api(&ctx, e))?;
    let next_href = results.next.as_ref().map(|c| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.append_pair("q", &form.q).append_pair("birthdate", &form.birthdate).append_pair("cursor", c);
        format!("/patients?{}", ser.finish())
    });
    let searched = !form.q.is_empty() || !form.birthdate.is_empty();
    let body = html! {
        form.search role="search" method="get" action="/patients"
            hx-get="/patients" hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-push-url="true"
            hx-trigger="submit, input changed delay:400ms from:#q, change from:#birthdate" {
            label for="q" {
                (ctx.tr("氏名（漢字・カナ）または ID", "Name (kanji or kana) or ID"))
                input #q type="search" name="q" value=(form.q) size="28" autocomplete="off" placeholder=(ctx.tr("例: 山田 太郎、ヤマダ、12345", "e.g. 山田 太郎, ヤマダ, 12345"));
            }
            label for="birthdate" {
                (ctx.t(Key::BirthDate))
                input #birthdate type="text" name="birthdate" value=(form.birthdate) size="12" inputmode="numeric" placeholder="1950-04-01";
            }
            button type="submit" { (ctx.t(Key::Search)) }
            span.spinner aria-hidden="true" { "…" }
        }
        section #results aria-live="polite" aria-labelledby="h-results" {
            h2 #h-results {
                @if searched { (ctx.tr("検索結果", "Results")) } @else { (ctx.tr("患者一覧", "All patients")) }
                @if let Some(t) = results.total { " " span.muted { "(" (ctx.num(t)) (ctx.tr(" 人", " people")) ")" } }
            }
            @if results.hits.is_empty() {
                p { (ctx.t(Key::NoResults)) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (ctx.t(Key::Name)) }
                        th scope="col" { (ctx.tr("カナ", "Kana")) }
                        th scope="col" { (ctx.t(Key::Gender)) }
                        th scope="col" { (ctx.t(Key::BirthDate)) }
                        th scope="col" { (ctx.tr("市区町村", "Municipality")) }
                        th scope="col" { (ctx.t(Key::Id)) }
                    } }
                    tbody {
                        @for h in &results.hits {
                            tr {
                                td { a href=(format!("/patients/{}", h.id)) { (if h.kanji.is_empty() { &h.id } else { &h.kanji }) } }
                                td { (h.kana) }
                                td { (gender(&ctx, &h.gender)) }
                                td { (h.birth) }
                                td { (h.city) }
                                td { code { (h.id) } }
                            }
                        }
                    }
                }
                @if let Some(href) = &next_href {
                    nav.pager aria-label=(ctx.tr("ページ送り", "Pages")) { a.button.secondary href=(href) { (ctx.t(Key::Next)) " →" } }
                }
            }
        }
    };
    Ok(page(&ctx, ctx.t(Key::Patients), body))
}

/// A key lab or vital and how it is coded: JLAC10 analyte codes (the first five
/// characters of the 17-digit code) and LOINC codes.
struct Measure {
    key: &'static str,
    ja: &'static str,
    en: &'static str,
    jlac10: &'static [&'static str],
    loinc: &'static [&'static str],
    color: &'static str,
}

const JLAC10: &str = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits";
const LOINC: &str = "http://loinc.org";

const MEASURES: &[Measure] = &[
    Measure { key: "hba1c", ja: "HbA1c", en: "HbA1c", jlac10: &["3D046"], loinc: &["4548-4", "17856-6"], color: "#0b5cad" },
    Measure { key: "ldl", ja: "LDL コレステロール", en: "LDL cholesterol", jlac10: &["3F077"], loinc: &["13457-7", "18262-6", "2089-1"], color: "#8a4b00" },
    Measure { key: "egfr", ja: "eGFR", en: "eGFR", jlac10: &["8A065"], loinc: &["33914-3", "62238-1", "48642-3", "48643-1", "98979-8"], color: "#1e7a34" },
    Measure { key: "bnp", ja: "BNP", en: "BNP", jlac10: &["4Q020"], loinc: &["30934-4"], color: "#b3261e" },
];
const SYSTOLIC: &[&str] = &["8480-6"];
const DIASTOLIC: &[&str] = &["8462-4"];

fn codings(v: &Value) -> impl Iterator<Item = (&str, &str)> {
    v["coding"].as_array().into_iter().flatten().map(|c| (c["system"].as_str().unwrap_or(""), c["code"].as_str().unwrap_or("")))
}

fn measure_of(code: &Value) -> Option<&'static Measure> {
    codings(code).find_map(|(sys, c)| {
        MEASURES.iter().find(|m| (sys == JLAC10 && m.jlac10.iter().any(|p| c.starts_with(p))) || (sys == LOINC && m.loinc.contains(&c)))
    })
}

fn is_loinc(code: &Value, set: &[&str]) -> bool {
    codings(code).any(|(sys, c)| sys == LOINC && set.contains(&c))
}

fn text_of(v: &Value) -> String {
    v["text"]
        .as_str()
        .or_else(|| v["coding"].as_array().into_iter().flatten().find_map(|c| c["display"].as_str()))
        .or_else(|| v["coding"][0]["code"].as_str())
        .unwrap_or("—")
        .to_string()
}

/// A timeline entry.
struct Event {
    date: String,
    kind: Kind,
    text: String,
    detail: String,
    rtype: &'static str,
    id: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Inpatient,
    Outpatient,
    Condition,
    Medication,
    Procedure,
}

impl Kind {
    fn label(self, ctx: &Ctx) -> &'static str {
        match self {
            Kind::Inpatient => ctx.tr("入院", "admission"),
            Kind::Outpatient => ctx.tr("外来", "outpatient"),
            Kind::Condition => ctx.tr("病名", "condition"),
            Kind::Medication => ctx.tr("処方", "prescription"),
            Kind::Procedure => ctx.tr("処置・手術", "procedure"),
        }
    }
    fn class(self) -> &'static str {
        match self {
            Kind::Inpatient | Kind::Outpatient => "tag",
            Kind::Condition => "tag cond",
            Kind::Medication => "tag med",
            Kind::Procedure => "tag proc",
        }
    }
}

/// (day, value) points of one series.
type Points = Vec<(i64, f64)>;

/// The points of one lab, its unit and its reference range.
type LabSeries = (Points, String, Option<(f64, f64)>);

/// Everything on the twin page, read in one blocking call.
struct Twin {
    patient: Value,
    events: Vec<Event>,
    allergies: Vec<(String, String, String)>,
    active: Vec<(String, String, String)>,
    labs: BTreeMap<&'static str, LabSeries>,
    /// Systolic and diastolic blood pressure.
    bp: (Points, Points),
    truncated: Vec<&'static str>,
    counts: Vec<(&'static str, usize)>,
}

/// The most resources of one type read for one patient.
const MAX_PER_TYPE: usize = 5_000;

fn compartment(s: &dyn Store, rtype: &str, id: &str) -> Result<(Vec<Value>, bool), ApiError> {
    let c = store::search::patient_compartment(rtype, id).ok_or_else(|| ApiError::internal(format!("{rtype} is not in the Patient compartment")))?;
    let r = s.search(&SearchQuery {
        resource_types: vec![rtype.into()],
        conditions: vec![vec![c]],
        count: MAX_PER_TYPE,
        total: TotalMode::None,
        ..Default::default()
    })?;
    let truncated = r.next_cursor.is_some();
    Ok((r.entries.iter().filter_map(|e| e.body.as_deref()).filter_map(|b| serde_json::from_str(b).ok()).collect(), truncated))
}

fn quantity(v: &Value) -> Option<f64> {
    v["valueQuantity"]["value"].as_f64()
}

fn load_twin(s: &dyn Store, id: &str) -> Result<Option<Twin>, ApiError> {
    let Some(stored) = s.read("Patient", id)? else { return Ok(None) };
    let Some(body) = stored.body else { return Ok(None) };
    let patient: Value = serde_json::from_str(&body).map_err(|e| ApiError::internal(format!("stored Patient/{id} is not JSON: {e}")))?;
    let mut t = Twin {
        patient,
        events: Vec::new(),
        allergies: Vec::new(),
        active: Vec::new(),
        labs: BTreeMap::new(),
        bp: (Vec::new(), Vec::new()),
        truncated: Vec::new(),
        counts: Vec::new(),
    };
    let mut read = |rtype: &'static str| -> Result<Vec<Value>, ApiError> {
        let (v, trunc) = compartment(s, rtype, id)?;
        if trunc {
            t.truncated.push(rtype);
        }
        t.counts.push((rtype, v.len()));
        Ok(v)
    };
    let encounters = read("Encounter")?;
    let conditions = read("Condition")?;
    let meds = read("MedicationRequest")?;
    let procs = read("Procedure")?;
    let allergies = read("AllergyIntolerance")?;
    let observations = read("Observation")?;

    // Facility names of the encounters (a handful of Organizations).
    let mut orgs: HashMap<String, String> = HashMap::new();
    for e in &encounters {
        if let Some(r) = e["serviceProvider"]["reference"].as_str()
            && let Some(oid) = r.strip_prefix("Organization/")
            && !orgs.contains_key(oid)
        {
            let name = e["serviceProvider"]["display"].as_str().map(str::to_string).or_else(|| {
                s.read("Organization", oid).ok().flatten().and_then(|o| o.body).and_then(|b| {
                    serde_json::from_str::<Value>(&b).ok().and_then(|v| v["name"].as_str().map(str::to_string))
                })
            });
            orgs.insert(oid.to_string(), name.unwrap_or_else(|| oid.to_string()));
        }
    }
    for e in &encounters {
        let inpatient = e["class"]["code"].as_str().is_some_and(|c| c == "IMP" || c == "ACUTE" || c == "NONAC");
        let start = e["period"]["start"].as_str().unwrap_or("").to_string();
        let end = e["period"]["end"].as_str().unwrap_or("");
        let facility =
            e["serviceProvider"]["reference"].as_str().and_then(|r| r.strip_prefix("Organization/")).and_then(|o| orgs.get(o)).cloned().unwrap_or_default();
        let dept = text_of(&e["serviceType"]);
        let mut detail = facility;
        if inpatient && !end.is_empty() && end.get(..10) != start.get(..10) {
            detail = format!("{detail} · {}〜{}", start.get(..10).unwrap_or(""), end.get(..10).unwrap_or(""));
        }
        t.events.push(Event {
            date: start,
            kind: if inpatient { Kind::Inpatient } else { Kind::Outpatient },
            text: dept,
            detail,
            rtype: "Encounter",
            id: e["id"].as_str().unwrap_or("").to_string(),
        });
    }
    for c in &conditions {
        let date = c["onsetDateTime"].as_str().or(c["recordedDate"].as_str()).unwrap_or("").to_string();
        let status = c["clinicalStatus"]["coding"][0]["code"].as_str().unwrap_or("");
        let icd = codings(&c["code"]).find(|(sys, _)| sys.contains("icd")).map(|(_, code)| code.to_string()).unwrap_or_default();
        let cid = c["id"].as_str().unwrap_or("").to_string();
        if status == "active" || status == "recurrence" || status == "relapse" {
            t.active.push((text_of(&c["code"]), date.get(..10).unwrap_or("").to_string(), cid.clone()));
        }
        t.events.push(Event { date, kind: Kind::Condition, text: text_of(&c["code"]), detail: icd, rtype: "Condition", id: cid });
    }
    for m in &meds {
        let dose = m["dosageInstruction"][0]["text"].as_str().unwrap_or("").to_string();
        t.events.push(Event {
            date: m["authoredOn"].as_str().unwrap_or("").to_string(),
            kind: Kind::Medication,
            text: text_of(&m["medicationCodeableConcept"]),
            detail: dose,
            rtype: "MedicationRequest",
            id: m["id"].as_str().unwrap_or("").to_string(),
        });
    }
    for p in &procs {
        let date = p["performedDateTime"].as_str().or(p["performedPeriod"]["start"].as_str()).unwrap_or("").to_string();
        t.events.push(Event { date, kind: Kind::Procedure, text: text_of(&p["code"]), detail: String::new(), rtype: "Procedure", id: p["id"].as_str().unwrap_or("").to_string() });
    }
    t.events.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| (a.kind as u8).cmp(&(b.kind as u8))));
    for a in &allergies {
        let crit = a["criticality"].as_str().unwrap_or("").to_string();
        t.allergies.push((text_of(&a["code"]), crit, a["id"].as_str().unwrap_or("").to_string()));
    }
    for o in &observations {
        let Some(day) = o["effectiveDateTime"].as_str().or(o["effectivePeriod"]["start"].as_str()).and_then(chart::days) else { continue };
        if let Some(m) = measure_of(&o["code"]) {
            if let Some(v) = quantity(o) {
                let e = t.labs.entry(m.key).or_insert_with(|| (Vec::new(), String::new(), None));
                e.0.push((day, v));
                if e.1.is_empty() {
                    e.1 = o["valueQuantity"]["unit"].as_str().or(o["valueQuantity"]["code"].as_str()).unwrap_or("").to_string();
                }
                if e.2.is_none() {
                    let rr = &o["referenceRange"][0];
                    if let (Some(lo), Some(hi)) = (rr["low"]["value"].as_f64(), rr["high"]["value"].as_f64()) {
                        e.2 = Some((lo, hi));
                    }
                }
            }
            continue;
        }
        if let Some(v) = quantity(o) {
            if is_loinc(&o["code"], SYSTOLIC) {
                t.bp.0.push((day, v));
            } else if is_loinc(&o["code"], DIASTOLIC) {
                t.bp.1.push((day, v));
            }
        }
        for c in o["component"].as_array().into_iter().flatten() {
            if let Some(v) = quantity(c) {
                if is_loinc(&c["code"], SYSTOLIC) {
                    t.bp.0.push((day, v));
                } else if is_loinc(&c["code"], DIASTOLIC) {
                    t.bp.1.push((day, v));
                }
            }
        }
    }
    Ok(Some(t))
}

/// Today as `YYYY-MM-DD` (UTC).
fn today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    chart::civil(secs as i64 / 86_400)
}

/// Whole years between two FHIR dates (`YYYY-MM-DD`).
fn age(birth: &str, on: &str) -> Option<i64> {
    let y = |s: &str| s.get(0..4)?.parse::<i64>().ok();
    let md = |s: &str| s.get(5..10).map(str::to_string).unwrap_or_else(|| "01-01".into());
    let (by, oy) = (y(birth)?, y(on)?);
    let a = oy - by - i64::from(md(on) < md(birth));
    (a >= 0).then_some(a)
}

fn chart_block(ctx: &Ctx, id: &str, title: &str, unit: &str, series: Vec<Series>, range: Option<(f64, f64)>) -> Markup {
    let n: usize = series.iter().map(|s| s.points.len()).sum();
    let latest = series.first().and_then(|s| s.points.iter().max_by_key(|p| p.0)).map(|p| (chart::civil(p.0), p.1));
    html! {
        figure.chart id=(format!("chart-{id}")) aria-labelledby=(format!("cap-{id}")) {
            h3 id=(format!("cap-{id}")) {
                (title)
                @if let Some((d, v)) = &latest {
                    " " span.muted { "— " (ctx.tr("最新", "latest")) " " (fmt_value(*v)) " " (unit) " (" (d) ")" }
                }
            }
            @if n == 0 {
                p.muted { (ctx.tr("記録はありません。", "No results recorded.")) }
            } @else {
                (raw(chart::time_chart(title, unit, &series, range)))
                details {
                    summary { (ctx.tr("数値を表で見る", "Show the values as a table")) " (" (n) ")" }
                    table {
                        thead { tr { th scope="col" { (ctx.t(Key::Date)) } @for s in &series { th.num scope="col" { (s.label) } } } }
                        tbody {
                            @for (d, vals) in table_rows(&series) {
                                tr { td { (d) } @for v in vals { td.num { @if let Some(v) = v { (fmt_value(v)) } } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn fmt_value(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{}", v.round() as i64) } else { format!("{v:.2}").trim_end_matches('0').to_string() }
}

/// Rows (date, value per series) newest first, for the table under a chart.
fn table_rows(series: &[Series]) -> Vec<(String, Vec<Option<f64>>)> {
    let mut by_day: BTreeMap<i64, Vec<Option<f64>>> = BTreeMap::new();
    for (i, s) in series.iter().enumerate() {
        for &(d, v) in &s.points {
            by_day.entry(d).or_insert_with(|| vec![None; series.len()])[i] = Some(v);
        }
    }
    by_day.into_iter().rev().map(|(d, v)| (chart::civil(d), v)).collect()
}

async fn twin(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Result<Html, WebError> {
    if !fhir::id::is_valid_id(&id) {
        return Err(WebError::bad_request(&ctx, format!("{}: {id}", ctx.tr("患者 ID の形式が正しくありません", "Not a valid patient ID"))));
    }
    let pid = id.clone();
    let twin = state.blocking(move |s| load_twin(s, &pid)).await.map_err(|e| WebError::from_api(&ctx, e))?;
    let Some(t) = twin else {
        return Err(WebError::not_found(&ctx, format!("{}: {id}", ctx.tr("この ID の患者はいません", "There is no patient with this ID"))));
    };
    let p = &t.patient;
    let (kanji, kana) = names(p);
    let birth = p["birthDate"].as_str().unwrap_or("");
    let deceased = p["deceasedDateTime"].as_str().map(|d| d.get(..10).unwrap_or(d).to_string());
    let on = deceased.clone().unwrap_or_else(today);
    let age = age(birth, &on);
    let title = if kanji.is_empty() { id.clone() } else { kanji.clone() };
    let mut charts: Vec<Markup> = Vec::new();
    for m in MEASURES {
        let (points, unit, range) = t.labs.get(m.key).cloned().unwrap_or_default();
        let label = ctx.tr(m.ja, m.en);
        charts.push(chart_block(&ctx, m.key, label, &unit, vec![Series { label: label.into(), color: m.color, points }], range));
    }
    charts.push(chart_block(
        &ctx,
        "bp",
        ctx.tr("血圧", "Blood pressure"),
        "mmHg",
        vec![
            Series { label: ctx.tr("収縮期", "systolic").into(), color: "#b3261e", points: t.bp.0.clone() },
            Series { label: ctx.tr("拡張期", "diastolic").into(), color: "#0b5cad", points: t.bp.1.clone() },
        ],
        None,
    ));
    // The timeline, grouped by year, newest first; the two latest years open.
    let mut years: Vec<(String, Vec<&Event>)> = Vec::new();
    for e in &t.events {
        let y = e.date.get(..4).unwrap_or("—").to_string();
        match years.last_mut() {
            Some((ly, v)) if *ly == y => v.push(e),
            _ => years.push((y, vec![e])),
        }
    }
    let identifiers: Vec<String> = p["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["value"].as_str().map(|v| format!("{v} ({})", i["system"].as_str().unwrap_or("").rsplit('/').next().unwrap_or(""))))
        .take(4)
        .collect();
    let body = html! {
        section aria-labelledby="h-facts" {
            h2.visually-hidden #h-facts { (ctx.tr("基本情報", "Demographics")) }
            dl.facts {
                dt { (ctx.tr("カナ", "Kana")) } dd { (kana) }
                dt { (ctx.t(Key::Gender)) } dd { (gender(&ctx, p["gender"].as_str().unwrap_or(""))) }
                dt { (ctx.t(Key::BirthDate)) } dd {
                    (birth)
                    @if let Some(a) = age { " (" (a) (ctx.tr(" 歳", " years")) @if deceased.is_some() { (ctx.tr("、死亡時", " at death")) } ")" }
                }
                @if let Some(d) = &deceased { dt { (ctx.tr("死亡", "Died")) } dd { (d) } }
                dt { (ctx.tr("住所", "Address")) } dd { (p["address"][0]["text"].as_str().unwrap_or("—")) }
                dt { (ctx.t(Key::Id)) } dd { code { (id) } @for i in &identifiers { " · " span.muted { (i) } } }
                dt { (ctx.t(Key::RawJson)) } dd {
                    a href=(format!("/fhir/Patient/{id}")) { "Patient/" (id) }
                    " · "
                    a href=(format!("/fhir/Patient/{id}/$everything")) { "$everything" }
                    " · "
                    a href=(format!("/explorer/Patient/{id}")) { (ctx.tr("整形表示", "formatted")) }
                }
            }
            @if !t.truncated.is_empty() {
                p.note role="note" {
                    (ctx.tr("記録が多いため一部のみ表示しています: ", "Only part of the record is shown (too many resources): "))
                    (t.truncated.join(", "))
                }
            }
        }
        div.grid2 {
            section aria-labelledby="h-allergy" {
                h2 #h-allergy { (ctx.tr("アレルギー", "Allergies")) }
                @if t.allergies.is_empty() {
                    p.muted { (ctx.tr("記録なし", "None recorded")) }
                } @else {
                    ul {
                        @for (name, crit, aid) in &t.allergies {
                            li { span class="tag allergy" { (ctx.tr("アレルギー", "allergy")) } a href=(format!("/explorer/AllergyIntolerance/{aid}")) { (name) } @if !crit.is_empty() { " " span.muted { "(" (ctx.tr("重症度: ", "criticality: ")) (criticality(&ctx, crit)) ")" } } }
                        }
                    }
                }
            }
            section aria-labelledby="h-active" {
                h2 #h-active { (ctx.tr("現在の病名", "Active conditions")) }
                @if t.active.is_empty() {
                    p.muted { (ctx.tr("記録なし", "None recorded")) }
                } @else {
                    ul {
                        @for (name, since, cid) in &t.active {
                            li { a href=(format!("/explorer/Condition/{cid}")) { (name) } " " span.muted { "(" (since) "〜)" } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-charts" {
            h2 #h-charts { (ctx.tr("検査値・バイタルの推移", "Labs and vitals over time")) }
            div.grid2 { @for c in &charts { (c) } }
        }
        section aria-labelledby="h-timeline" {
            h2 #h-timeline { (ctx.tr("経過（受診・病名・処方・処置）", "Timeline (encounters, conditions, prescriptions, procedures)")) }
            p.note {
                @for (rt, n) in &t.counts { (rt) " " (ctx.num(*n as u64)) "　" }
            }
            @if years.is_empty() { p { (ctx.t(Key::NoResults)) } }
            @for (i, (year, events)) in years.iter().enumerate() {
                details open[i < 2] {
                    summary { strong { (year) } " — " (events.len()) (ctx.tr(" 件", " entries")) }
                    ul.timeline {
                        @for e in events {
                            li {
                                time datetime=(e.date) { (e.date.get(..10).unwrap_or(&e.date)) } " "
                                span class=(e.kind.class()) { (e.kind.label(&ctx)) }
                                a href=(format!("/explorer/{}/{}", e.rtype, e.id)) { (e.text) }
                                @if !e.detail.is_empty() { " " span.muted { (e.detail) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&ctx, &title, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kana_and_dates() {
        assert_eq!(normalise_kana("やまだ　たろう"), "ヤマダ タロウ");
        assert_eq!(normalise_kana("山田"), "山田");
        assert_eq!(parse_birthdate("1950/4/1"), Ok("1950-04-01".into()));
        assert_eq!(parse_birthdate("19500401"), Ok("1950-04-01".into()));
        assert_eq!(parse_birthdate("1950-04"), Ok("1950-04".into()));
        assert_eq!(parse_birthdate("1950"), Ok("1950".into()));
        assert!(parse_birthdate("1950-13-01").is_err());
        assert!(parse_birthdate("昭和25年").is_err());
        assert_eq!(age("1950-04-01", "2020-03-31"), Some(69));
        assert_eq!(age("1950-04-01", "2020-04-01"), Some(70));
        assert_eq!(age("2030-01-01", "2020-04-01"), None);
    }

    #[test]
    fn key_labs_are_found_by_jlac10_analyte_or_loinc() {
        let jlac = serde_json::json!({"coding": [{"system": JLAC10, "code": "3D046000001906202"}]});
        assert_eq!(measure_of(&jlac).map(|m| m.key), Some("hba1c"));
        let loinc = serde_json::json!({"coding": [{"system": LOINC, "code": "33914-3"}]});
        assert_eq!(measure_of(&loinc).map(|m| m.key), Some("egfr"));
        let other = serde_json::json!({"coding": [{"system": LOINC, "code": "33762-6"}]});
        assert!(measure_of(&other).is_none(), "NT-proBNP is not BNP");
    }
}
