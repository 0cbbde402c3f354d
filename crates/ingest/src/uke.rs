//! UKE claims (レセプト電算) → FHIR: each claim (RE and its records) becomes
//! a Claim with items (SI/IY/TO with counts, quantities and points; CO as
//! supporting information), a Patient (RE), Coverages (HO insurer, KO public
//! payers) and Conditions (SY). Codes are always kept; 支払基金 master files,
//! when supplied, add names and ICD-10 codes.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use uke::master::Master;
use uke::record::{Ho, Ko, Line, Sy};
use uke::{Claim, RecordKind, UkeFile};

use crate::hl7::dt::prune;
use crate::ids;
use crate::jp;
use crate::report::{Entry, Level, Report};

/// Extension and system URNs for claim facts that FHIR has no element for.
/// They are URNs (not made-up web canonicals) on purpose.
pub mod urn {
    /// Points (点数) of a claim line or a claim total.
    pub const POINTS: &str = "urn:medtwin:uke:points";
    /// 使用量 / 数量データ of a line (in the master's unit).
    pub const AMOUNT: &str = "urn:medtwin:uke:amount";
    /// 算定日情報: `day:count` pairs of the care month.
    pub const DAYS: &str = "urn:medtwin:uke:day-counts";
    /// 診療識別 (care category) code system.
    pub const CARE_CATEGORY: &str = "urn:medtwin:uke:care-category";
    /// レセプト種別 code system.
    pub const RECEIPT_TYPE: &str = "urn:medtwin:uke:receipt-type";
    /// 転帰区分 code system.
    pub const OUTCOME: &str = "urn:medtwin:uke:outcome";
    /// 修飾語コード (claims modifier code) system.
    pub const MODIFIER: &str = "urn:medtwin:uke:modifier";
}

/// Reads every `*.csv` master file in `dir`.
pub fn load_masters(dir: &Path) -> (Master, Report) {
    let mut master = Master::new();
    let mut report = Report::default();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv"))).collect(),
        Err(e) => {
            report.push(entry(Level::Rejected, &dir.display().to_string(), None, None, None, format!("unreadable master directory: {e}")));
            return (master, report);
        }
    };
    files.sort();
    for f in files {
        let label = f.display().to_string();
        match std::fs::read(&f) {
            Ok(b) => {
                let (_, errors) = master.load(&b);
                for e in errors {
                    report.push(entry(Level::Warning, &label, None, None, None, e.to_string()));
                }
            }
            Err(e) => report.push(entry(Level::Rejected, &label, None, None, None, format!("unreadable master file: {e}"))),
        }
    }
    (master, report)
}

fn entry(level: Level, file: &str, message: Option<String>, segment: Option<String>, field: Option<usize>, reason: String) -> Entry {
    Entry { level, file: Some(file.to_string()), message, segment, field, reason }
}

/// Converts UKE files.
pub fn convert_files(paths: &[PathBuf], master: &Master, sink: &mut dyn FnMut(Value)) -> Report {
    convert_files_with(paths, master, &|v| v, &mut |v| sink(v))
}

/// [`convert_files`] on the current rayon thread pool, files in parallel,
/// with a `prepare` step that runs on the worker threads (for example
/// serializing each resource to NDJSON). `sink` runs on the calling thread
/// and sees the resources in file order, so the output does not depend on
/// the number of threads. Files are taken in blocks of at most 256 files or
/// 64 MB, so memory stays bounded.
pub fn convert_files_with<T: Send>(paths: &[PathBuf], master: &Master, prepare: &(dyn Fn(Value) -> T + Sync), sink: &mut dyn FnMut(T)) -> Report {
    use rayon::prelude::*;
    const MAX_FILES: usize = 256;
    const MAX_BYTES: u64 = 64 << 20;
    let mut report = Report::default();
    let mut rest = paths;
    while !rest.is_empty() {
        let (mut n, mut bytes) = (0, 0u64);
        while n < rest.len() && n < MAX_FILES && (n == 0 || bytes < MAX_BYTES) {
            bytes += std::fs::metadata(&rest[n]).map(|m| m.len()).unwrap_or(0);
            n += 1;
        }
        let (block, tail) = rest.split_at(n);
        rest = tail;
        let done: Vec<(Vec<T>, Report)> = block
            .par_iter()
            .map(|p| {
                let label = p.display().to_string();
                let mut rep = Report { files_seen: 1, ..Report::default() };
                let mut out = Vec::new();
                match std::fs::read(p) {
                    Ok(b) => convert_bytes(&b, &label, master, &mut rep, &mut |v| out.push(prepare(v))),
                    Err(e) => rep.push(entry(Level::Rejected, &label, None, None, None, format!("unreadable file: {e}"))),
                }
                (out, rep)
            })
            .collect();
        for (out, rep) in done {
            out.into_iter().for_each(&mut *sink);
            report.merge(rep);
        }
    }
    report
}

