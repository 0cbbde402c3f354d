//! The web dashboard at `/`: server-rendered HTML pages (maud) over the same
//! [`AppState`] as the FHIR API, Japanese by default with an English switch.
//!
//! This module is the dashboard's one door: `lib.rs` merges [`routes`] into the
//! app and uses [`not_found`] as the fallback for everything outside `/fhir`.
//!
//! # Conventions
//!
//! - Every page handler takes a [`Ctx`] (language, current path) and returns
//!   `Result<Html, WebError>`; it builds its body with maud and wraps it in
//!   [`page`] (the layout with the nav, the language switch and the footer).
//! - Text shown to people comes from [`i18n`]: shared words (nav labels, "search",
//!   "no results", …) are keys of the table in `i18n.rs` (`ctx.t(Key::Search)`);
//!   page-specific text is written inline as `ctx.tr("日本語", "English")`.
//! - Store calls block: run them with `state.blocking(...)` as the FHIR handlers do.
//!   A failure becomes a [`WebError`], which renders an HTML error page (400, 404,
//!   500) with a message; internal details are logged with the request id and
//!   never shown.
//! - No JavaScript beyond the vendored htmx and `assets/medtwin.js` (keyboard
//!   shortcuts): every form works as a plain GET/POST without them, htmx only
//!   spares full reloads. Charts are SVG rendered on the server ([`chart`]).
//! - Every page has a `<title>`, one `<h1>`, labelled form controls and works
//!   with the keyboard (the layout has a skip link; nav links show focus).
//!
//! # How to add a page
//!
//! 1. Create `web/<name>.rs` starting with a `//!` header and exposing
//!    `pub(super) fn routes() -> Router<AppState>` (paths at the root, e.g.
//!    `/studies`, `/studies/{id}`).
//! 2. Add `mod <name>;` and `.merge(<name>::routes())` below, and its nav entry
//!    in [`layout::NAV`] if it is a top-level page.
//! 3. Add a browser test module in `crates/server/tests/browser/` (see
//!    `tests/browser/main.rs` for the harness) that opens the page, clicks
//!    through its main flow, asserts content and saves a screenshot.
//!
//! The study and regional pages (`studies.rs`, `regional.rs`) follow these
//! conventions and are owned by their issues.

mod assets;
pub(crate) mod chart;
mod error;
mod explorer;
mod home;
pub(crate) mod i18n;
mod layout;
mod patients;
mod sql;
mod studies;
mod regional;

pub(crate) use error::WebError;
pub(crate) use sql::SqlCache;
pub(crate) use i18n::Key;
pub(crate) use layout::{Ctx, page};

use crate::AppState;
use std::sync::Arc;
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;

/// An HTML response.
pub(crate) type Html = axum::response::Html<String>;

/// Dashboard state shared by all requests of one app (caches; pages that
/// need their own add a field here).
#[derive(Default)]
pub(crate) struct WebState {
    /// The SQL console's view of the materialized views folder.
    pub(crate) sql: SqlCache,
    /// Resource counts by type, with the last write they were counted at.
    counts: std::sync::Mutex<Option<(Option<store::Instant>, Arc<Vec<(String, u64)>>)>>,
    /// The last result of each study run from the Studies page.
    studies: studies::StudyCache,
}

impl WebState {
    /// Resource counts by type (blocking). Counting scans the resource table,
    /// so the result is kept until the next write to the store.
    pub(crate) fn counts(&self, s: &dyn store::Store) -> store::Result<Arc<Vec<(String, u64)>>> {
        let last = s.last_write()?;
        let mut cached = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, counts)) = cached.as_ref()
            && *at == last
        {
            return Ok(counts.clone());
        }
        let counts = Arc::new(s.counts()?);
        *cached = Some((last, counts.clone()));
        Ok(counts)
    }
}

/// Fills the dashboard's caches (resource counts, the SQL console's tables)
/// so that the first visitor does not wait for them. Blocking.
pub(crate) fn warm_up(state: &AppState) {
    if let Err(e) = state.web.counts(state.store.as_ref()) {
        tracing::warn!(error = %e, "counting resources for the dashboard failed");
    }
    sql::warm_up(state);
}

/// A file time as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn fmt_time(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    format!("{} {:02}:{:02} UTC", chart::civil(secs.div_euclid(86_400)), secs.rem_euclid(86_400) / 3600, secs.rem_euclid(3600) / 60)
}

/// All dashboard routes (merged at the root by `lib.rs::app`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(home::routes())
        .merge(patients::routes())
        .merge(explorer::routes())
        .merge(sql::routes())
        .merge(studies::routes())
        .merge(regional::routes())
        .merge(assets::routes())
        .route("/lang/{code}", get(layout::set_lang))
}

/// The HTML 404 page for every path outside `/fhir` that no page claims.
pub(crate) async fn not_found(ctx: Ctx) -> axum::response::Response {
    WebError::not_found(&ctx, ctx.tr("ページが見つかりません。", "Page not found.")).into_response()
}
