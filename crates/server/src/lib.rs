//! The medtwin HTTP server: the FHIR R4 REST API at `/fhir` and the web
//! dashboard at `/` (`web`, server-rendered HTML in Japanese and English).
//!
//! [`app`] builds the axum router over an [`AppState`]; [`serve`] runs it on a
//! socket with graceful shutdown. This crate is the only one that knows HTTP:
//! it parses requests, calls the store on a blocking thread, and turns every
//! result into a FHIR response or an OperationOutcome ([`ApiError`]).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! let store = Arc::new(store::SqliteStore::open_in_memory().unwrap());
//! let state = server::AppState::new(store, server::Config::default());
//! server::serve(state, "127.0.0.1:8080".parse().unwrap(), async {}).await
//! # }
//! ```
#![warn(missing_docs)]

mod bundle;
mod bundle_json;
mod capability;
mod error;
mod fhir_http;
mod history;
mod middleware;
mod operations;
mod rest;
mod search;
mod web;

pub use error::{ApiError, outcome};

use axum::Router;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use store::Store;

/// The media type of every FHIR response.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Page size when `_count` is not given.
    pub default_count: usize,
    /// The largest `_count` honoured.
    pub max_count: usize,
    /// The public base URL (`http://host:port/fhir`); derived from the Host header when None.
    pub base_url: Option<String>,
    /// The folder of materialized SQL-on-FHIR views (`*.parquet`) the
    /// dashboard's SQL console queries; None disables the console.
    pub views_dir: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_body_bytes: 64 * 1024 * 1024, default_count: 20, max_count: 1000, base_url: None, views_dir: None }
    }
}

/// What every handler gets: the store, the settings and the dashboard's caches.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: Arc<Config>,
    pub(crate) web: Arc<web::WebState>,
}

impl AppState {
    /// Wraps a store and settings.
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        AppState { store, config: Arc::new(config), web: Arc::default() }
    }

    /// Fills the web dashboard's caches (resource counts, the SQL console's
    /// tables) before the first visitor needs them. Blocking: call it before
    /// serving, or on a blocking thread.
    pub fn warm_up(&self) {
        web::warm_up(self);
    }

    /// Runs a store call on the blocking thread pool (SQLite calls block).
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ApiError::internal(format!("store task failed: {e}")))?
    }
}

/// The router: FHIR API under `/fhir`, the web dashboard everywhere else.
pub fn app(state: AppState) -> Router {
    let fhir = Router::new()
        .route("/", axum::routing::post(bundle::post_bundle).get(search::system_search))
        .route("/_search", axum::routing::post(search::system_search_post))
        .route("/metadata", get(capability::metadata))
        .route("/$viewdefinition-run", axum::routing::post(operations::viewdefinition_run))
        .route("/ViewDefinition/$viewdefinition-run", axum::routing::post(operations::viewdefinition_run))
        .route("/_history", get(history::system_history))
        .route(
            "/{rtype}",
            get(search::search_type).post(rest::create).put(rest::conditional_update).delete(rest::conditional_delete),
        )
        .route("/{rtype}/_search", axum::routing::post(search::search_type_post))
        .route("/{rtype}/_history", get(history::type_history))
        .route("/{rtype}/{id}", get(rest::read).put(rest::update).delete(rest::delete))
        .route("/{rtype}/{id}/_history", get(history::instance_history))
        .route("/{rtype}/{id}/{ctype}", get(search::compartment))
        .route("/{rtype}/{id}/_history/{vid}", get(rest::vread))
        .fallback(rest::not_found)
        .method_not_allowed_fallback(rest::method_not_allowed);
    Router::new()
        .nest("/fhir", fhir)
        .merge(web::routes())
        .fallback(web::not_found)
        .layer(axum::middleware::from_fn(middleware::request_context))
        .with_state(state)
}

/// Serves the app on `addr` until `shutdown` completes, then lets in-flight
/// requests finish and checkpoints the database.
pub async fn serve(
    state: AppState,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(state, listener, shutdown).await
}

/// Like [`serve`], on an already bound listener (tests bind port 0).
pub async fn serve_on(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = state.store.clone();
    let router = app(state);
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await?;
    tracing::info!("shutting down: checkpointing the database");
    tokio::task::spawn_blocking(move || store.checkpoint())
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    Ok(())
}