/// A Japanese era date `GYYMMDD` (1 明治, 2 大正, 3 昭和, 4 平成, 5 令和) or a
/// Gregorian `YYYYMMDD` / `YYYYMM` as a FHIR date.
pub fn claim_date(s: &str) -> Option<String> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d = match s.len() {
        8 => format!("{}-{}-{}", &s[..4], &s[4..6], &s[6..8]),
        6 => format!("{}-{}", &s[..4], &s[4..6]),
        7 | 5 => {
            let base = match &s[..1] {
                "1" => 1867,
                "2" => 1911,
                "3" => 1925,
                "4" => 1988,
                "5" => 2018,
                _ => return None,
            };
            let y: i32 = s[1..3].parse().ok()?;
            if s.len() == 7 { format!("{:04}-{}-{}", base + y, &s[3..5], &s[5..7]) } else { format!("{:04}-{}", base + y, &s[3..5]) }
        }
        _ => return None,
    };
    fhir::validate::is_date(&d).then_some(d)
}

struct Ctx<'a> {
    file: &'a str,
    facility10: String,
    facility_name: String,
    billing_month: String,
    master: &'a Master,
}

/// Converts the bytes of one UKE file.
pub fn convert_bytes(bytes: &[u8], file: &str, master: &Master, report: &mut Report, sink: &mut dyn FnMut(Value)) {
    let (f, issues) = UkeFile::parse(bytes);
    for i in &issues {
        report.push(entry(
            if i.is_error { Level::Rejected } else { Level::Warning },
            file,
            None,
            Some(format!("{}@{}", i.record, i.line)),
            i.field,
            i.message.clone(),
        ));
    }
    let bad_lines: std::collections::BTreeSet<usize> = issues.iter().filter(|i| i.is_error).map(|i| i.line).collect();
    let Some(ir) = f.ir() else {
        report.push(entry(Level::Rejected, file, None, Some("IR".into()), None, "no IR (facility) record: claims cannot name their provider".into()));
        for r in f.records() {
            report.count_segment(r.id(), false);
        }
        return;
    };
    let ctx = Ctx {
        file,
        facility10: ir.facility_code10(),
        facility_name: ir.facility_name().to_string(),
        billing_month: ir.billing_month().to_string(),
        master,
    };
    let mut line_of_claim = std::collections::HashMap::new();
    for c in f.claims() {
        line_of_claim.insert(c.line, c.records().len());
    }
    // Records outside claims: IR and GO are used (provider, totals check); others are not.
    let mut in_claim = vec![false; f.records().len()];
    for c in f.claims() {
        for k in 0..c.records().len() {
            in_claim[c.line - 1 + k] = true;
        }
    }
    for (k, r) in f.records().iter().enumerate() {
        if !in_claim[k] {
            report.count_segment(r.id(), matches!(r.kind(), RecordKind::Ir | RecordKind::Go));
        }
    }
    for claim in f.claims() {
        let lines = claim.line..claim.line + claim.records().len();
        if let Some(bad) = bad_lines.iter().find(|l| lines.contains(l)) {
            report.push(entry(
                Level::Rejected,
                file,
                Some(format!("RE@{}", claim.line)),
                Some(format!("@{bad}")),
                None,
                "claim contains bytes that are not valid Shift_JIS; not converted".into(),
            ));
            for r in claim.records() {
                report.count_segment(r.id(), false);
            }
            continue;
        }
        convert_claim(&ctx, &claim, report, sink);
    }
}

fn emit(report: &mut Report, sink: &mut dyn FnMut(Value), ctx: &Ctx<'_>, claim_line: usize, r: Value) -> bool {
    let issues: Vec<_> = fhir::validate::validate_resource(&r).into_iter().filter(|i| i.is_error()).collect();
    if issues.is_empty() {
        report.count_resource(r["resourceType"].as_str().unwrap_or("?"));
        sink(r);
        true
    } else {
        let msg = issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        report.push(entry(Level::Rejected, ctx.file, Some(format!("RE@{claim_line}")), None, None, format!("{} {} failed FHIR validation: {msg}", r["resourceType"], r["id"])));
        false
    }
}

