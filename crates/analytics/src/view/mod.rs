//! SQL-on-FHIR v2 ViewDefinitions: parse and validate a view
//! ([`ViewDefinition`]), run it over resource JSON (in memory, NDJSON
//! files, or pushed from a store scan through a [`ViewSink`]) into Arrow
//! record batches, and write them as CSV, NDJSON, JSON or Parquet.
//!
//! The runner never touches a store: callers feed resource JSON text, so
//! the same code runs over SQLite, Postgres or files ([`overlapped`] lets a
//! store scan read on its own thread while the view evaluates). Parsing and
//! evaluation run on rayon in chunks; output order follows input order.
//!
//! ```
//! use analytics::view::{ViewDefinition, Format, write_batches};
//! let view = ViewDefinition::from_json_str(r#"{
//!   "resourceType": "ViewDefinition", "name": "patient_names", "resource": "Patient",
//!   "select": [{"column": [{"name": "id", "path": "getResourceKey()"}]},
//!              {"forEach": "name", "column": [{"name": "family", "path": "family"}]}]}"#).unwrap();
//! let patient = serde_json::json!({"resourceType": "Patient", "id": "p1",
//!     "name": [{"family": "Yamada"}, {"family": "Tanaka"}]});
//! let batch = view.run_values([&patient]).unwrap();
//! assert_eq!(batch.num_rows(), 2);
//! let csv = write_batches(Format::Csv, view.schema(), &[batch], Vec::new()).unwrap();
//! assert_eq!(String::from_utf8(csv).unwrap(), "id,family\np1,Yamada\np1,Tanaka\n");
//! ```

mod batch;
mod definition;
mod error;
mod eval;
mod fast;
mod feed;
mod params;
mod path;
mod project;
mod run;
mod scan;
mod source;
mod standard;
mod write;

pub use batch::FHIR_TYPE_KEY;
pub use definition::{
    Column, ColumnSpec, Iteration, Select, ValueKind, ViewDefinition, is_valid_name, kind_of_fhir_type,
};
pub use error::{Error, Result};
pub use eval::{Cell, Row};
pub use feed::overlapped;
pub use params::{RunRequest, parse_run_parameters};
pub use path::{CompiledPath, reference_parts};
pub use project::Projection;
pub use run::{MultiViewSink, RunOptions, RunStats, ViewSink, in_patient_compartment, ndjson_files_for};
pub use source::{NdjsonDir, ResourceSource, ViewTable, run_views, run_views_ndjson};
pub use standard::{STANDARD_VIEW_SOURCES, standard, standard_view};
pub use write::{BatchWriter, Format, read_parquet, write_batches, write_file};

use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;

/// Reads every `*.json` ViewDefinition in `dir` (sorted by file name).
pub fn load_views_dir(dir: &Path) -> Result<Vec<(PathBuf, ViewDefinition)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = entry.map_err(|e| Error::io(dir, e))?.path();
        if p.extension().is_some_and(|e| e == "json") {
            files.push(p);
        }
    }
    files.sort();
    let mut out = Vec::new();
    for p in files {
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        let view = ViewDefinition::from_json_str(&text).map_err(|e| match e {
            Error::InvalidView { location, message } => {
                Error::InvalidView { location: format!("{}: {location}", p.display()), message }
            }
            other => other,
        })?;
        out.push((p, view));
    }
    Ok(out)
}

/// Runs `view` over the NDJSON files for its resource type in `data_dir`
/// and collects the batches.
pub fn run_ndjson_dir(view: &ViewDefinition, data_dir: &Path, opts: RunOptions) -> Result<Vec<RecordBatch>> {
    let files = ndjson_files_for(data_dir, &view.resource)?;
    let mut batches = Vec::new();
    view.run_ndjson_files(&files, opts, |b| {
        batches.push(b);
        Ok(())
    })?;
    Ok(batches)
}

/// Runs every view of `views` over `data_dir` and writes one Parquet file
/// per view, named after the view, into `out_dir`. Returns (view name, rows).
pub fn materialize_ndjson(views: &[ViewDefinition], data_dir: &Path, out_dir: &Path) -> Result<Vec<(String, u64)>> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut out = Vec::new();
    for v in views {
        let name = v.require_name()?.to_string();
        let path = out_dir.join(format!("{name}.parquet"));
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w = BatchWriter::new(Format::Parquet, v.schema(), std::io::BufWriter::new(file))?;
        let files = ndjson_files_for(data_dir, &v.resource)?;
        let stats = v.run_ndjson_files(&files, RunOptions::default(), |b| w.write(&b))?;
        std::io::Write::flush(&mut w.finish()?).map_err(|e| Error::io(&path, e))?;
        out.push((name, stats.rows));
    }
    Ok(out)
}
