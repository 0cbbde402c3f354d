//! SQL console (`/sql`): SQL (Apache DataFusion, `analytics::sql`) over the
//! standard SQL-on-FHIR views materialized as Parquet files in
//! `Config::views_dir` (`medtwin demo` writes them to `DATA/views`), with a
//! results table, the list of tables and columns, and CSV download
//! (`/sql.csv`). A bad query is a 400 page with DataFusion's message.

use super::{Ctx, Key, WebError, page};
use crate::AppState;
use analytics::sql::{QueryResult, SqlFormat};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/sql", get(console)).route("/sql.csv", get(csv))
}

/// Rows shown on the page; the CSV download has all of them.
const SHOW_ROWS: usize = 500;
/// The longest query accepted.
const MAX_SQL: usize = 20_000;

/// What the console knows about the views folder, refreshed when its
/// Parquet files change (re-materialized views). Each query runs in a fresh
/// DataFusion session over the Parquet files (registering them only reads
/// their footers), so concurrent queries share nothing mutable.
#[derive(Default)]
pub(crate) struct SqlCache {
    open: Mutex<Option<(Stamp, Arc<Tables>)>>,
}

/// The views folder's state: (file name, size, modification time) of each Parquet file.
type Stamp = Vec<(String, u64, std::time::SystemTime)>;

/// The tables of the views folder.
struct Tables {
    /// (table, Parquet file).
    files: Vec<(String, PathBuf)>,
    /// (table, [(column, type)]).
    columns: Vec<(String, Vec<(String, String)>)>,
    /// When the newest Parquet file was written.
    written: Option<std::time::SystemTime>,
}

impl Tables {
    fn query(&self, sql: &str) -> analytics::view::Result<QueryResult> {
        let tables = self.files.iter().map(|(n, p)| (n.clone(), analytics::sql::Table::Parquet(p.clone()))).collect();
        analytics::sql::run(sql, tables)
    }
}

/// Why the console cannot run queries.
enum Unavailable {
    NoFolder,
    Empty(PathBuf),
    Failed(String),
}

fn stamp(dir: &std::path::Path) -> std::io::Result<Stamp> {
    let mut s = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "parquet") {
            let m = std::fs::metadata(&p)?;
            s.push((p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(), m.len(), m.modified()?));
        }
    }
    s.sort();
    Ok(s)
}

impl SqlCache {
    /// The tables of `dir` (blocking: call from a blocking thread).
    fn tables(&self, dir: Option<&std::path::Path>) -> Result<Arc<Tables>, Unavailable> {
        let dir = dir.ok_or(Unavailable::NoFolder)?;
        let st = stamp(dir).map_err(|_| Unavailable::Empty(dir.to_path_buf()))?;
        if st.is_empty() {
            return Err(Unavailable::Empty(dir.to_path_buf()));
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, t)) = open.as_ref()
            && *s == st
        {
            return Ok(t.clone());
        }
        let files: Vec<(String, PathBuf)> = st
            .iter()
            .filter_map(|(f, _, _)| f.strip_suffix(".parquet").map(|n| (n.to_string(), dir.join(f))))
            .collect();
        let mut t = Tables { files, columns: Vec::new(), written: st.iter().map(|s| s.2).max() };
        let cols = t
            .query("SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position")
            .map_err(|e| Unavailable::Failed(e.to_string()))?;
        for row in cell_strings(&cols, usize::MAX).map_err(Unavailable::Failed)? {
            if let [table, column, ty] = row.as_slice() {
                match t.columns.last_mut() {
                    Some((last, cs)) if last == table => cs.push((column.clone(), ty.clone())),
                    _ => t.columns.push((table.clone(), vec![(column.clone(), ty.clone())])),
                }
            }
        }
        let t = Arc::new(t);
        *open = Some((st, t.clone()));
        Ok(t)
    }
}

/// Reads the views folder's table list ahead of the first visit (blocking).
pub(super) fn warm_up(state: &AppState) {
    let _ = state.web.sql.tables(state.config.views_dir.as_deref());
}

/// Example queries shown as links (they run over the standard views).
const EXAMPLES: &[(&str, &str, &str)] = &[
    ("性別・生年代別の患者数", "Patients by sex and decade of birth", "SELECT sex, substr(birth_date, 1, 3) || '0s' AS decade, count(*) AS patients\nFROM patients\nGROUP BY 1, 2\nORDER BY 2, 1"),
    ("多い病名 上位 20", "Top 20 conditions", "SELECT icd10, name, count(DISTINCT patient_id) AS patients\nFROM conditions\nGROUP BY 1, 2\nORDER BY 3 DESC\nLIMIT 20"),
    ("HbA1c の年別平均", "Mean HbA1c by year", "SELECT substr(effective, 1, 4) AS year, count(*) AS tests, round(avg(value), 2) AS mean_hba1c\nFROM lab_results\nWHERE analyte_code = '3D046'\nGROUP BY 1\nORDER BY 1"),
    ("医療機関別の入院数", "Admissions by facility", "SELECT f.name, count(*) AS admissions\nFROM encounters e JOIN facilities f ON f.facility_id = e.facility_id\nWHERE e.class = 'IMP'\nGROUP BY 1\nORDER BY 2 DESC\nLIMIT 20"),
    ("テーブルと列の一覧", "Tables and columns", "SELECT table_name, column_name, data_type\nFROM information_schema.columns\nWHERE table_schema = 'public'\nORDER BY table_name, ordinal_position"),
];

