//! Per-request context: a request id (taken from `X-Request-Id` or made up),
//! a tracing span carrying it, and one log line per request with its status and
//! duration; internal error details attached by `ApiError` are logged here.

use crate::error::InternalDetail;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::Instrument;

static COUNTER: AtomicU64 = AtomicU64::new(1);

pub(crate) async fn request_context(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:x}-{:x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
    let method = req.method().clone();
    let uri = req.uri().clone();
    let span = tracing::info_span!("request", id = %id, method = %method, uri = %uri);
    let start = std::time::Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let status = res.status();
    let _g = span.enter();
    if let Some(detail) = res.extensions().get::<InternalDetail>() {
        tracing::error!(status = status.as_u16(), detail = %detail.0, "request failed");
    }
    tracing::debug!(status = status.as_u16(), micros = start.elapsed().as_micros() as u64, "done");
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}
