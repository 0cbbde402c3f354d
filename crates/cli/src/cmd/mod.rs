//! One module per subcommand, and the flags they share.

pub(crate) mod analyze;
pub(crate) mod convert;
pub(crate) mod demo;
pub(crate) mod export;
pub(crate) mod fhirpath;
pub(crate) mod import;
pub(crate) mod regional;
pub(crate) mod serve;
pub(crate) mod sql;
pub(crate) mod study;
pub(crate) mod synth;
pub(crate) mod view;

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The data directory flag shared by every command that opens the store.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct DataArgs {
    /// Directory holding the database.
    #[arg(long, env = "MEDTWIN_DATA", default_value = "./medtwin-data")]
    pub(crate) data: PathBuf,
    /// Commit durability: `full` survives power loss, `normal` survives a crash of the process.
    #[arg(long, env = "MEDTWIN_SYNC", default_value = "full", value_parser = ["full", "normal"])]
    pub(crate) sync: String,
    /// SQLite page cache per connection, in MiB (a larger cache speeds up large imports).
    #[arg(long, env = "MEDTWIN_CACHE_MIB", default_value_t = 64)]
    pub(crate) cache_mib: u32,
}

impl DataArgs {
    pub(crate) fn open(&self) -> anyhow::Result<store::SqliteStore> {
        open_store(&self.data, &self.sync, self.cache_mib)
    }
}

pub(crate) fn open_store(dir: &Path, sync: &str, cache_mib: u32) -> anyhow::Result<store::SqliteStore> {
    let options = store::SqliteOptions {
        synchronous: if sync == "normal" { store::Synchronous::Normal } else { store::Synchronous::Full },
        cache_mib,
    };
    store::SqliteStore::open(dir, options).with_context(|| format!("opening the store in {}", dir.display()))
}

/// Logging to standard error; `MEDTWIN_LOG` (or `RUST_LOG`) sets the filter.
pub(crate) fn init_logging(default: &str) {
    let filter = std::env::var("MEDTWIN_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}
