//! Text renderings of the reports shared by the CLI and the web page, so both
//! show the same numbers: CSV (UTF-8 with a BOM so that Excel in Japan opens
//! it correctly) and plain aligned tables. Suppressed counts print as `<10`;
//! rates print as percentages with one decimal, or `-` when not shown.

use std::fmt::Write as _;

use crate::measure::{FacilityReport, FlowReport, FlowTable, RateReport, Unknowns};
use crate::reference::{Comparison, ReferenceArea};
use crate::suppress::Count;

/// The UTF-8 byte-order mark.
pub const BOM: &str = "\u{feff}";

/// The label of the CSV row counting records whose patient's residence is unknown.
pub const UNKNOWN_RESIDENCE: &str = "住所地不明（集計から除外）";
/// The label of the CSV row counting records whose facility's location is unknown.
pub const UNKNOWN_FACILITY: &str = "医療機関所在地不明（集計から除外）";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn row(out: &mut String, fields: &[String]) {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

/// A rate as a percentage with one decimal, or `-`.
pub fn pct(r: Option<f64>) -> String {
    r.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_else(|| "-".into())
}

fn num(r: Option<f64>, digits: usize) -> String {
    r.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "-".into())
}

/// A rate per 1,000 with three significant digits (at least three decimals),
/// so that the small rates of a sample never print as 0.000; `-` when not shown.
pub fn rate(r: Option<f64>) -> String {
    match r {
        None => "-".into(),
        Some(x) if x <= 0.0 || !x.is_finite() => format!("{x:.3}"),
        Some(x) => {
            let digits = (2 - x.log10().floor() as i32).clamp(3, 8) as usize;
            format!("{x:.digits$}")
        }
    }
}

/// Which table of the flow report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowPart {
    /// One row per residence × care cell (long format), with totals.
    Cells,
    /// One row per area: within, inflow, outflow, 自給率.
    Areas,
}

/// The flow report as CSV.
pub fn flows_csv(r: &FlowReport, part: FlowPart) -> String {
    let mut out = String::from(BOM);
    match part {
        FlowPart::Cells => {
            row(&mut out, &["residence_code", "residence_name", "care_code", "care_name", "patients", "records"].map(String::from));
            let nc = r.cols.len();
            for (i, rr) in r.rows.iter().enumerate() {
                for (j, cc) in r.cols.iter().enumerate() {
                    row(&mut out, &[
                        rr.code.clone(),
                        rr.name.clone(),
                        cc.code.clone(),
                        cc.name.clone(),
                        r.patients.cells[i * nc + j].to_string(),
                        r.records.cells[i * nc + j].to_string(),
                    ]);
                }
                row(&mut out, &[
                    rr.code.clone(),
                    rr.name.clone(),
                    "total".into(),
                    "合計".into(),
                    r.patients.row_totals[i].to_string(),
                    r.records.row_totals[i].to_string(),
                ]);
            }
            for (j, cc) in r.cols.iter().enumerate() {
                row(&mut out, &[
                    "total".into(),
                    "合計".into(),
                    cc.code.clone(),
                    cc.name.clone(),
                    r.patients.col_totals[j].to_string(),
                    r.records.col_totals[j].to_string(),
                ]);
            }
            row(&mut out, &["total", "合計", "total", "合計"].map(String::from).into_iter().chain([r.patients.total.to_string(), r.records.total.to_string()]).collect::<Vec<_>>());
            // What could not be placed (excluded from the rows above).
            let u = &r.unknown;
            row(&mut out, &["unknown", UNKNOWN_RESIDENCE, "total", "合計"].map(String::from).into_iter().chain([u.residence_patients.to_string(), u.residence_records.to_string()]).collect::<Vec<_>>());
            row(&mut out, &["total", "合計", "unknown", UNKNOWN_FACILITY].map(String::from).into_iter().chain([u.facility_patients.to_string(), u.facility_records.to_string()]).collect::<Vec<_>>());
        }
        FlowPart::Areas => {
            row(
                &mut out,
                &["area_code", "area_name", "residents", "treated", "within", "outflow", "inflow", "self_sufficiency", "outflow_rate", "inflow_rate"]
                    .map(String::from),
            );
            for a in &r.patients.areas {
                row(&mut out, &[
                    a.area.code.clone(),
                    a.area.name.clone(),
                    a.residents.to_string(),
                    a.treated.to_string(),
                    a.within.to_string(),
                    a.outflow.to_string(),
                    a.inflow.to_string(),
                    num(a.self_sufficiency, 4),
                    num(a.outflow_rate, 4),
                    num(a.inflow_rate, 4),
                ]);
            }
            // Patients who could not be placed: residents of no area, treated in no area.
            let u = &r.unknown;
            let blank = || std::iter::repeat_n(String::new(), 6);
            row(&mut out, &["unknown".to_string(), UNKNOWN_RESIDENCE.into(), u.residence_patients.to_string(), String::new()].into_iter().chain(blank()).collect::<Vec<_>>());
            row(&mut out, &["unknown".to_string(), UNKNOWN_FACILITY.into(), String::new(), u.facility_patients.to_string()].into_iter().chain(blank()).collect::<Vec<_>>());
        }
    }
    out
}