fn strip_semicolons(sql: &str) -> &str {
    sql.trim().trim_end_matches(|c: char| c == ';' || c.is_whitespace())
}

/// For the page, SELECT and WITH queries are capped at SHOW_ROWS + 1 rows so a
/// `SELECT *` over millions of rows stays cheap; other statements run as written.
fn capped(sql: &str) -> String {
    let s = strip_semicolons(sql);
    let head = s.trim_start().get(..6).unwrap_or("").to_ascii_uppercase();
    if head.starts_with("SELECT") || head.starts_with("WITH") {
        format!("SELECT * FROM ({s}) AS q LIMIT {}", SHOW_ROWS + 1)
    } else {
        s.to_string()
    }
}

/// Opens the views and runs `sql` (capped for the page). The outer error says
/// the console is unavailable; the inner one is the query's own error.
type Outcome = Result<(Arc<Tables>, Option<Result<QueryResult, String>>), Unavailable>;

fn run(state: &AppState, sql: &str, cap: bool) -> Outcome {
    let tables = state.web.sql.tables(state.config.views_dir.as_deref())?;
    if sql.is_empty() {
        return Ok((tables, None));
    }
    let q = if cap { capped(sql) } else { strip_semicolons(sql).to_string() };
    let r = tables.query(&q).map_err(|e| e.to_string());
    Ok((tables, Some(r)))
}

fn unavailable_message(ctx: &Ctx, u: &Unavailable) -> String {
    match u {
        Unavailable::NoFolder => ctx
            .tr(
                "ビューのフォルダが設定されていません。`medtwin demo` で起動するか、`medtwin view materialize views/ --out DATA/views` でビューを作成し `medtwin serve --views DATA/views` で起動してください。",
                "No views folder is configured. Start with `medtwin demo`, or materialize the views with `medtwin view materialize views/ --out DATA/views` and start `medtwin serve --views DATA/views`.",
            )
            .into(),
        Unavailable::Empty(d) => format!(
            "{} {}",
            ctx.tr("ビュー（Parquet ファイル）がまだありません:", "No materialized views (Parquet files) yet in"),
            d.display()
        ),
        Unavailable::Failed(e) => format!("{} {e}", ctx.tr("ビューを開けませんでした:", "Could not open the views:")),
    }
}

fn cell_strings(r: &QueryResult, limit: usize) -> Result<Vec<Vec<String>>, String> {
    let opts = FormatOptions::default().with_null("");
    let mut rows = Vec::new();
    for b in &r.batches {
        let fmts: Vec<ArrayFormatter<'_>> =
            b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &opts)).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
        for i in 0..b.num_rows() {
            if rows.len() >= limit {
                return Ok(rows);
            }
            rows.push(fmts.iter().map(|f| f.value(i).to_string()).collect());
        }
    }
    Ok(rows)
}

