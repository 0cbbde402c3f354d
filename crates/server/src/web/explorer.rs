//! FHIR explorer: pick a resource type, search it with FHIR search parameters
//! (the same parser as the REST API, strict: an unknown parameter is an error
//! shown on the page), page through the results, and view one resource as
//! formatted JSON with its references as links.

use super::layout::raw;
use super::{Ctx, Html, Key, WebError, page};
use crate::{ApiError, AppState};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use maud::html;
use serde_json::Value;
use std::collections::HashMap;
use store::{SearchQuery, TotalMode};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/explorer", get(explorer)).route("/explorer/{rtype}/{id}", get(resource))
}

const COUNTS: &[usize] = &[10, 20, 50, 100];

/// A short description of a resource for the results table.
fn summary(v: &Value) -> String {
    let cc = |c: &Value| {
        c["text"]
            .as_str()
            .or_else(|| c["coding"].as_array().into_iter().flatten().find_map(|x| x["display"].as_str()))
            .map(str::to_string)
    };
    let name = v["name"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|n| n["text"].as_str().map(str::to_string).or_else(|| n["family"].as_str().map(str::to_string)))
        .or_else(|| v["name"].as_str().map(str::to_string));
    let what = cc(&v["code"])
        .or_else(|| cc(&v["medicationCodeableConcept"]))
        .or(name)
        .or_else(|| cc(&v["type"]))
        .or_else(|| v["type"][0]["text"].as_str().map(str::to_string))
        .or_else(|| cc(&v["serviceType"]))
        .unwrap_or_default();
    let subject = v["subject"]["reference"].as_str().or(v["patient"]["reference"].as_str()).or(v["beneficiary"]["reference"].as_str());
    match subject {
        Some(s) => format!("{what} — {s}"),
        None => what,
    }
}

struct Found {
    rows: Vec<(String, String, String)>,
    total: Option<u64>,
    next: Option<String>,
}

