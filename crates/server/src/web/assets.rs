//! Static assets embedded in the binary with `include_bytes!` (no Node
//! toolchain at build time): the stylesheet, the favicon, a few lines of our own script (keyboard
//! shortcuts) and htmx (vendored from
//! the npm package `htmx.org`, see THIRD_PARTY.md).

use crate::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// (file name, media type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("style.css", "text/css; charset=utf-8", include_bytes!("assets/style.css")),
    ("htmx.min.js", "text/javascript; charset=utf-8", include_bytes!("assets/htmx.min.js")),
    ("medtwin.js", "text/javascript; charset=utf-8", include_bytes!("assets/medtwin.js")),
    ("favicon.svg", "image/svg+xml", include_bytes!("assets/favicon.svg")),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/{file}", get(asset))
        .route("/favicon.ico", get(|| async { asset(Path("favicon.svg".to_string())).await }))
}

async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, mime, bytes)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut res = (*bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // URLs carry the version (`?v=`), so a day of caching cannot serve stale assets after an upgrade.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    res
}