fn width(s: &str) -> usize {
    // East Asian wide characters take two columns.
    s.chars().map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 }).sum()
}

fn pad(s: &str, w: usize, right: bool) -> String {
    let fill = " ".repeat(w.saturating_sub(width(s)));
    if right { format!("{fill}{s}") } else { format!("{s}{fill}") }
}

/// An aligned text table.
pub fn text_table(head: &[String], rows: &[Vec<String>]) -> String {
    let n = head.len();
    let mut w = vec![0; n];
    for r in std::iter::once(head).chain(rows.iter().map(Vec::as_slice)) {
        for (i, c) in r.iter().enumerate().take(n) {
            w[i] = w[i].max(width(c));
        }
    }
    let mut out = String::new();
    for (k, r) in std::iter::once(head).chain(rows.iter().map(Vec::as_slice)).enumerate() {
        let cells: Vec<String> = r.iter().enumerate().take(n).map(|(i, c)| pad(c, w[i], i > 0)).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if k == 0 {
            out.push_str(&w.iter().map(|x| "-".repeat(*x)).collect::<Vec<_>>().join("  "));
            out.push('\n');
        }
    }
    out
}

/// The note on records that could not be placed.
pub fn unknown_note(u: &Unknowns) -> String {
    format!(
        "住所地不明: {} 件（{} 人） / 医療機関所在地不明: {} 件（{} 人）（集計から除外）",
        u.residence_records, u.residence_patients, u.facility_records, u.facility_patients
    )
}

fn matrix_text(r: &FlowReport, t: &FlowTable) -> String {
    let mut head = vec![format!("住所地＼医療機関所在地 ({})", r.level.label())];
    head.extend(r.cols.iter().map(|c| c.name.clone()));
    head.push("合計".into());
    let nc = r.cols.len();
    let mut rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .enumerate()
        .map(|(i, rr)| {
            let mut v = vec![rr.name.clone()];
            v.extend((0..nc).map(|j| t.cells[i * nc + j].to_string()));
            v.push(t.row_totals[i].to_string());
            v
        })
        .collect();
    let mut last = vec!["合計".to_string()];
    last.extend(t.col_totals.iter().map(Count::to_string));
    last.push(t.total.to_string());
    rows.push(last);
    text_table(&head, &rows)
}

/// The flow report as text: header, patient matrix, area summary, notes.
pub fn flows_text(r: &FlowReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "患者流出入: {} / {} / {} 単位 / {} / 期間 {}〜{}",
        r.disease.1,
        r.setting.label(),
        r.level.label(),
        match r.source {
            crate::Source::Encounters => "受診（Encounter）",
            crate::Source::Claims => "レセプト（Claim）",
        },
        r.period.0.as_deref().unwrap_or("-"),
        r.period.1.as_deref().unwrap_or("-")
    );
    let _ = writeln!(out, "\n患者数（住所地 × 医療機関所在地; 1〜{} は <{} と表示し、合計から逆算できないよう補完秘匿）", r.threshold.saturating_sub(1), r.threshold);
    out.push_str(&matrix_text(r, &r.patients));
    let _ = writeln!(out, "\n区域別（患者数）");
    let head: Vec<String> =
        ["区域", "住民の受療", "区域内", "流出", "流入", "区域での受療", "自給率", "流出率", "流入率"].map(String::from).to_vec();
    let rows: Vec<Vec<String>> = r
        .patients
        .areas
        .iter()
        .map(|a| {
            vec![
                a.area.name.clone(),
                a.residents.to_string(),
                a.within.to_string(),
                a.outflow.to_string(),
                a.inflow.to_string(),
                a.treated.to_string(),
                pct(a.self_sufficiency),
                pct(a.outflow_rate),
                pct(a.inflow_rate),
            ]
        })
        .collect();
    out.push_str(&text_table(&head, &rows));
    let _ = writeln!(out, "\n{}", unknown_note(&r.unknown));
    out
}

