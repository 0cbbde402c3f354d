//! Studies (`/studies`): the studies shipped in `studies/` (embedded in the
//! binary as `analytics::study::SHIPPED_FILES`), each with its question,
//! data, design and a button that runs it over the server's store with the
//! same library code as `medtwin study run` (`analytics::study::run`). The
//! result shows the report's Kaplan–Meier plots, balance table, Love plot,
//! hazard ratios or rates, and downloads: `report.html`, `results.json` and
//! the CSV files.
//!
//! Routes: `GET /studies` (list), `GET /studies/{name}` (the study and its
//! last result), `POST /studies/{name}/run` (run, then 303 to the study),
//! `GET /studies/{name}/files/{file}` (downloads of the last result). A study
//! that cannot run on the data (no events, perfect separation, ...) is a 422
//! page with the library's message. The last result of each study is kept in
//! memory ([`StudyCache`]) until the next run.

use super::layout::page_with_status;
use super::{Ctx, Key, WebError, page};
use crate::AppState;
use analytics::study::report::ReportBody;
use analytics::study::{Lang as StudyLang, Report, SHIPPED_FILES, Study, StudyFiles};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, PreEscaped, html};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/studies", get(list))
        .route("/studies/{name}", get(show))
        .route("/studies/{name}/run", post(run))
        .route("/studies/{name}/files/{file}", get(file))
}

/// A finished run of one study.
struct Done {
    report: Report,
    /// When it finished.
    at: SystemTime,
    /// How long the views, SQL and statistics took.
    elapsed: Duration,
    /// (view, resources read, rows) per view.
    views: Vec<(String, u64, u64)>,
}

/// The last result of each study, by study name.
#[derive(Default)]
pub(crate) struct StudyCache {
    done: Mutex<HashMap<String, Arc<Done>>>,
}

impl StudyCache {
    fn get(&self, name: &str) -> Option<Arc<Done>> {
        self.done.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    fn put(&self, name: &str, d: Done) {
        self.done.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), Arc::new(d));
    }
}

/// The shipped studies. They are checked by the analytics tests, so a parse
/// failure here is a broken build; it is still an error page, not a panic.
fn studies(ctx: &Ctx) -> Result<Vec<Study>, WebError> {
    analytics::study::shipped().map_err(|e| WebError::internal(ctx, e.to_string()))
}

fn find(ctx: &Ctx, name: &str) -> Result<Study, WebError> {
    studies(ctx)?.into_iter().find(|s| s.name == name).ok_or_else(|| {
        WebError::not_found(ctx, format!("{} `{name}`", ctx.tr("この名前の研究はありません:", "No study named")))
    })
}

fn lang(ctx: &Ctx) -> StudyLang {
    if ctx.lang.code() == "en" { StudyLang::En } else { StudyLang::Ja }
}

fn design_text(ctx: &Ctx, s: &Study) -> String {
    use analytics::study::spec::Design;
    match &s.design {
        Design::Matching { caliper, ratio, .. } => format!(
            "{} (1:{ratio}, {} {caliper} SD)",
            ctx.tr("傾向スコアマッチング", "Propensity score matching"),
            ctx.tr("キャリパー", "caliper")
        ),
        Design::Weighting { estimand, .. } => {
            format!("{} ({})", ctx.tr("逆確率重み付け", "Inverse probability weighting"), estimand.to_uppercase())
        }
        Design::Rates { group, group_label } => format!(
            "{}: {}",
            ctx.tr("サブグループ別の割合 (Wilson 信頼区間)", "Proportions by subgroup (Wilson intervals)"),
            group_label.as_ref().map_or(group.as_str(), |l| l.get(lang(ctx)))
        ),
    }
}

