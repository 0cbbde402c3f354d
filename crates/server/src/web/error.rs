//! [`WebError`]: a failed dashboard request rendered as an HTML page with a
//! status and a message for people. Internal details go to the log (with the
//! request id, through the same extension the FHIR API uses), never to the page.

use super::i18n::{Key, Lang};
use super::layout::{Ctx, page_with_status};
use crate::ApiError;
use crate::error::InternalDetail;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

/// A dashboard error: status, message and the context to render it in.
#[derive(Debug)]
pub(crate) struct WebError {
    status: StatusCode,
    message: String,
    ctx: Ctx,
    internal: Option<String>,
}

impl WebError {
    /// 400 with a message saying what was wrong with the request.
    pub(crate) fn bad_request(ctx: &Ctx, message: impl Into<String>) -> WebError {
        WebError { status: StatusCode::BAD_REQUEST, message: message.into(), ctx: ctx.clone(), internal: None }
    }

    /// 404 with a message saying what was not found.
    pub(crate) fn not_found(ctx: &Ctx, message: impl Into<String>) -> WebError {
        WebError { status: StatusCode::NOT_FOUND, message: message.into(), ctx: ctx.clone(), internal: None }
    }

    /// 500; `detail` is logged, the page only says that something went wrong.
    pub(crate) fn internal(ctx: &Ctx, detail: impl Into<String>) -> WebError {
        WebError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: ctx
                .tr(
                    "サーバー内部でエラーが発生しました。詳細はサーバーのログに記録されています。",
                    "Something went wrong inside the server; the details are in the server log.",
                )
                .into(),
            ctx: ctx.clone(),
            internal: Some(detail.into()),
        }
    }

    /// Converts an API error (from a store call) into a page error, keeping
    /// the status and the client-safe diagnostics.
    pub(crate) fn from_api(ctx: &Ctx, e: ApiError) -> WebError {
        if e.status.is_server_error() {
            let mut w = WebError::internal(ctx, e.internal.unwrap_or_else(|| e.code.to_string()));
            w.status = e.status;
            if e.status == StatusCode::SERVICE_UNAVAILABLE {
                w.message = ctx.tr("データベースが混み合っています。少し待ってから再度お試しください。", "The database is busy; please retry shortly.").into();
            }
            return w;
        }
        let message = e.issues.iter().map(|i| i.diagnostics.as_str()).collect::<Vec<_>>().join("; ");
        WebError { status: e.status, message, ctx: ctx.clone(), internal: None }
    }
}

fn heading(lang: Lang, status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => lang.t(Key::NotFound),
        s if s.is_client_error() => lang.t(Key::BadRequest),
        _ => lang.t(Key::ServerError),
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let ctx = &self.ctx;
        let title = format!("{} ({})", heading(ctx.lang, self.status), self.status.as_u16());
        let body = html! {
            div.error role="alert" {
                p { (self.message) }
            }
            p { a href="/" { (ctx.t(Key::BackHome)) } }
        };
        let mut res = page_with_status(ctx, self.status, &title, body);
        if let Some(d) = self.internal {
            res.extensions_mut().insert(InternalDetail(d));
        }
        res
    }
}
