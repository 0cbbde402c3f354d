//! 地域分析 (`/regional`): patient flows between areas for a disease group,
//! setting, period and record source (encounters or claims), with a
//! choropleth of the chosen measure, a Sankey diagram, the tables behind them
//! and CSV downloads (`/regional/*.csv`, UTF-8 with a BOM), and the national
//! layer: the MHLW NDB reference rates of all 339 構想区域 as a map of Japan by
//! prefecture, with 三重県's areas compared against the data set. Every number comes from `regional` (the same functions,
//! filters and disclosure control as `medtwin regional`), computed over the
//! store's current resources; the places and events are cached per store and
//! rebuilt when the store's last write changes.

use super::{Ctx, Html, WebError, page};
use crate::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{PreEscaped, html};
use regional::measure::{self, FlowReport, RateReport};
use regional::render::{self, FlowPart};
use regional::svg::Shade;
use regional::{AreaModel, Dataset, DiseaseGroup, Filter, Level, Month, Period, Policy, Setting, Source, Tables};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/regional", get(page_handler))
        .route("/regional/flows.csv", get(flows_csv))
        .route("/regional/areas.csv", get(areas_csv))
        .route("/regional/rates.csv", get(rates_csv))
        .route("/regional/facilities.csv", get(facilities_csv))
}

/// The filters of the page (query parameters), with the CLI's defaults.
struct Params {
    disease: DiseaseGroup,
    setting: Setting,
    level: Level,
    from: Option<Month>,
    to: Option<Month>,
    source: Source,
    measure: String,
    query: String,
}

const MEASURES: &[(&str, &str, &str)] = &[
    ("self_sufficiency", "自給率", "self-sufficiency"),
    ("outflow_rate", "流出率", "outflow rate"),
    ("inflow_rate", "流入率", "inflow rate"),
    ("claims_rate", "レセプト件数（千人・月当たり）", "claims per 1,000 per month"),
];

fn params(ctx: &Ctx, q: &HashMap<String, String>) -> Result<Params, WebError> {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|s| !s.is_empty());
    let bad = |e: regional::Error| WebError::bad_request(ctx, e.to_string());
    let month = |k: &str| -> Result<Option<Month>, WebError> {
        match get(k) {
            None => Ok(None),
            Some(s) => Month::parse(s).filter(|_| s.len() == 7).map(Some).ok_or_else(|| {
                WebError::bad_request(ctx, format!("{}: {s}", ctx.tr("期間は YYYY-MM で指定してください", "months are YYYY-MM")))
            }),
        }
    };
    let measure = get("measure").unwrap_or("self_sufficiency").to_string();
    if !MEASURES.iter().any(|m| m.0 == measure) {
        return Err(WebError::bad_request(ctx, format!("measure: {measure}")));
    }
    let p = Params {
        disease: DiseaseGroup::parse(get("disease").unwrap_or("stroke")).map_err(bad)?,
        setting: Setting::parse(get("setting").unwrap_or("inpatient")).map_err(bad)?,
        level: Level::parse(get("level").unwrap_or("kosoku")).map_err(bad)?,
        from: month("from")?,
        to: month("to")?,
        source: match get("source").unwrap_or("encounters") {
            "encounters" => Source::Encounters,
            "claims" => Source::Claims,
            other => return Err(WebError::bad_request(ctx, format!("source: {other} (encounters, claims)"))),
        },
        measure,
        query: form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q.iter().filter(|(k, _)| k.as_str() != "lang").map(|(k, v)| (k.as_str(), v.as_str())))
            .finish(),
    };
    if let (Some(a), Some(b)) = (p.from, p.to)
        && a > b
    {
        return Err(WebError::bad_request(ctx, format!("{}: {a} > {b}", ctx.tr("開始月が終了月より後です", "the first month is after the last"))));
    }
    if p.level == Level::Prefecture {
        return Err(WebError::bad_request(ctx, ctx.tr("この画面の単位は市町村・構想区域・二次医療圏です", "levels here are municipality, kosoku or iryoken2")));
    }
    Ok(p)
}

impl Params {
    fn filter(&self) -> Filter {
        Filter { disease: self.disease.clone(), setting: self.setting, from: self.from, to: self.to }
    }
}

/// The store's places and events, cached per (store, last write).
type Cached = (usize, Option<String>, Arc<(AreaModel, Dataset)>);