async fn list(ctx: Ctx) -> Result<Response, WebError> {
    let all = studies(&ctx)?;
    let l = lang(&ctx);
    let body = html! {
        p { (ctx.tr(
            "研究ファイル（studies/*.json）は、FHIR から解析表を作るビューと SQL、曝露、アウトカム、共変量、解析デザインを定めます。「実行」でこのサーバーのデータに対して解析し、結果とレポートを表示します。コマンドラインでは medtwin study run で同じ解析ができます。",
            "A study file (studies/*.json) names the views and SQL that build its analysis table from FHIR, the exposure, outcomes, covariates and the design. Run one over this server's data to see its results and report; `medtwin study run` runs the same analysis from the command line."
        )) }
        ul.study-list {
            @for s in &all {
                li {
                    h2 { a href=(format!("/studies/{}", s.name)) { (s.title.get(l)) } }
                    p.muted { (design_text(&ctx, s)) " · " (s.outcomes.len()) (ctx.tr(" アウトカム", " outcomes")) }
                    @if let Some(d) = &s.description { p.note { (d.get(l)) } }
                }
            }
        }
    };
    Ok(page(&ctx, ctx.t(Key::Studies), body).into_response())
}

/// The study's definition: views, SQL (collapsed), exposure, outcomes, covariates.
fn definition(ctx: &Ctx, s: &Study) -> Markup {
    use analytics::study::spec::ViewRef;
    let l = lang(ctx);
    let sql = analytics::study::data::sql_text(s, StudyFiles::Embedded(SHIPPED_FILES)).unwrap_or_default();
    html! {
        dl.facts {
            dt { (ctx.tr("デザイン", "Design")) } dd { (design_text(ctx, s)) }
            @if let Some(e) = &s.exposure {
                dt { (ctx.tr("曝露", "Exposure")) }
                dd { (e.label.get(l)) " " span.muted { "(" (ctx.tr("対照: ", "reference: ")) (e.reference_label.get(l)) ")" } }
            }
            dt { (ctx.tr("アウトカム", "Outcomes")) }
            dd { @for (i, o) in s.outcomes.iter().enumerate() { @if i > 0 { ", " } (o.label.get(l)) } }
            @if !s.covariates.is_empty() {
                dt { (ctx.tr("共変量", "Covariates")) }
                dd { @for (i, c) in s.covariates.iter().enumerate() {
                    @if i > 0 { ", " }
                    (c.label.as_ref().map_or(c.column.as_str(), |x| x.get(l)))
                } }
            }
            dt { (ctx.tr("ビュー", "Views")) }
            dd { @for (i, v) in s.data.views.iter().enumerate() {
                @if i > 0 { ", " }
                code { @match v { ViewRef::Name(n) => (n), ViewRef::Inline(_) => (ctx.tr("(埋め込み)", "(inline)")) } }
            } }
        }
        details {
            summary { (ctx.tr("解析表を作る SQL", "The SQL that builds the analysis table")) }
            pre { (sql) }
        }
    }
}

fn result_section(ctx: &Ctx, s: &Study, d: &Done) -> Markup {
    let l = lang(ctx);
    let files: Vec<String> = d.report.files(l).into_iter().map(|(n, _)| n).collect();
    let headline = headline(ctx, &d.report);
    html! {
        section #results aria-labelledby="h-results" {
            h2 #h-results { (ctx.tr("結果", "Results")) }
            p.note {
                (ctx.tr("実行: ", "Run at ")) (crate::web::fmt_time(d.at)) " · "
                (ctx.num(d.report.n_rows as u64)) (ctx.tr(" 行", " rows")) " · "
                (format!("{:.1} s", d.elapsed.as_secs_f64())) " · "
                (ctx.tr("ビュー: ", "views: "))
                @for (i, (v, res, rows)) in d.views.iter().enumerate() {
                    @if i > 0 { ", " }
                    code { (v) } " " (ctx.num(*res)) "→" (ctx.num(*rows))
                }
            }
            (headline)
            div.report { (PreEscaped(analytics::study::render::render_sections(&d.report, l))) }
            h2 { (ctx.t(Key::Download)) }
            ul.downloads {
                @for f in &files {
                    li { a href=(format!("/studies/{}/files/{f}", s.name)) download=(format!("{}-{f}", s.name)) { (f) } }
                }
            }
        }
    }
}

