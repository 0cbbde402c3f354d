//! The page layout (head, skip link, nav, language switch, footer) and [`Ctx`],
//! the per-request context every page handler takes (language and path).

use super::i18n::{Key, Lang};
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::HashMap;
use std::convert::Infallible;

/// The top-level pages in the nav: label and path. A path is "current" when the
/// request path equals it or starts with it followed by `/`.
pub(crate) const NAV: &[(Key, &str)] = &[
    (Key::Home, "/"),
    (Key::Patients, "/patients"),
    (Key::Studies, "/studies"),
    (Key::Regional, "/regional"),
    (Key::Sql, "/sql"),
    (Key::Fhir, "/explorer"),
];

/// The name of the cookie that remembers the language.
const LANG_COOKIE: &str = "medtwin_lang";

/// Per-request context of a dashboard page.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The display language: `?lang=` if given, else the cookie, else Japanese.
    pub(crate) lang: Lang,
    /// The request path (`/patients/abc`).
    pub(crate) path: String,
    /// The query string without any `lang` parameter (for the switch link).
    pub(crate) query: String,
}

impl Ctx {
    /// A context for `lang` (tests and fallbacks).
    #[cfg(test)]
    pub(crate) fn new(lang: Lang) -> Ctx {
        Ctx { lang, path: "/".into(), query: String::new() }
    }

    /// Picks the text for the page's language.
    pub(crate) fn tr<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
        self.lang.tr(ja, en)
    }

    /// A word from the shared table.
    pub(crate) fn t(&self, key: Key) -> &'static str {
        self.lang.t(key)
    }

    /// Formats an integer with thousands separators.
    pub(crate) fn num(&self, n: u64) -> String {
        self.lang.num(n)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Ctx, Infallible> {
        let query = parts.uri.query().unwrap_or("");
        let mut from_query = None;
        let mut rest = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if k == "lang" {
                from_query = Lang::parse(&v);
            } else {
                rest.append_pair(&k, &v);
            }
        }
        let from_cookie = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == LANG_COOKIE)
            .and_then(|(_, v)| Lang::parse(v));
        Ok(Ctx {
            lang: from_query.or(from_cookie).unwrap_or_default(),
            path: parts.uri.path().to_string(),
            query: rest.finish(),
        })
    }
}

/// `GET /lang/{code}?next=/path`: remembers the language in a cookie and goes
/// back to `next` (a local path only, so the switch is no open redirect).
pub(crate) async fn set_lang(
    axum::extract::Path(code): axum::extract::Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    let next = q.get("next").map(String::as_str).filter(|n| n.starts_with('/') && !n.starts_with("//")).unwrap_or("/");
    let mut res = Redirect::to(next).into_response();
    let cookie = format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code());
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// A full page: `title` goes into `<title>` and the `<h1>`; `body` follows the heading.
pub(crate) fn page(ctx: &Ctx, title: &str, body: Markup) -> super::Html {
    axum::response::Html(document(ctx, title, body).into_string())
}

/// Like [`page`] with a status (error pages).
pub(crate) fn page_with_status(ctx: &Ctx, status: StatusCode, title: &str, body: Markup) -> Response {
    (status, page(ctx, title, body)).into_response()
}

fn is_current(ctx_path: &str, href: &str) -> bool {
    if href == "/" {
        return ctx_path == "/";
    }
    ctx_path == href || ctx_path.strip_prefix(href).is_some_and(|r| r.starts_with('/'))
}

fn document(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let v = env!("CARGO_PKG_VERSION");
    let mut next = ctx.path.clone();
    if !ctx.query.is_empty() {
        next.push('?');
        next.push_str(&ctx.query);
    }
    let switch = format!(
        "/lang/{}?next={}",
        ctx.lang.other().code(),
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " | medtwin" }
                link rel="icon" href=(format!("/static/favicon.svg?v={v}")) type="image/svg+xml";
                link rel="stylesheet" href=(format!("/static/style.css?v={v}"));
                script src=(format!("/static/htmx.min.js?v={v}")) defer {}
                script src=(format!("/static/medtwin.js?v={v}")) defer {}
            }
            body {
                a.skip href="#main" { (ctx.t(Key::SkipToContent)) }
                header.top {
                    a.brand href="/" { span.logo aria-hidden="true" { "◎" } " medtwin" }
                    nav aria-label=(ctx.t(Key::MainNav)) {
                        ul {
                            @for (key, href) in NAV {
                                li {
                                    @if is_current(&ctx.path, href) {
                                        a href=(href) aria-current="page" { (ctx.t(*key)) }
                                    } @else {
                                        a href=(href) { (ctx.t(*key)) }
                                    }
                                }
                            }
                        }
                    }
                    a.lang href=(switch) hreflang=(ctx.lang.other().code()) lang=(ctx.lang.other().code()) { (ctx.t(Key::Language)) }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
                footer {
                    p {
                        "medtwin " (v) " · " (ctx.t(Key::Tagline)) " · "
                        (ctx.tr("表示されるデータはすべて合成データです。", "All data shown is synthetic."))
                    }
                }
            }
        }
    }
}

/// Escapes nothing: for markup that is already HTML (SVG built by [`super::chart`]).
pub(crate) fn raw(s: String) -> PreEscaped<String> {
    PreEscaped(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_nav_entry() {
        assert!(is_current("/", "/"));
        assert!(!is_current("/patients", "/"));
        assert!(is_current("/patients/abc", "/patients"));
        assert!(!is_current("/patientsx", "/patients"));
    }

    #[test]
    fn layout_escapes_and_labels() {
        let ctx = Ctx::new(Lang::En);
        let html = document(&ctx, "<b>x</b>", html! { p { "hi" } }).into_string();
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("<title>&lt;b&gt;x&lt;/b&gt; | medtwin</title>"));
        assert!(html.contains("aria-current=\"page\""));
        assert!(html.contains("href=\"/lang/ja?next=%2F\""));
    }
}