async fn console(State(state): State<AppState>, ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Result<Response, WebError> {
    let sql = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    if sql.len() > MAX_SQL {
        return Err(WebError::bad_request(&ctx, ctx.tr("SQL が長すぎます。", "The query is too long.")));
    }
    let (st, sql2) = (state.clone(), sql.clone());
    let started = std::time::Instant::now();
    let outcome = tokio::task::spawn_blocking(move || run(&st, &sql2, true)).await.map_err(|e| WebError::internal(&ctx, e.to_string()))?;
    let elapsed = started.elapsed();
    let (tables, result) = match outcome {
        Ok(o) => o,
        Err(u) => {
            let msg = unavailable_message(&ctx, &u);
            if matches!(u, Unavailable::Failed(_)) {
                return Err(WebError::internal(&ctx, msg));
            }
            let body = html! { div.error role="alert" { p { (msg) } } };
            return Ok(page(&ctx, ctx.tr("SQL コンソール", "SQL console"), body).into_response());
        }
    };
    let bad = matches!(result, Some(Err(_)));
    let rows = match &result {
        Some(Ok(r)) => Some(cell_strings(r, SHOW_ROWS).map_err(|e| WebError::internal(&ctx, e))?),
        _ => None,
    };
    let csv_href = format!("/sql.csv?{}", form_urlencoded::Serializer::new(String::new()).append_pair("q", &sql).finish());
    let body = html! {
        div.grid2 style="grid-template-columns: 3fr 1fr" {
            div {
                form method="get" action="/sql" {
                    label for="q" { (ctx.tr("SQL（DataFusion 方言、標準ビューに対して実行）", "SQL (DataFusion dialect, over the standard views)")) }
                    textarea #q name="q" rows="8" spellcheck="false" data-ctrl-enter="submit" { (sql) }
                    p {
                        button type="submit" { (ctx.t(Key::Run)) }
                        " "
                        span.note { (ctx.tr("Ctrl+Enter でも実行できます。", "Ctrl+Enter also runs it.")) }
                    }
                }
                @if let Some(Err(msg)) = &result {
                    div.error role="alert" {
                        p { strong { (ctx.tr("SQL のエラー", "SQL error")) } }
                        pre { (msg) }
                    }
                }
                @if let (Some(Ok(r)), Some(rows)) = (&result, &rows) {
                    section #result aria-labelledby="h-result" {
                        h2 #h-result {
                            (ctx.tr("結果", "Result")) " "
                            span.muted {
                                @if r.num_rows() > SHOW_ROWS {
                                    "(" (ctx.tr("先頭 ", "first ")) (SHOW_ROWS) (ctx.tr(" 行を表示", " rows shown")) ")"
                                } @else {
                                    "(" (r.num_rows()) " " (ctx.t(Key::Rows)) ", " (elapsed.as_millis()) " ms)"
                                }
                            }
                        }
                        p { a.button.secondary href=(csv_href) download="medtwin-query.csv" { (ctx.t(Key::Download)) " CSV" } }
                        div style="overflow-x:auto" {
                            table {
                                thead { tr { @for f in r.schema.fields() { th scope="col" { (f.name()) } } } }
                                tbody {
                                    @for row in rows { tr { @for c in row { td { (c) } } } }
                                }
                            }
                        }
                        @if rows.is_empty() { p { (ctx.t(Key::NoResults)) } }
                    }
                }
                h2 { (ctx.tr("例", "Examples")) }
                ul {
                    @for (ja, en, ex) in EXAMPLES {
                        li { a href=(format!("/sql?{}", form_urlencoded::Serializer::new(String::new()).append_pair("q", ex).finish())) { (ctx.tr(ja, en)) } }
                    }
                }
            }
            aside aria-labelledby="h-tables" {
                h2 #h-tables { (ctx.tr("テーブル", "Tables")) }
                @for (t, cols) in &tables.columns {
                    details {
                        summary { code { (t) } }
                        ul.note { @for (c, ty) in cols { li { code { (c) } " " span.muted { (ty) } } } }
                    }
                }
                @if let Some(w) = tables.written {
                    p.note { (ctx.tr("ビュー作成: ", "Views written: ")) (crate::web::fmt_time(w)) }
                }
            }
        }
    };
    let mut res = page(&ctx, ctx.tr("SQL コンソール", "SQL console"), body).into_response();
    if bad {
        *res.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(res)
}

async fn csv(State(state): State<AppState>, ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Result<Response, WebError> {
    let sql = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    if sql.is_empty() || sql.len() > MAX_SQL {
        return Err(WebError::bad_request(&ctx, ctx.tr("SQL を指定してください。", "Give a query in q.")));
    }
    let st = state.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<Result<Vec<u8>, String>, Unavailable> {
        let r = match run(&st, &sql, false)?.1 {
            Some(Ok(r)) => r,
            Some(Err(e)) => return Ok(Err(e)),
            None => return Ok(Err("empty query".into())),
        };
        Ok(analytics::sql::write_result(&r, SqlFormat::Csv, Vec::new()).map_err(|e| e.to_string()))
    })
    .await
    .map_err(|e| WebError::internal(&ctx, e.to_string()))?;
    match out {
        Err(u) => Err(WebError::bad_request(&ctx, unavailable_message(&ctx, &u))),
        Ok(Err(msg)) => Err(WebError::bad_request(&ctx, format!("{} {msg}", ctx.tr("SQL のエラー:", "SQL error:")))),
        Ok(Ok(bytes)) => {
            let mut res = bytes.into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"medtwin-query.csv\""));
            Ok(res)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_selects_are_capped() {
        assert_eq!(capped("select 1;"), format!("SELECT * FROM (select 1) AS q LIMIT {}", SHOW_ROWS + 1));
        assert_eq!(capped(" WITH a AS (SELECT 1) SELECT * FROM a ;; "), format!("SELECT * FROM (WITH a AS (SELECT 1) SELECT * FROM a) AS q LIMIT {}", SHOW_ROWS + 1));
        assert_eq!(capped("SHOW TABLES;"), "SHOW TABLES");
    }
}