async fn explorer(State(state): State<AppState>, ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Result<Html, WebError> {
    let rtype = q.get("type").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let params = q.get("params").map(|s| s.trim().trim_start_matches('?').to_string()).unwrap_or_default();
    let count = q.get("count").and_then(|c| c.parse::<usize>().ok()).filter(|c| COUNTS.contains(c)).unwrap_or(20);
    let cursor = q.get("cursor").filter(|c| !c.is_empty()).cloned();
    if let Some(t) = &rtype
        && !fhir::definitions::r4().is_resource_type(t)
    {
        return Err(WebError::bad_request(&ctx, format!("{}: {t}", ctx.tr("FHIR R4 のリソース種別ではありません", "Not a FHIR R4 resource type"))));
    }
    let web = state.web.clone();
    let counts = state.blocking(move |s| Ok(web.counts(s)?)).await.map_err(|e| WebError::from_api(&ctx, e))?;
    let found = match &rtype {
        None => None,
        Some(t) => {
            let (t, params, cursor) = (t.clone(), params.clone(), cursor.clone());
            let found = state
                .blocking(move |s| {
                    let mut query = SearchQuery { resource_types: vec![t.clone()], count, cursor, total: TotalMode::Accurate, ..Default::default() };
                    let mut conds = Vec::new();
                    for (k, v) in form_urlencoded::parse(params.as_bytes()) {
                        match k.as_ref() {
                            "_count" | "_total" | "_format" | "_pretty" | "_summary" | "_elements" => {}
                            "_sort" => query.sort = store::search::parse_sort(&t, &v)?,
                            _ => conds.push(store::search::parse_condition(&t, &k, &v)?),
                        }
                    }
                    query.conditions = vec![conds];
                    let r = s.search(&query)?;
                    let rows = r
                        .entries
                        .iter()
                        .map(|e| {
                            let v: Value = e.body.as_deref().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
                            (e.meta.id.clone(), e.meta.last_updated.to_fhir(), summary(&v))
                        })
                        .collect();
                    Ok::<_, ApiError>(Found { rows, total: r.total, next: r.next_cursor })
                })
                .await
                .map_err(|e| WebError::from_api(&ctx, e))?;
            Some(found)
        }
    };
    let api_url = rtype.as_ref().map(|t| if params.is_empty() { format!("/fhir/{t}") } else { format!("/fhir/{t}?{params}") });
    let next_href = found.as_ref().and_then(|f| f.next.as_ref()).map(|c| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.append_pair("type", rtype.as_deref().unwrap_or(""))
            .append_pair("params", &params)
            .append_pair("count", &count.to_string())
            .append_pair("cursor", c);
        format!("/explorer?{}", ser.finish())
    });
    let selected = rtype.clone().unwrap_or_default();
    let in_store = counts.iter().any(|c| c.0 == selected);
    let body = html! {
        form.search method="get" action="/explorer" {
            label for="type" {
                (ctx.tr("リソース種別", "Resource type"))
                select #type name="type" required {
                    option value="" { (ctx.tr("選択してください", "Choose a type")) }
                    @for (t, n) in counts.iter() {
                        option value=(t) selected[*t == selected] { (t) " (" (ctx.num(*n)) ")" }
                    }
                    @if !selected.is_empty() && !in_store { option value=(selected) selected { (selected) " (0)" } }
                }
            }
            label for="params" {
                (ctx.tr("検索パラメータ", "Search parameters"))
                input #params type="text" name="params" value=(params) size="48" autocomplete="off" spellcheck="false" placeholder="gender=female&birthdate=lt1950";
            }
            label for="count" {
                (ctx.tr("表示件数", "Per page"))
                select #count name="count" {
                    @for c in COUNTS { option value=(c) selected[*c == count] { (c) } }
                }
            }
            button type="submit" { (ctx.t(Key::Search)) }
        }
        p.note {
            (ctx.tr("パラメータは FHIR の検索構文です（例: ", "Parameters use FHIR search syntax (e.g. "))
            code { "code=http://loinc.org|8480-6" } ", " code { "date=ge2020-01-01" } ", " code { "subject=Patient/123" } ", " code { "_sort=-date" }
            (ctx.tr("）。", ")."))
        }
        @if let (Some(t), Some(f)) = (&rtype, &found) {
            section aria-labelledby="h-found" {
                h2 #h-found {
                    (t) " "
                    @if let Some(total) = f.total { span.muted { "(" (ctx.num(total)) (ctx.tr(" 件", " matches")) ")" } }
                }
                @if let Some(u) = &api_url { p.note { (ctx.tr("同じ検索を FHIR API で: ", "The same search in the FHIR API: ")) a href=(u) { code { (u) } } } }
                @if f.rows.is_empty() {
                    p { (ctx.t(Key::NoResults)) }
                } @else {
                    table {
                        thead { tr {
                            th scope="col" { (ctx.t(Key::Id)) }
                            th scope="col" { (ctx.tr("内容", "Summary")) }
                            th scope="col" { (ctx.tr("最終更新", "Last updated")) }
                        } }
                        tbody {
                            @for (id, updated, text) in &f.rows {
                                tr {
                                    td { a href=(format!("/explorer/{t}/{id}")) { code { (id) } } }
                                    td { (text) }
                                    td { (updated) }
                                }
                            }
                        }
                    }
                    @if let Some(h) = &next_href {
                        nav.pager aria-label=(ctx.tr("ページ送り", "Pages")) { a.button.secondary href=(h) { (ctx.t(Key::Next)) " →" } }
                    }
                }
            }
        }
    };
    Ok(page(&ctx, ctx.tr("FHIR エクスプローラー", "FHIR explorer"), body))
}