fn cache() -> &'static Mutex<Option<Cached>> {
    static CACHE: std::sync::OnceLock<Mutex<Option<Cached>>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(None))
}

async fn dataset(state: &AppState, ctx: &Ctx) -> Result<Arc<(AreaModel, Dataset)>, WebError> {
    let key = Arc::as_ptr(&state.store) as *const () as usize;
    state
        .blocking(move |s| {
            let stamp = s.last_write()?.map(|i| i.to_fhir());
            if let Ok(guard) = cache().lock()
                && let Some((k, st, d)) = guard.as_ref()
                && *k == key
                && *st == stamp
            {
                return Ok(d.clone());
            }
            let model = AreaModel::mie().map_err(|e| crate::error::ApiError::internal(e.to_string()))?;
            let mut failure: Option<regional::Error> = None;
            let tables = Tables::from_resources(&mut |ty, push| {
                let r = s.scan(ty, None, &mut |json| {
                    push(json.to_string()).map_err(|e| {
                        failure = Some(e.into());
                        store::Error::Aborted("view failed".into())
                    })
                });
                match (r, failure.take()) {
                    (_, Some(f)) => Err(f),
                    (Err(e), None) => Err(regional::Error::Invalid(format!("reading the store: {e}"))),
                    (Ok(()), None) => Ok(()),
                }
            })
            .map_err(|e| crate::error::ApiError::internal(e.to_string()))?;
            let ds = Dataset::build(&tables, &model).map_err(|e| crate::error::ApiError::internal(e.to_string()))?;
            let d = Arc::new((model, ds));
            if let Ok(mut guard) = cache().lock() {
                *guard = Some((key, stamp, d.clone()));
            }
            Ok(d)
        })
        .await
        .map_err(|e| WebError::from_api(ctx, e))
}

fn reports(d: &(AreaModel, Dataset), p: &Params) -> (FlowReport, RateReport) {
    let (m, ds) = d;
    let f = p.filter();
    let flows = measure::flows(ds, m, p.level, &f, p.source, Policy::default());
    let rates = measure::rates(ds, m, p.level, &f, Period::Month, Policy::default());
    (flows, rates)
}

fn csv_response(name: &str, body: String) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