fn resource(rt: &str, id: &str, profile: &str, source: &str, body: Value) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("resourceType".into(), rt.into());
    m.insert("id".into(), id.into());
    // Claim has no JP Core profile: its meta carries only the source.
    let meta = if profile.is_empty() { json!({ "source": source }) } else { json!({ "profile": [jp::profile(profile)], "source": source }) };
    m.insert("meta".into(), meta);
    if let Value::Object(b) = prune(body) {
        m.extend(b);
    }
    Value::Object(m)
}

fn source_uri(file: &str, line: usize) -> String {
    let enc: String = file
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    format!("uke:{enc}#L{line}")
}

fn convert_claim(ctx: &Ctx<'_>, claim: &Claim<'_>, report: &mut Report, sink: &mut dyn FnMut(Value)) {
    let re = claim.re();
    let line = claim.line;
    let source = source_uri(ctx.file, line);
    let records = claim.records();
    let mut mapped = vec![false; records.len()];
    mapped[0] = true;
    let msg_label = Some(format!("RE@{line}"));
    let chart = re.chart_no();
    let patient_key: Vec<&str> = if chart.is_empty() {
        report.push(entry(Level::Warning, ctx.file, msg_label.clone(), Some(format!("RE@{line}")), Some(13), "no カルテ番号: the patient id is only valid within this billing month".into()));
        vec![&ctx.facility10, &ctx.billing_month, re.receipt_no()]
    } else {
        vec![&ctx.facility10, chart]
    };
    let patient_id = ids::make("uke-pat", &patient_key);
    let patient_ref = json!({ "reference": format!("Patient/{patient_id}") });
    // Patient (RE).
    let gender = match re.sex() {
        "1" => Some("male"),
        "2" => Some("female"),
        _ => None,
    };
    let birth = claim_date(re.birth_date());
    if birth.is_none() && !re.birth_date().is_empty() {
        report.push(entry(Level::Warning, ctx.file, msg_label.clone(), Some(format!("RE@{line}")), Some(6), format!("invalid birth date {:?}", re.birth_date())));
    }
    let name = |text: &str, rep: &str| {
        if text.is_empty() {
            Value::Null
        } else {
            json!({ "extension": [{ "url": jp::EXT_NAME_REPRESENTATION, "valueCode": rep }], "use": "official", "text": text })
        }
    };
    let patient = resource(
        "Patient",
        &patient_id,
        "JP_Patient",
        &source,
        json!({
            "identifier": if chart.is_empty() { Value::Null } else { json!([{ "system": jp::patient_id_system(&ctx.facility10), "value": chart }]) },
            "name": [name(re.name(), "IDE"), name(re.kana_name(), "SYL")],
            "gender": gender,
            "birthDate": birth,
        }),
    );
    emit(report, sink, ctx, line, patient);
    // Coverages (HO, KO).
    let mut insurance = Vec::new();
    for (k, r) in records.iter().enumerate() {
        if let Some(ho) = r.as_ho() {
            if let Some(cov_id) = coverage_ho(ctx, &ho, &patient_ref, &source, &patient_key, report, sink, line) {
                mapped[k] = true;
                insurance.push(cov_id);
            }
        } else if let Some(ko) = r.as_ko()
            && let Some(cov_id) = coverage_ko(ctx, &ko, &patient_ref, &source, &patient_key, report, sink, line) {
                mapped[k] = true;
                insurance.push(cov_id);
            }
    }
    // Conditions (SY).
    let mut diagnoses = Vec::new();
    for (k, r) in records.iter().enumerate() {
        let Some(sy) = r.as_sy() else { continue };
        match condition(ctx, &sy, &patient_ref, &source, &patient_key) {
            Ok(cond) => {
                let id = cond["id"].as_str().unwrap_or_default().to_string();
                if emit(report, sink, ctx, line, cond) {
                    mapped[k] = true;
                    diagnoses.push(json!({
                        "sequence": diagnoses.len() + 1,
                        "diagnosisReference": { "reference": format!("Condition/{id}") },
                        "type": if sy.main() == "01" { json!([{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/ex-diagnosistype", "code": "principal" }]}]) } else { Value::Null },
                    }));
                }
            }
            Err((field, reason)) => report.push(entry(Level::Rejected, ctx.file, msg_label.clone(), Some(format!("SY@{}", line + k)), Some(field), reason)),
        }
    }
    // Claim items (SI/IY/TO) and comments (CO).
    let mut items = Vec::new();
    let mut supporting = Vec::new();
    let index_of = |rec: &uke::Record| records.iter().position(|r| std::ptr::eq(r, rec));
    for co in claim.leading_comments() {
        if let Some(k) = index_of(co.record()) {
            mapped[k] = true;
        }
        supporting.push(comment_info(supporting.len() + 1, co.code(), co.text()));
    }
    for (l, category, comments) in claim.lines() {
        let Some(k) = index_of(l.record()) else { continue };
        let item_seq = items.len() + 1;
        let mut info_seqs = Vec::new();
        for (code, text) in l.comments() {
            supporting.push(comment_info(supporting.len() + 1, code, text));
            info_seqs.push(supporting.len());
        }
        for co in &comments {
            if let Some(ck) = index_of(co.record()) {
                mapped[ck] = true;
            }
            supporting.push(comment_info(supporting.len() + 1, co.code(), co.text()));
            info_seqs.push(supporting.len());
        }
        match item(ctx, &l, category, item_seq, info_seqs) {
            Ok(it) => {
                mapped[k] = true;
                items.push(it);
            }
            Err((field, reason)) => report.push(entry(Level::Rejected, ctx.file, msg_label.clone(), Some(format!("{}@{}", l.record().id(), line + k)), Some(field), reason)),
        }
    }
    if insurance.is_empty() {
        report.push(entry(Level::Rejected, ctx.file, msg_label.clone(), Some(format!("RE@{line}")), None, "claim has no usable HO or KO record (Claim.insurance is required); Claim not produced".into()));
    } else {
        let receipt_type = re.receipt_type();
        let inpatient = receipt_type.len() == 4 && receipt_type.as_bytes()[3] % 2 == 1;
        let total_points = claim.insurers().next().map(|h| h.points().to_string()).or_else(|| claim.public_payers().next().map(|k| k.points().to_string())).unwrap_or_default();
        let claim_id = ids::make("uke-claim", &[&ctx.facility10, &ctx.billing_month, re.care_month(), re.receipt_no()]);
        let c = resource(
            "Claim",
            &claim_id,
            "",
            &source,
            json!({
                "extension": points_ext(&total_points),
                "identifier": [{ "system": "urn:medtwin:uke:receipt-no", "value": format!("{}-{}-{}", ctx.facility10, ctx.billing_month, re.receipt_no()) }],
                "status": "active",
                "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": if inpatient { "institutional" } else { "professional" } }]},
                "subType": { "coding": [{ "system": urn::RECEIPT_TYPE, "code": receipt_type }]},
                "use": "claim",
                "patient": patient_ref,
                "billablePeriod": { "start": claim_date(re.care_month()), "end": claim_date(re.care_month()) },
                "created": claim_date(&ctx.billing_month),
                "provider": { "type": "Organization", "identifier": { "system": jp::MEDICAL_INSTITUTION_NO, "value": ctx.facility10 }, "display": ctx.facility_name },
                "priority": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal" }]},
                "supportingInfo": supporting,
                "diagnosis": diagnoses,
                "insurance": insurance.iter().enumerate().map(|(i, id)| json!({
                    "sequence": i + 1, "focal": i == 0, "coverage": { "reference": format!("Coverage/{id}") } })).collect::<Vec<_>>(),
                "item": items,
            }),
        );
        if c.get("created").is_none() {
            report.push(entry(Level::Rejected, ctx.file, msg_label.clone(), Some("IR".into()), Some(7), format!("IR-7 billing month {:?} is not a date (Claim.created is required)", ctx.billing_month)));
        } else {
            emit(report, sink, ctx, line, c);
        }
    }
    for (r, m) in records.iter().zip(&mapped) {
        report.count_segment(r.id(), *m);
    }
    report.converted += 1;
}

fn points_ext(points: &str) -> Value {
    match crate::hl7::dt::number(points) {
        Some(n) => json!([{ "url": urn::POINTS, "valueDecimal": n }]),
        None => Value::Null,
    }
}

fn comment_info(seq: usize, code: &str, text: &str) -> Value {
    json!({
        "sequence": seq,
        "category": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/claiminformationcategory", "code": "info" }]},
        "code": if code.is_empty() { Value::Null } else { json!({ "coding": [{ "system": jp::RECEIPT_COMMENT, "code": code }]}) },
        "valueString": text,
    })
}

#[allow(clippy::too_many_arguments)]
fn coverage_ho(ctx: &Ctx<'_>, ho: &Ho<'_>, patient: &Value, source: &str, key: &[&str], report: &mut Report, sink: &mut dyn FnMut(Value), line: usize) -> Option<String> {
    let insurer = ho.insurer_no().trim();
    if insurer.is_empty() {
        report.push(entry(Level::Rejected, ctx.file, Some(format!("RE@{line}")), Some("HO".into()), Some(1), "HO-1 保険者番号 is missing".into()));
        return None;
    }
    let mut parts = key.to_vec();
    parts.extend([insurer, ho.card_symbol(), ho.card_number()]);
    let id = ids::make("uke-cov", &parts);
    let member = format!("{}:{}:{}:{}", insurer, ho.card_symbol(), ho.card_number(), ho.branch_no());
    let cov = resource(
        "Coverage",
        &id,
        "JP_Coverage",
        source,
        json!({
            "extension": [
                if ho.card_symbol().is_empty() { Value::Null } else { json!({ "url": jp::EXT_INSURED_SYMBOL, "valueString": ho.card_symbol() }) },
                if ho.card_number().is_empty() { Value::Null } else { json!({ "url": jp::EXT_INSURED_NUMBER, "valueString": ho.card_number() }) },
            ],
            "identifier": [{ "system": jp::INSURANCE_MEMBER_ID, "value": member }],
            "status": "active",
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PUBLICPOL" }], "text": "医療保険" },
            "beneficiary": patient,
            "payor": [{ "type": "Organization", "identifier": { "system": jp::INSURER_NUMBER, "value": insurer } }],
        }),
    );
    emit(report, sink, ctx, line, cov).then_some(id)
}

#[allow(clippy::too_many_arguments)]
fn coverage_ko(ctx: &Ctx<'_>, ko: &Ko<'_>, patient: &Value, source: &str, key: &[&str], report: &mut Report, sink: &mut dyn FnMut(Value), line: usize) -> Option<String> {
    let payer = ko.payer_no().trim();
    if payer.is_empty() {
        report.push(entry(Level::Rejected, ctx.file, Some(format!("RE@{line}")), Some("KO".into()), Some(1), "KO-1 公費負担者番号 is missing".into()));
        return None;
    }
    let mut parts = key.to_vec();
    parts.extend([payer, ko.recipient_no()]);
    let id = ids::make("uke-cov", &parts);
    let cov = resource(
        "Coverage",
        &id,
        "JP_Coverage",
        source,
        json!({
            "identifier": if ko.recipient_no().is_empty() { Value::Null } else { json!([{ "system": jp::PUBLIC_RECIPIENT_NUMBER, "value": ko.recipient_no() }]) },
            "status": "active",
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PUBLICPOL" }], "text": "公費負担医療" },
            "beneficiary": patient,
            "payor": [{ "type": "Organization", "identifier": { "system": jp::PUBLIC_PAYER_NUMBER, "value": payer } }],
        }),
    );
    emit(report, sink, ctx, line, cov).then_some(id)
}

fn condition(ctx: &Ctx<'_>, sy: &Sy<'_>, patient: &Value, source: &str, key: &[&str]) -> Result<Value, (usize, String)> {
    let code = sy.code().trim();
    if code.is_empty() {
        return Err((1, "SY-1 傷病名コード is missing".into()));
    }
    let m = ctx.master.get('B', code);
    let text = if sy.is_uncoded() || m.is_none() { sy.name() } else { m.map(|e| e.name.as_str()).unwrap_or("") };
    if sy.is_uncoded() && text.is_empty() {
        return Err((5, "uncoded diagnosis (0000999) without a name".into()));
    }
    let mut codings = vec![json!({ "system": jp::RECEIPT_DISEASE, "code": code, "display": m.map(|e| e.name.as_str()).unwrap_or("") })];
    if let Some(e) = m {
        if let Some(icd) = &e.icd10 {
            codings.push(json!({ "system": jp::ICD10, "code": icd }));
        }
        if let Some(k) = &e.medis_key {
            codings.push(json!({ "system": jp::MEDIS_DISEASE_KEY, "code": k }));
        }
        if let Some(x) = &e.exchange_code {
            codings.push(json!({ "system": jp::MEDIS_DISEASE_EXCODE, "code": x }));
        }
    }
    let mut ext: Vec<Value> = sy
        .modifier_codes()
        .into_iter()
        .map(|mc| {
            let me = ctx.master.get('Z', mc);
            // 修飾語 codes 8000–8999 are suffixes (接尾語); the rest prefixes.
            let name = if mc.starts_with('8') { "JP_Condition_DiseasePostfixModifier" } else { "JP_Condition_DiseasePrefixModifier" };
            let mut codings = vec![json!({ "system": urn::MODIFIER, "code": mc, "display": me.map(|e| e.name.as_str()).unwrap_or("") })];
            if let Some(x) = me.and_then(|e| e.exchange_code.as_ref()) {
                codings.push(json!({ "system": jp::MEDIS_MODIFIER_EXCODE, "code": x }));
            }
            json!({ "url": format!("http://jpfhir.jp/fhir/core/Extension/StructureDefinition/{name}"), "valueCodeableConcept": { "coding": codings } })
        })
        .collect();
    if !sy.outcome().is_empty() {
        ext.push(json!({ "url": "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Condition_DiseaseOutcome", "valueCodeableConcept": { "coding": [{ "system": urn::OUTCOME, "code": sy.outcome() }]} }));
    }
    let clinical = match sy.outcome() {
        "2" => "resolved",
        "4" => "inactive",
        _ => "active",
    };
    let onset = claim_date(sy.start_date());
    let mut parts = key.to_vec();
    let name_hash = format!("{:016x}", ids::fnv1a(sy.name()));
    parts.extend([code, sy.start_date(), if sy.is_uncoded() { name_hash.as_str() } else { sy.modifiers() }]);
    let id = ids::make("uke-cond", &parts);
    Ok(resource(
        "Condition",
        &id,
        "JP_Condition",
        source,
        json!({
            "extension": ext,
            "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical }]},
            "verificationStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed" }]},
            "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis" }]}],
            "code": { "coding": codings, "text": text },
            "subject": patient,
            "onsetDateTime": onset,
            "note": if sy.comment().is_empty() { Value::Null } else { json!([{ "text": sy.comment() }]) },
        }),
    ))
}