/// Formatted JSON with every `"reference": "Type/id"` turned into a link.
fn linked_json(v: &Value) -> String {
    let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
    let mut out = String::with_capacity(pretty.len() + 256);
    for line in pretty.lines() {
        let esc = maud::html! { (line) }.into_string();
        let trimmed = line.trim_start();
        let target = trimmed
            .strip_prefix("\"reference\": \"")
            .and_then(|r| r.strip_suffix("\",").or_else(|| r.strip_suffix('"')))
            .and_then(|r| r.split_once('/'))
            .filter(|(t, id)| fhir::definitions::r4().is_resource_type(t) && fhir::id::is_valid_id(id));
        match target {
            Some((t, id)) => {
                let indent = &line[..line.len() - trimmed.len()];
                let comma = if trimmed.ends_with(',') { "," } else { "" };
                out.push_str(&format!("{indent}\"reference\": \"<a href=\"/explorer/{t}/{id}\">{t}/{id}</a>\"{comma}"));
            }
            None => out.push_str(&esc),
        }
        out.push('\n');
    }
    out
}

async fn resource(State(state): State<AppState>, ctx: Ctx, Path((rtype, id)): Path<(String, String)>) -> Result<Html, WebError> {
    if !fhir::definitions::r4().is_resource_type(&rtype) {
        return Err(WebError::not_found(&ctx, format!("{}: {rtype}", ctx.tr("FHIR R4 のリソース種別ではありません", "Not a FHIR R4 resource type"))));
    }
    if !fhir::id::is_valid_id(&id) {
        return Err(WebError::bad_request(&ctx, format!("{}: {id}", ctx.tr("ID の形式が正しくありません", "Not a valid FHIR id"))));
    }
    let (t, i) = (rtype.clone(), id.clone());
    let stored = state.blocking(move |s| Ok(s.read(&t, &i)?)).await.map_err(|e| WebError::from_api(&ctx, e))?;
    let Some(stored) = stored else {
        return Err(WebError::not_found(&ctx, format!("{}: {rtype}/{id}", ctx.tr("このリソースはありません", "No such resource"))));
    };
    let title = format!("{rtype}/{id}");
    let Some(body) = stored.body else {
        return Err(WebError::not_found(&ctx, format!("{}: {title}", ctx.tr("このリソースは削除されています", "This resource was deleted"))));
    };
    let v: Value = serde_json::from_str(&body).map_err(|e| WebError::internal(&ctx, format!("stored {title} is not JSON: {e}")))?;
    let patient = match rtype.as_str() {
        "Patient" => Some(id.clone()),
        _ => v["subject"]["reference"].as_str().or(v["patient"]["reference"].as_str()).and_then(|r| r.strip_prefix("Patient/")).map(str::to_string),
    };
    let page_body = html! {
        p {
            (ctx.tr("版 ", "Version ")) (stored.meta.version) " · " (ctx.tr("最終更新 ", "last updated ")) (stored.meta.last_updated.to_fhir())
        }
        p {
            a href=(format!("/fhir/{rtype}/{id}")) { (ctx.tr("FHIR API の JSON", "JSON from the FHIR API")) }
            " · "
            a href=(format!("/fhir/{rtype}/{id}/_history")) { (ctx.tr("版の履歴", "version history")) }
            " · "
            a href=(format!("/explorer?type={rtype}")) { (ctx.tr("同じ種別を検索", "search this type")) }
            @if let Some(p) = &patient { " · " a href=(format!("/patients/{p}")) { (ctx.tr("患者のページ", "the patient's page")) } }
        }
        pre.json tabindex="0" aria-label=(title) { code { (raw(linked_json(&v))) } }
    };
    Ok(page(&ctx, &title, page_body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_links_and_text_is_escaped() {
        let v = serde_json::json!({"resourceType": "Observation", "note": [{"text": "<script>"}], "subject": {"reference": "Patient/p1"}, "x": {"reference": "http://x/y"}});
        let html = linked_json(&v);
        assert!(html.contains("<a href=\"/explorer/Patient/p1\">Patient/p1</a>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("http://x/y"));
    }
}