async fn flows_csv(State(state): State<AppState>, ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Result<Response, WebError> {
    let p = params(&ctx, &q)?;
    let d = dataset(&state, &ctx).await?;
    Ok(csv_response("regional-flows.csv", render::flows_csv(&reports(&d, &p).0, FlowPart::Cells)))
}

async fn areas_csv(State(state): State<AppState>, ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Result<Response, WebError> {
    let p = params(&ctx, &q)?;
    let d = dataset(&state, &ctx).await?;
    Ok(csv_response("regional-areas.csv", render::flows_csv(&reports(&d, &p).0, FlowPart::Areas)))
}

async fn rates_csv(State(state): State<AppState>, ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Result<Response, WebError> {
    let p = params(&ctx, &q)?;
    let d = dataset(&state, &ctx).await?;
    Ok(csv_response("regional-rates.csv", render::rates_csv(&reports(&d, &p).1)))
}

async fn facilities_csv(State(state): State<AppState>, ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Result<Response, WebError> {
    let p = params(&ctx, &q)?;
    let d = dataset(&state, &ctx).await?;
    let r = measure::facilities(&d.1, &d.0, p.level, &p.filter(), p.source, Policy::default());
    Ok(csv_response("regional-facilities.csv", render::facilities_csv(&r)))
}

async fn page_handler(State(state): State<AppState>, ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Result<Html, WebError> {
    let p = params(&ctx, &q)?;
    let d = dataset(&state, &ctx).await?;
    let (flows, rates) = reports(&d, &p);
    let model = &d.0;
    // The NDB comparison is by 構想区域, whatever the page's level.
    let flows_kosoku = if p.level == Level::Kosoku {
        flows.clone()
    } else {
        measure::flows(&d.1, model, Level::Kosoku, &p.filter(), p.source, Policy::default())
    };
    // The map: the chosen measure per area of the level.
    let mut shades: HashMap<String, Shade> = HashMap::new();
    if p.measure == "claims_rate" {
        for (u, t) in rates.rows.iter().zip(&rates.row_totals) {
            let s = match (t.claims.is_suppressed(), t.rate_per_1000) {
                (true, _) => Shade::Suppressed(t.claims.to_string()),
                (false, Some(x)) => Shade::Value(x, render::rate(Some(x))),
                _ => continue,
            };
            shades.insert(u.code.clone(), s);
        }
    } else {
        for a in &flows.patients.areas {
            let v = match p.measure.as_str() {
                "outflow_rate" => a.outflow_rate,
                "inflow_rate" => a.inflow_rate,
                _ => a.self_sufficiency,
            };
            let s = match v {
                Some(x) => Shade::Value(x, render::pct(Some(x))),
                None if a.residents.is_suppressed() || a.within.is_suppressed() || a.treated.is_suppressed() => Shade::Suppressed("秘匿".into()),
                None => continue,
            };
            shades.insert(a.area.code.clone(), s);
        }
    }
    let measure_label = MEASURES.iter().find(|m| m.0 == p.measure).map(|m| ctx.tr(m.1, m.2)).unwrap_or_default();
    let map = regional::svg::choropleth(model, p.level, &shades, &format!("{measure_label}（{}・{}）", flows.disease.1, p.setting.label()), measure_label)
        .map_err(|e| WebError::internal(&ctx, e.to_string()))?;
    let rows: Vec<String> = flows.rows.iter().map(|x| x.name.clone()).collect();
    let cols: Vec<String> = flows.cols.iter().map(|x| x.name.clone()).collect();
    let sankey = regional::svg::sankey(&rows, &cols, &flows.patients, &format!("{}（{}）の患者の流れ", flows.disease.1, p.setting.label()));
    let nc = flows.cols.len();
    let sel = |k: &str, v: &str| q.get(k).map(String::as_str) == Some(v);
    let disease_key = flows.disease.0.clone();
    let body = html! {
        p.lead { (ctx.tr(
            "住所地と医療機関所在地から、患者がどこで医療を受けているか（区域内・流出・流入・自給率）を疾病・入院外来・期間別に示します。1〜9 の数は「<10」、逆算を防ぐために伏せた数は「秘匿」と表示します。",
            "Where patients are treated relative to where they live (within, outflow, inflow, self-sufficiency) by disease, setting and period. Counts of 1–9 show as “<10”; counts hidden so that they cannot be recovered show as “秘匿”."
        )) }
        form.filters method="get" action="/regional" {
            label { (ctx.tr("疾病", "Disease")) " "
                select name="disease" id="disease" {
                    option value="all" selected[disease_key == "all"] { (ctx.tr("全疾患", "all")) }
                    @for (k, n, list) in regional::disease::FIVE_DISEASES {
                        option value=(k) selected[disease_key == *k] { (n) " (" (list) ")" }
                    }
                }
            }
            label { (ctx.tr("入院・外来", "Setting")) " "
                select name="setting" id="setting" {
                    option value="inpatient" selected[p.setting == Setting::Inpatient] { (ctx.tr("入院", "inpatient")) }
                    option value="outpatient" selected[p.setting == Setting::Outpatient] { (ctx.tr("外来", "outpatient")) }
                    option value="all" selected[p.setting == Setting::All] { (ctx.tr("入院・外来", "both")) }
                }
            }
            label { (ctx.tr("集計対象", "Records")) " "
                select name="source" id="source" {
                    option value="encounters" selected[p.source == Source::Encounters] { (ctx.tr("受診（Encounter）", "encounters")) }
                    option value="claims" selected[p.source == Source::Claims] { (ctx.tr("レセプト（Claim）", "claims")) }
                }
            }
            label { (ctx.tr("単位", "Level")) " "
                select name="level" id="level" {
                    option value="kosoku" selected[p.level == Level::Kosoku] { (ctx.tr("構想区域", "構想区域 (planning area)")) }
                    option value="iryoken2" selected[p.level == Level::Iryoken2] { (ctx.tr("二次医療圏", "二次医療圏 (secondary medical area)")) }
                    option value="municipality" selected[p.level == Level::Municipality] { (ctx.tr("市町村", "municipality")) }
                }
            }
            label { (ctx.tr("地図の指標", "Map measure")) " "
                select name="measure" id="measure" {
                    @for (k, ja, en) in MEASURES { option value=(k) selected[sel("measure", k) || (!q.contains_key("measure") && *k == "self_sufficiency")] { (ctx.tr(ja, en)) } }
                }
            }
            label { (ctx.tr("開始月", "From")) " " input type="month" name="from" id="from" value=(p.from.map(|m| m.to_string()).unwrap_or_default()); }
            label { (ctx.tr("終了月", "To")) " " input type="month" name="to" id="to" value=(p.to.map(|m| m.to_string()).unwrap_or_default()); }
            button type="submit" { (ctx.tr("表示", "Show")) }
        }
        p.note #regional-summary {
            (flows.disease.1) " / " (p.setting.label()) " / " (p.level.label()) " / "
            (ctx.tr("期間 ", "period ")) (flows.period.0.clone().unwrap_or_else(|| "-".into())) "〜" (flows.period.1.clone().unwrap_or_else(|| "-".into()))
            " / " (ctx.tr("患者数合計 ", "patients ")) span #total-patients { (flows.patients.total.to_string()) }
        }
        p.note { (render::unknown_note(&flows.unknown)) }
        section aria-labelledby="h-map" {
            h2 #h-map { (ctx.tr("地図", "Map")) }
            div.scroll { figure #region-map { (PreEscaped(map)) } }
        }
        section aria-labelledby="h-sankey" {
            h2 #h-sankey { (ctx.tr("患者の流れ", "Patient flows")) }
            div.scroll { figure #sankey { (PreEscaped(sankey)) } }
        }
        section aria-labelledby="h-areas" {
            h2 #h-areas { (ctx.tr("区域別の流出入（患者数）", "Flows per area (patients)")) }
            p { a.button.secondary href=(format!("/regional/areas.csv?{}", p.query)) download="regional-areas.csv" { "CSV" } }
            table #areas-table {
                thead { tr {
                    th scope="col" { (p.level.label()) }
                    th.num scope="col" { (ctx.tr("住民の受療", "residents treated")) }
                    th.num scope="col" { (ctx.tr("区域内", "within")) }
                    th.num scope="col" { (ctx.tr("流出", "outflow")) }
                    th.num scope="col" { (ctx.tr("流入", "inflow")) }
                    th.num scope="col" { (ctx.tr("区域での受療", "treated in area")) }
                    th.num scope="col" { (ctx.tr("自給率", "self-sufficiency")) }
                    th.num scope="col" { (ctx.tr("流出率", "outflow rate")) }
                    th.num scope="col" { (ctx.tr("流入率", "inflow rate")) }
                } }
                tbody {
                    @for a in &flows.patients.areas {
                        tr data-code=(a.area.code) {
                            th scope="row" { (a.area.name) }
                            td.num { (a.residents.to_string()) }
                            td.num { (a.within.to_string()) }
                            td.num { (a.outflow.to_string()) }
                            td.num { (a.inflow.to_string()) }
                            td.num { (a.treated.to_string()) }
                            td.num { (render::pct(a.self_sufficiency)) }
                            td.num { (render::pct(a.outflow_rate)) }
                            td.num { (render::pct(a.inflow_rate)) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-matrix" {
            h2 #h-matrix { (ctx.tr("住所地 × 医療機関所在地（患者数）", "Residence × place of care (patients)")) }
            p { a.button.secondary href=(format!("/regional/flows.csv?{}", p.query)) download="regional-flows.csv" { "CSV" } " "
                a.button.secondary href=(format!("/regional/facilities.csv?{}", p.query)) download="regional-facilities.csv" { (ctx.tr("医療機関別 CSV", "per facility CSV")) } }
            div.scroll {
                table #flow-matrix {
                    thead { tr {
                        th scope="col" { (ctx.tr("住所地＼所在地", "residence \\ care")) }
                        @for c in &flows.cols { th.num scope="col" { (c.name) } }
                        th.num scope="col" { (ctx.tr("合計", "total")) }
                    } }
                    tbody {
                        @for (i, r) in flows.rows.iter().enumerate() {
                            tr {
                                th scope="row" { (r.name) }
                                @for j in 0..nc { td.num { (flows.patients.cells[i * nc + j].to_string()) } }
                                td.num { (flows.patients.row_totals[i].to_string()) }
                            }
                        }
                        tr {
                            th scope="row" { (ctx.tr("合計", "total")) }
                            @for c in &flows.patients.col_totals { td.num { (c.to_string()) } }
                            td.num { (flows.patients.total.to_string()) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-rates" {
            h2 #h-rates { (ctx.tr("レセプト件数・発生率・1件当たり点数（期間合計）", "Claims, rate and points per claim (whole period)")) }
            p { a.button.secondary href=(format!("/regional/rates.csv?{}", p.query)) download="regional-rates.csv" { (ctx.tr("月別 CSV", "monthly CSV")) } }
            table #rates-table {
                thead { tr {
                    th scope="col" { (p.level.label()) }
                    th.num scope="col" { (ctx.tr("人口", "population")) }
                    th.num scope="col" { (ctx.tr("レセプト件数", "claims")) }
                    th.num scope="col" { (ctx.tr("千人・月当たり", "per 1,000 per month")) }
                    th.num scope="col" { (ctx.tr("平均点数", "mean points")) }
                } }
                tbody {
                    @for (i, r) in rates.rows.iter().enumerate() {
                        tr {
                            th scope="row" { (r.name) }
                            td.num { (rates.population[i].map(|x| ctx.num(x)).unwrap_or_default()) }
                            td.num { (rates.row_totals[i].claims.to_string()) }
                            td.num { (render::rate(rates.row_totals[i].rate_per_1000)) }
                            td.num { (rates.row_totals[i].mean_points.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into())) }
                        }
                    }
                }
            }
        }
        p.note { (ctx.tr("区域外・住所地不明の住民のレセプト（集計から除外）: ", "claims of people living outside the region or of unknown residence (excluded): ")) (rates.outside_or_unknown_residence.to_string()) }
        (national(&ctx, model, &flows_kosoku)?)
        p.note.muted { (areas::MHLW_CREDIT) "。" (areas::BOUNDARY_CREDIT) "。" }
    };
    Ok(page(&ctx, ctx.tr("地域分析", "Regional analysis"), body))
}

/// The national layer: a map of Japan by prefecture (the mean NDB acute-care
/// outflow rate of its 構想区域) and, for the region's 構想区域, the NDB rates
/// beside the rates of the data set under the page's filters.
fn national(ctx: &Ctx, model: &AreaModel, flows: &FlowReport) -> Result<maud::Markup, WebError> {
    let internal = |e: regional::Error| WebError::internal(ctx, e.to_string());
    let list = regional::reference::reference(model).map_err(internal)?;
    let values: HashMap<String, Shade> = regional::reference::mean_acute_outflow_by_prefecture(&list)
        .into_iter()
        .map(|(k, m)| (k, Shade::Value(m, render::pct(Some(m)))))
        .collect();
    let map = regional::svg::japan_map(
        model,
        &values,
        ctx.tr("構想区域の急性期流出率（都道府県内の平均、NDB）", "acute-care outflow rate of the 構想区域 (mean per prefecture, NDB)"),
        ctx.tr("流出率", "outflow"),
    )
    .map_err(internal)?;
    let cmp = regional::reference::compare(model, flows).map_err(internal)?;
    Ok(html! {
        section aria-labelledby="h-national" {
            h2 #h-national { (ctx.tr("全国の参照値（NDB）との比較", "National reference (NDB)")) }
            p { (ctx.tr(
                "厚生労働省が公表した全国 339 構想区域の NDB に基づく流出率・流入率（急性期）と、このデータ（上の条件、構想区域単位）から計算した率です。",
                "MHLW's published NDB outflow and inflow rates (acute care) of all 339 構想区域, beside the rates computed from this data set under the filters above, by 構想区域."
            )) }
            div.scroll { figure #japan-map { (PreEscaped(map)) } }
            div.scroll {
                table #reference-table {
                    thead { tr {
                        th scope="col" { (ctx.tr("構想区域", "area")) }
                        th.num scope="col" { (ctx.tr("流出率（データ）", "outflow (data)")) }
                        th.num scope="col" { (ctx.tr("流出率（NDB）", "outflow (NDB)")) }
                        th.num scope="col" { (ctx.tr("流入率（データ）", "inflow (data)")) }
                        th.num scope="col" { (ctx.tr("流入率（NDB）", "inflow (NDB)")) }
                    } }
                    tbody {
                        @for c in &cmp {
                            tr data-code=(c.reference.code) {
                                th scope="row" { (c.reference.name) }
                                td.num { (render::pct(c.outflow_rate)) }
                                td.num { (render::pct(c.reference.acute_outflow_rate)) }
                                td.num { (render::pct(c.inflow_rate)) }
                                td.num { (render::pct(c.reference.acute_inflow_rate)) }
                            }
                        }
                    }
                }
            }
        }
    })
}