fn item(ctx: &Ctx<'_>, l: &Line<'_>, category: &str, seq: usize, info: Vec<usize>) -> Result<Value, (usize, String)> {
    let code = l.code().trim();
    if code.is_empty() {
        return Err((3, format!("{}-3 レセ電コード is missing", l.record().id())));
    }
    let (system, kind) = match l.record().kind() {
        RecordKind::Si => (jp::RECEIPT_PROCEDURE, 'S'),
        RecordKind::Iy => (jp::RECEIPT_DRUG, 'Y'),
        _ => (jp::RECEIPT_MATERIAL, 'T'),
    };
    let m = ctx.master.get(kind, code);
    let count = l.count();
    let count_v = crate::hl7::dt::number(count);
    if count_v.is_none() && !count.is_empty() {
        return Err((6, format!("回数 {count:?} is not a number")));
    }
    let days = l.days();
    let day_text = days.iter().map(|(d, n)| format!("{d}:{n}")).collect::<Vec<_>>().join(",");
    let mut ext = Vec::new();
    if let Some(p) = crate::hl7::dt::number(l.points()) {
        ext.push(json!({ "url": urn::POINTS, "valueDecimal": p }));
    }
    if let Some(a) = crate::hl7::dt::number(l.quantity()) {
        ext.push(json!({ "url": urn::AMOUNT, "valueQuantity": { "value": a, "unit": m.and_then(|e| e.unit.clone()) } }));
    }
    if !day_text.is_empty() {
        ext.push(json!({ "url": urn::DAYS, "valueString": day_text }));
    }
    Ok(json!({
        "extension": ext,
        "sequence": seq,
        "informationSequence": info,
        "category": if category.is_empty() { Value::Null } else { json!({ "coding": [{ "system": urn::CARE_CATEGORY, "code": category }]}) },
        "productOrService": { "coding": [{ "system": system, "code": code, "display": m.map(|e| e.name.as_str()).unwrap_or("") }]},
        "quantity": count_v.map(|v| json!({ "value": v })),
    }))
}
