//! `medtwin serve`: the FHIR API (`/fhir`) and the web dashboard (`/`) on a
//! socket, until SIGTERM or Ctrl-C.

use super::DataArgs;
use anyhow::Context;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Address to listen on.
    #[arg(long, env = "MEDTWIN_ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,
    /// Largest accepted request body, in MiB.
    #[arg(long, env = "MEDTWIN_MAX_BODY_MIB", default_value_t = 64)]
    pub(crate) max_body_mib: usize,
    /// Largest page size honoured for `_count`.
    #[arg(long, env = "MEDTWIN_MAX_COUNT", default_value_t = 1000)]
    pub(crate) max_count: usize,
    /// Public base URL of the FHIR API, if it differs from http://HOST/fhir (e.g. behind a proxy).
    #[arg(long, env = "MEDTWIN_BASE_URL")]
    pub(crate) base_url: Option<String>,
    /// Folder of materialized views (*.parquet) for the dashboard's SQL console [default: DATA/views].
    #[arg(long, env = "MEDTWIN_VIEWS")]
    pub(crate) views: Option<std::path::PathBuf>,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    super::init_logging("info");
    let store = Arc::new(a.data.open()?);
    let config = server::Config {
        max_body_bytes: a.max_body_mib * 1024 * 1024,
        max_count: a.max_count,
        base_url: a.base_url,
        views_dir: Some(a.views.clone().unwrap_or_else(|| a.data.data.join("views"))),
        ..Default::default()
    };
    let state = server::AppState::new(store, config);
    // Count resources and read the views' tables now, not on the first visit.
    state.warm_up();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.addr).await.with_context(|| format!("binding {}", a.addr))?;
        let local = listener.local_addr()?;
        eprintln!("medtwin: FHIR API at http://{local}/fhir, dashboard at http://{local}/ (data in {})", a.data.data.display());
        tracing::info!(addr = %local, "listening");
        server::serve_on(state, listener, shutdown_signal()).await.context("serving")?;
        eprintln!("medtwin: stopped cleanly");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