/// The facility report as CSV (long format with totals).
pub fn facilities_csv(r: &FacilityReport) -> String {
    let mut out = String::from(BOM);
    row(&mut out, &["facility_id", "facility_name", "institution_code", "facility_area", "residence_code", "residence_name", "patients"].map(String::from));
    let nc = r.cols.len();
    for (i, f) in r.facilities.iter().enumerate() {
        let base = [f.id.clone(), f.name.clone(), f.institution_code.clone().unwrap_or_default(), f.area.as_ref().map(|a| a.name.clone()).unwrap_or_default()];
        for (j, c) in r.cols.iter().enumerate() {
            row(&mut out, &[base.to_vec(), vec![c.code.clone(), c.name.clone(), r.cells[i * nc + j].to_string()]].concat());
        }
        row(&mut out, &[base.to_vec(), vec!["total".into(), "合計".into(), r.row_totals[i].to_string()]].concat());
    }
    for (j, c) in r.cols.iter().enumerate() {
        row(&mut out, &["total", "合計", "", ""].map(String::from).into_iter().chain([c.code.clone(), c.name.clone(), r.col_totals[j].to_string()]).collect::<Vec<_>>());
    }
    row(&mut out, &["total", "合計", "", "", "total", "合計"].map(String::from).into_iter().chain([r.total.to_string()]).collect::<Vec<_>>());
    row(&mut out, &["total", "合計", "", "", "unknown", UNKNOWN_RESIDENCE].map(String::from).into_iter().chain([r.unknown.residence_patients.to_string()]).collect::<Vec<_>>());
    out
}

/// The facility report as text.
pub fn facilities_text(r: &FacilityReport) -> String {
    let mut out = format!("医療機関別 住所地別患者数: {} / {} / 住所地 {} 単位\n", r.disease.1, r.setting.label(), r.level.label());
    let mut head = vec!["医療機関".to_string(), "所在".to_string()];
    head.extend(r.cols.iter().map(|c| c.name.clone()));
    head.push("合計".into());
    let nc = r.cols.len();
    let mut rows: Vec<Vec<String>> = r
        .facilities
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut v = vec![f.name.clone(), f.area.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| "不明".into())];
            v.extend((0..nc).map(|j| r.cells[i * nc + j].to_string()));
            v.push(r.row_totals[i].to_string());
            v
        })
        .collect();
    let mut last = vec!["合計".to_string(), String::new()];
    last.extend(r.col_totals.iter().map(Count::to_string));
    last.push(r.total.to_string());
    rows.push(last);
    out.push_str(&text_table(&head, &rows));
    let _ = writeln!(out, "\n{}", unknown_note(&r.unknown));
    out
}

/// The rates report as CSV (long format, with area totals).
pub fn rates_csv(r: &RateReport) -> String {
    let mut out = String::from(BOM);
    row(&mut out, &["area_code", "area_name", "period", "months", "population", "claims", "claims_per_1000_per_month", "mean_points"].map(String::from));
    let np = r.periods.len();
    for (i, a) in r.rows.iter().enumerate() {
        let pop = r.population[i].map(|p| p.to_string()).unwrap_or_default();
        for (j, p) in r.periods.iter().enumerate() {
            let c = &r.cells[i * np + j];
            row(&mut out, &[a.code.clone(), a.name.clone(), p.clone(), r.months[j].to_string(), pop.clone(), c.claims.to_string(), rate(c.rate_per_1000), num(c.mean_points, 1)]);
        }
        let c = &r.row_totals[i];
        let months: u32 = r.months.iter().sum();
        row(&mut out, &[a.code.clone(), a.name.clone(), "total".into(), months.to_string(), pop, c.claims.to_string(), rate(c.rate_per_1000), num(c.mean_points, 1)]);
    }
    let months: u32 = r.months.iter().sum();
    row(&mut out, &["unknown".to_string(), "区域外・住所地不明（集計から除外）".into(), "total".into(), months.to_string(), String::new(), r.outside_or_unknown_residence.to_string(), "-".into(), "-".into()]);
    out
}

