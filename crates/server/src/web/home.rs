//! Home (`/`): what data is loaded (counts by resource type, the sources it
//! came from, the last write) and links to every part of the platform.

use super::{Ctx, Html, Key, WebError, page};
use crate::AppState;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use maud::html;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/", get(home))
}

/// What the home page shows, read in one blocking call.
struct Summary {
    counts: Vec<(String, u64)>,
    last_write: Option<String>,
    sources: Vec<((&'static str, &'static str), u64)>,
}

async fn home(State(state): State<AppState>, ctx: Ctx) -> Result<Html, WebError> {
    let web = state.web.clone();
    let summary = state
        .blocking(move |s| {
            let mut counts = web.counts(s)?.as_ref().clone();
            counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let last_write = s.last_write()?.map(|i| i.to_fhir());
            Ok(Summary { sources: sources(&counts), counts, last_write })
        })
        .await
        .map_err(|e| WebError::from_api(&ctx, e))?;
    let total: u64 = summary.counts.iter().map(|c| c.1).sum();
    let count_of = |t: &str| summary.counts.iter().find(|c| c.0 == t).map(|c| c.1).unwrap_or(0);
    let body = html! {
        p.lead {
            (ctx.tr(
                "medtwin は日本の医療データ（FHIR、SS-MIX2、レセプト）を一つの FHIR リポジトリに集め、患者ごとのデジタルツイン、研究用の解析、地域の医療提供体制の分析を行う基盤です。",
                "medtwin gathers Japanese clinical data (FHIR, SS-MIX2, claims) into one FHIR repository and offers each patient's digital twin, research analytics and regional analysis on top of it."
            ))
        }
        @if summary.counts.is_empty() {
            div.error role="status" {
                p { (ctx.tr("データがまだありません。", "No data is loaded yet.")) }
                p { code { "medtwin demo" } (ctx.tr(" で合成データを生成して読み込むか、", " generates and loads a synthetic population; or load your own with ")) code { "medtwin import FILES" } (ctx.tr(" で読み込んでください。", ".")) }
            }
        }
        section aria-labelledby="h-overview" {
            h2 #h-overview { (ctx.tr("読み込まれているデータ", "Data loaded")) }
            div.cards {
                div.card { div.big { (ctx.num(count_of("Patient"))) } div.label { (ctx.tr("患者", "patients")) } }
                div.card { div.big { (ctx.num(count_of("Encounter"))) } div.label { (ctx.tr("受診・入院", "encounters")) } }
                div.card { div.big { (ctx.num(count_of("Observation"))) } div.label { (ctx.tr("検査・バイタル", "observations")) } }
                div.card { div.big { (ctx.num(count_of("Organization"))) } div.label { (ctx.tr("医療機関", "facilities")) } }
                div.card { div.big { (ctx.num(total)) } div.label { (ctx.tr("FHIR リソース合計", "FHIR resources in all")) } }
            }
            p.note {
                (ctx.tr("最終更新: ", "Last write: "))
                @match &summary.last_write { Some(t) => time datetime=(t) { (t) }, None => "—" }
            }
        }
        div.grid2 {
            section aria-labelledby="h-counts" {
                h2 #h-counts { (ctx.tr("リソース種別ごとの件数", "Resources by type")) }
                @if summary.counts.is_empty() {
                    p { (ctx.t(Key::NoResults)) }
                } @else {
                    table {
                        caption.muted { (ctx.tr("現在の版のみ（削除済みを除く）", "Current versions, deleted excluded")) }
                        thead { tr { th scope="col" { (ctx.tr("リソース種別", "Resource type")) } th.num scope="col" { (ctx.t(Key::Count)) } } }
                        tbody {
                            @for (t, n) in &summary.counts {
                                tr {
                                    td { a href=(format!("/explorer?type={t}")) { (t) } }
                                    td.num { (ctx.num(*n)) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="h-sources" {
                h2 #h-sources { (ctx.tr("データの種類", "Kinds of data")) }
                @if summary.sources.is_empty() {
                    p { (ctx.t(Key::NoResults)) }
                } @else {
                    table {
                        thead { tr { th scope="col" { (ctx.tr("区分", "Kind")) } th.num scope="col" { (ctx.t(Key::Count)) } } }
                        tbody {
                            @for (label, n) in &summary.sources {
                                tr { td { (ctx.tr(label.0, label.1)) } td.num { (ctx.num(*n)) } }
                            }
                        }
                    }
                }
                h2 #h-links { (ctx.tr("できること", "What you can do")) }
                ul.links aria-labelledby="h-links" {
                    li { a href="/patients" { (ctx.t(Key::Patients)) } " — " (ctx.tr("患者を検索し、経過・検査値・処方を一画面で見る", "find a patient and see their history, labs and prescriptions on one page")) }
                    li { a href="/studies" { (ctx.t(Key::Studies)) } " — " (ctx.tr("同梱の臨床研究を実行する（生存曲線、表、ダウンロード）", "run the shipped clinical studies (survival curves, tables, downloads)")) }
                    li { a href="/regional" { (ctx.t(Key::Regional)) } " — " (ctx.tr("二次医療圏の間の患者の流れを見る", "see patient flows between secondary medical areas")) }
                    li { a href="/sql" { (ctx.t(Key::Sql)) } " — " (ctx.tr("標準ビューに SQL で問い合わせ、CSV で保存する", "query the standard views with SQL and save CSV")) }
                    li { a href="/explorer" { (ctx.t(Key::Fhir)) } " — " (ctx.tr("FHIR リソースを種別とパラメータで検索し、JSON を見る", "search FHIR resources by type and parameters and view their JSON")) }
                    li { a href="/fhir/metadata" { "CapabilityStatement" } " — " (ctx.tr("FHIR R4 API（", "the FHIR R4 API (")) code { "/fhir" } (ctx.tr("）の機能一覧", ")")) }
                }
            }
        }
    };
    Ok(page(&ctx, ctx.t(Key::Home), body))
}

/// The kinds of data loaded, grouped from the resource counts into what a
/// person recognises (clinical records, claims, facilities, …).
fn sources(counts: &[(String, u64)]) -> Vec<((&'static str, &'static str), u64)> {
    type Group = ((&'static str, &'static str), &'static [&'static str]);
    const GROUPS: &[Group] = &[
        (("診療記録（受診・病名・検査・処方・処置）", "clinical records (encounters, conditions, labs, prescriptions, procedures)"), &["Encounter", "Condition", "Observation", "MedicationRequest", "Procedure", "AllergyIntolerance", "DiagnosticReport"]),
        (("レセプト（診療報酬請求）", "claims"), &["Claim", "ExplanationOfBenefit", "Coverage"]),
        (("医療機関・医療従事者", "facilities and practitioners"), &["Organization", "Location", "Practitioner", "PractitionerRole"]),
        (("患者", "patients"), &["Patient"]),
    ];
    let mut out: Vec<((&'static str, &'static str), u64)> = GROUPS
        .iter()
        .map(|(label, types)| (*label, counts.iter().filter(|c| types.contains(&c.0.as_str())).map(|c| c.1).sum::<u64>()))
        .filter(|g| g.1 > 0)
        .collect();
    let grouped: Vec<&str> = GROUPS.iter().flat_map(|g| g.1.iter().copied()).collect();
    let other: u64 = counts.iter().filter(|c| !grouped.contains(&c.0.as_str())).map(|c| c.1).sum();
    if other > 0 {
        out.push((("その他", "other"), other));
    }
    out
}