/// The headline numbers as a table with stable ids, so people (and tests)
/// find them without reading the whole report.
fn headline(ctx: &Ctx, r: &Report) -> Markup {
    let l = lang(ctx);
    match &r.body {
        ReportBody::Survival(sr) => html! {
            table #headline {
                caption { (ctx.tr("ハザード比 (95% 信頼区間)", "Hazard ratios (95% CI)")) }
                thead { tr {
                    th scope="col" { (ctx.tr("アウトカム", "Outcome")) }
                    th scope="col" { (ctx.tr("未調整", "Unadjusted")) }
                    th scope="col" { (ctx.tr("多変量調整", "Multivariable")) }
                    th scope="col" { @if sr.design == "matching" { (ctx.tr("マッチング後", "Matched")) } @else { (ctx.tr("重み付け", "Weighted")) } }
                } }
                tbody {
                    @for o in &sr.outcomes {
                        tr data-outcome=(o.name) {
                            th scope="row" { (o.label.get(l)) }
                            @for (k, h) in [("unadjusted", &o.naive), ("multivariable", &o.multivariable), ("adjusted", &o.adjusted)] {
                                td.num data-model=(k) data-hr=(h.hr) { (format!("{:.2} ({:.2}–{:.2})", h.hr, h.ci.0, h.ci.1)) }
                            }
                        }
                    }
                }
            }
        },
        ReportBody::Rates(rr) => html! {
            table #headline {
                caption { (ctx.tr("割合 (95% 信頼区間)", "Proportions (95% CI)")) }
                thead { tr {
                    th scope="col" { (rr.group_label.as_ref().map_or(rr.group_column.as_str(), |x| x.get(l))) }
                    @for o in &rr.outcomes { th scope="col" { (o.label.get(l)) } }
                } }
                tbody {
                    @for (i, row) in rr.outcomes.first().map(|o| o.rows.as_slice()).unwrap_or(&[]).iter().enumerate() {
                        tr data-group=(row.group) {
                            th scope="row" { (row.group) }
                            @for o in &rr.outcomes {
                                @if let Some(x) = o.rows.get(i) {
                                    td.num data-outcome=(o.name) data-events=(x.events) data-n=(x.n) {
                                        (x.events) "/" (x.n) " = " (format!("{:.1}% ({:.1}–{:.1}%)", x.proportion * 100.0, x.ci.0 * 100.0, x.ci.1 * 100.0))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    }
}

fn study_page(ctx: &Ctx, s: &Study, done: Option<&Done>, error: Option<&str>) -> Markup {
    let l = lang(ctx);
    html! {
        p { a href="/studies" { "← " (ctx.t(Key::Studies)) } }
        @if let Some(d) = &s.description { p { (d.get(l)) } }
        (definition(ctx, s))
        form method="post" action=(format!("/studies/{}/run?lang={}", s.name, ctx.lang.code())) {
            p {
                button type="submit" { (ctx.tr("このサーバーのデータで実行", "Run on this server's data")) }
                " "
                span.note { (ctx.tr("ビューの計算と解析に、データ量に応じて数秒から数分かかります。", "Computing the views and the statistics takes seconds to minutes, depending on the data.")) }
            }
        }
        @if let Some(e) = error {
            div.error role="alert" {
                p { strong { (ctx.tr("この研究はこのデータでは実行できませんでした", "The study could not run on this data")) } }
                pre { (e) }
            }
        }
        @if let Some(d) = done { (result_section(ctx, s, d)) }
    }
}

async fn show(State(state): State<AppState>, ctx: Ctx, Path(name): Path<String>) -> Result<Response, WebError> {
    let s = find(&ctx, &name)?;
    let done = state.web.studies.get(&name);
    Ok(page(&ctx, s.title.get(lang(&ctx)), study_page(&ctx, &s, done.as_deref(), None)).into_response())
}

/// The store as a resource source for the study's views.
struct StoreSource<'a>(&'a dyn store::Store);

impl analytics::view::ResourceSource for StoreSource<'_> {
    fn scan(
        &mut self,
        rtype: &str,
        each: &mut dyn FnMut(String) -> analytics::view::Result<()>,
    ) -> analytics::view::Result<()> {
        if !fhir::definitions::r4().is_resource_type(rtype) {
            return Err(analytics::view::Error::Source(format!("'{rtype}' is not a FHIR R4 resource type")));
        }
        // The scan reads and decompresses on its own thread while the views evaluate.
        let store = self.0;
        let (scanned, viewed) = analytics::view::overlapped(
            |give| {
                store.scan(rtype, None, &mut |json| {
                    if give(json) { Ok(()) } else { Err(store::Error::Aborted("view failed".into())) }
                })
            },
            &mut |json| each(json.to_string()).map(|()| true),
        );
        viewed?;
        scanned.map_err(|e| analytics::view::Error::Source(e.to_string()))
    }
}

async fn run(State(state): State<AppState>, ctx: Ctx, Path(name): Path<String>) -> Result<Response, WebError> {
    let s = find(&ctx, &name)?;
    let (st, study) = (state.clone(), s.clone());
    let started = std::time::Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let standard = analytics::view::standard();
        analytics::study::run(&study, StudyFiles::Embedded(SHIPPED_FILES), &standard, &mut StoreSource(st.store.as_ref()))
    })
    .await
    .map_err(|e| WebError::internal(&ctx, e.to_string()))?;
    match outcome {
        Ok(r) => {
            let views = r.views.iter().map(|(n, s)| (n.clone(), s.resources, s.rows)).collect();
            let done = Done { report: r.report, at: SystemTime::now(), elapsed: started.elapsed(), views };
            tracing::info!(study = %name, rows = done.report.n_rows, ms = done.elapsed.as_millis() as u64, "study run");
            state.web.studies.put(&name, done);
            Ok(Redirect::to(&format!("/studies/{name}?lang={}#results", ctx.lang.code())).into_response())
        }
        Err(e) => {
            use analytics::study::Error;
            // Bad data or a study the data cannot support is the user's
            // business (422 with the message); anything else is ours.
            if !matches!(e, Error::Analysis { .. } | Error::EmptyCohort | Error::OneArm { .. } | Error::NoMatches | Error::Sql(_) | Error::View(_) | Error::Table(_)) {
                return Err(WebError::internal(&ctx, e.to_string()));
            }
            let done = state.web.studies.get(&name);
            let body = study_page(&ctx, &s, done.as_deref(), Some(&e.to_string()));
            Ok(page_with_status(&ctx, StatusCode::UNPROCESSABLE_ENTITY, s.title.get(lang(&ctx)), body))
        }
    }
}

async fn file(State(state): State<AppState>, ctx: Ctx, Path((name, file)): Path<(String, String)>) -> Result<Response, WebError> {
    let s = find(&ctx, &name)?;
    let Some(done) = state.web.studies.get(&s.name) else {
        return Err(WebError::not_found(
            &ctx,
            ctx.tr("この研究はまだ実行されていません。研究のページで「実行」を押してください。", "This study has not been run yet; run it from its page first."),
        ));
    };
    let Some((_, body)) = done.report.files(lang(&ctx)).into_iter().find(|(n, _)| *n == file) else {
        return Err(WebError::not_found(&ctx, format!("{} {file}", ctx.tr("このファイルはありません:", "No such file:"))));
    };
    let ty = if file.ends_with(".html") {
        "text/html; charset=utf-8"
    } else if file.ends_with(".json") {
        "application/json"
    } else {
        "text/csv; charset=utf-8"
    };
    let mut res = body.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    if !file.ends_with(".html") {
        let disp = format!("attachment; filename=\"{}-{file}\"", s.name);
        if let Ok(v) = HeaderValue::from_str(&disp) {
            res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::Lang;

    #[test]
    fn every_shipped_study_is_listed_with_its_design() {
        let ctx = Ctx::new(Lang::En);
        let all = studies(&ctx).expect("shipped studies parse");
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["heart-failure-mortality", "statin-intensity"]);
        assert!(design_text(&ctx, &all[1]).starts_with("Propensity score matching (1:1"));
        let def = definition(&ctx, &all[1]).into_string();
        assert!(def.contains("procedures.json") && def.contains("high_intensity"), "{def}");
    }
}