/// The rates report as text: one row per area with the whole-period figures,
/// then per period over the region.
pub fn rates_text(r: &RateReport) -> String {
    let mut out = format!("レセプト件数・発生率・1件当たり点数: {} / {} / {} 単位\n", r.disease.1, r.setting.label(), r.level.label());
    let head: Vec<String> = ["区域", "人口", "レセプト件数", "千人・月当たり", "平均点数"].map(String::from).to_vec();
    let mut rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let c = &r.row_totals[i];
            vec![a.name.clone(), r.population[i].map(|p| p.to_string()).unwrap_or_default(), c.claims.to_string(), rate(c.rate_per_1000), num(c.mean_points, 1)]
        })
        .collect();
    rows.push(vec!["合計".into(), String::new(), r.total.claims.to_string(), rate(r.total.rate_per_1000), num(r.total.mean_points, 1)]);
    out.push_str(&text_table(&head, &rows));
    let _ = writeln!(out, "\n期間別（地域全体）");
    let head: Vec<String> = ["期間", "レセプト件数", "千人・月当たり", "平均点数"].map(String::from).to_vec();
    let rows: Vec<Vec<String>> = r
        .periods
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let c = &r.col_totals[j];
            vec![p.clone(), c.claims.to_string(), rate(c.rate_per_1000), num(c.mean_points, 1)]
        })
        .collect();
    out.push_str(&text_table(&head, &rows));
    let _ = writeln!(out, "\n区域外・住所不明の住民のレセプト: {} 件（除外）", r.outside_or_unknown_residence);
    out
}

/// The reference table as CSV.
pub fn reference_csv(list: &[ReferenceArea]) -> String {
    let mut out = String::from(BOM);
    row(
        &mut out,
        &["pref_code", "pref_name", "area_code", "area_name", "population_2020", "acute_outflow_rate", "acute_inflow_rate", "overall_outflow_rate", "overall_inflow_rate"]
            .map(String::from),
    );
    for a in list {
        row(&mut out, &[
            a.pref_code.clone(),
            a.pref_name.clone(),
            a.code.clone(),
            a.name.clone(),
            a.population.to_string(),
            num(a.acute_outflow_rate, 4),
            num(a.acute_inflow_rate, 4),
            num(a.overall_outflow_rate, 4),
            num(a.overall_inflow_rate, 4),
        ]);
    }
    out
}

/// The reference table as text.
pub fn reference_text(list: &[ReferenceArea]) -> String {
    let head: Vec<String> = ["都道府県", "構想区域", "人口(2020)", "急性期流出率", "急性期流入率", "全体流出率", "全体流入率"].map(String::from).to_vec();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.pref_name.clone(),
                format!("{} {}", a.code, a.name),
                a.population.to_string(),
                pct(a.acute_outflow_rate),
                pct(a.acute_inflow_rate),
                pct(a.overall_outflow_rate),
                pct(a.overall_inflow_rate),
            ]
        })
        .collect();
    let mut out = text_table(&head, &rows);
    out.push_str(&format!("\n{}（NDB、令和7年度公表）\n", areas::MHLW_CREDIT));
    out
}

/// The comparison as CSV.
pub fn comparison_csv(list: &[Comparison]) -> String {
    let mut out = String::from(BOM);
    row(
        &mut out,
        &["area_code", "area_name", "computed_outflow_rate", "ndb_acute_outflow_rate", "outflow_difference", "computed_inflow_rate", "ndb_acute_inflow_rate", "inflow_difference"]
            .map(String::from),
    );
    for c in list {
        row(&mut out, &[
            c.reference.code.clone(),
            c.reference.name.clone(),
            num(c.outflow_rate, 4),
            num(c.reference.acute_outflow_rate, 4),
            num(c.outflow_difference, 4),
            num(c.inflow_rate, 4),
            num(c.reference.acute_inflow_rate, 4),
            num(c.inflow_difference, 4),
        ]);
    }
    out
}

/// The comparison as text.
pub fn comparison_text(list: &[Comparison]) -> String {
    let head: Vec<String> = ["構想区域", "流出率(データ)", "流出率(NDB急性期)", "差", "流入率(データ)", "流入率(NDB急性期)", "差"].map(String::from).to_vec();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                format!("{} {}", c.reference.code, c.reference.name),
                pct(c.outflow_rate),
                pct(c.reference.acute_outflow_rate),
                pct(c.outflow_difference),
                pct(c.inflow_rate),
                pct(c.reference.acute_inflow_rate),
                pct(c.inflow_difference),
            ]
        })
        .collect();
    let mut out = text_table(&head, &rows);
    out.push_str(&format!("\n{}（NDB、令和7年度公表）\n", areas::MHLW_CREDIT));
    out
}
