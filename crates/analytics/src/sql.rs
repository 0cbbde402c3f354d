//! SQL over views and Parquet files with Apache DataFusion: a [`SqlSession`]
//! holding tables (in-memory record batches from view runs, or Parquet
//! files), a one-call [`run`], and result formatters (aligned text table,
//! CSV, JSON).
//!
//! DataFusion is async; the session owns a small multi-threaded tokio
//! runtime so callers stay synchronous. Inside an async server, call
//! [`SqlSession::query_async`] instead (from the server's own runtime).
//!
//! ```
//! use analytics::sql::SqlSession;
//! use analytics::view::ViewDefinition;
//! let view = ViewDefinition::from_json_str(r#"{"resourceType": "ViewDefinition",
//!   "name": "patients", "resource": "Patient",
//!   "select": [{"column": [{"name": "id", "path": "id"}, {"name": "gender", "path": "gender"}]}]}"#).unwrap();
//! let pts: Vec<serde_json::Value> = (0..5).map(|i| serde_json::json!({"resourceType": "Patient",
//!     "id": format!("p{i}"), "gender": if i % 2 == 0 { "female" } else { "male" }})).collect();
//! let batch = view.run_values(&pts).unwrap();
//! let mut sql = SqlSession::new().unwrap();
//! sql.register_batches("patients", view.schema(), vec![batch]).unwrap();
//! let out = sql.query("SELECT gender, count(*) AS n FROM patients GROUP BY gender ORDER BY gender").unwrap();
//! let text = analytics::sql::format_table(&out).unwrap();
//! assert!(text.contains("| female | 3 |"), "{text}");
//! ```

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::view::{Error, Format, Result, write_batches};

/// A DataFusion session with registered tables.
pub struct SqlSession {
    ctx: SessionContext,
    rt: tokio::runtime::Runtime,
}

/// A query result: the schema (known even with zero rows) and the batches.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// The result schema.
    pub schema: SchemaRef,
    /// The result rows.
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    /// The number of rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

impl SqlSession {
    /// A session with no tables, using every core.
    pub fn new() -> Result<SqlSession> {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("medtwin-sql")
            .enable_all()
            .build()
            .map_err(|e| Error::io("tokio runtime", e))?;
        let config = SessionConfig::new().with_target_partitions(threads).with_information_schema(true);
        Ok(SqlSession { ctx: SessionContext::new_with_config(config), rt })
    }

    /// The underlying DataFusion context (to register UDFs, inspect plans).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers in-memory batches (e.g. a view's output) as table `name`.
    pub fn register_batches(&mut self, name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<()> {
        // One partition per batch lets DataFusion scan them in parallel.
        let partitions: Vec<Vec<RecordBatch>> = batches.into_iter().map(|b| vec![b]).collect();
        let table = MemTable::try_new(schema, if partitions.is_empty() { vec![vec![]] } else { partitions })?;
        self.ctx.register_table(name, Arc::new(table))?;
        Ok(())
    }

    /// Registers a Parquet file (or a directory of Parquet files forming one table) as `name`.
    pub fn register_parquet(&mut self, name: &str, path: &Path) -> Result<()> {
        let p = path.to_str().ok_or_else(|| Error::Sql(format!("path {} is not UTF-8", path.display())))?;
        self.rt.block_on(self.ctx.register_parquet(name, p, ParquetReadOptions::default()))?;
        Ok(())
    }

    /// Registers every `*.parquet` file in `dir` as a table named after the
    /// file (`patients.parquet` → `patients`). Returns the table names.
    pub fn register_parquet_dir(&mut self, dir: &Path) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let p = entry.map_err(|e| Error::io(dir, e))?.path();
            if p.extension().is_some_and(|e| e == "parquet") {
                files.push(p);
            }
        }
        files.sort();
        for p in files {
            let Some(stem) = p.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
            self.register_parquet(&stem, &p)?;
            names.push(stem);
        }
        Ok(names)
    }

    /// Runs a query and collects the result.
    pub fn query(&self, sql: &str) -> Result<QueryResult> {
        self.rt.block_on(self.query_async(sql))
    }

    /// Runs a query from inside an async context.
    pub async fn query_async(&self, sql: &str) -> Result<QueryResult> {
        let df = self.ctx.sql(sql).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok(QueryResult { schema, batches })
    }
}

/// Where a table comes from for [`run`].
pub enum Table {
    /// In-memory batches with their schema.
    Batches(SchemaRef, Vec<RecordBatch>),
    /// A Parquet file or directory.
    Parquet(std::path::PathBuf),
}

/// Runs `query` over `tables` (name → source) in a fresh session.
pub fn run(query: &str, tables: Vec<(String, Table)>) -> Result<QueryResult> {
    let mut s = SqlSession::new()?;
    for (name, t) in tables {
        match t {
            Table::Batches(schema, batches) => s.register_batches(&name, schema, batches)?,
            Table::Parquet(p) => s.register_parquet(&name, &p)?,
        }
    }
    s.query(query)
}

/// Output format of SQL results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header.
    Csv,
    /// A JSON array of objects.
    Json,
}

impl std::str::FromStr for SqlFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<SqlFormat> {
        match s {
            "table" => Ok(SqlFormat::Table),
            "csv" => Ok(SqlFormat::Csv),
            "json" => Ok(SqlFormat::Json),
            other => Err(Error::UnknownFormat(other.to_string())),
        }
    }
}

/// Renders batches as an aligned text table.
pub fn format_table(result: &QueryResult) -> Result<String> {
    if result.batches.is_empty() {
        let empty = RecordBatch::new_empty(result.schema.clone());
        return Ok(arrow::util::pretty::pretty_format_batches(&[empty])?.to_string());
    }
    Ok(arrow::util::pretty::pretty_format_batches(&result.batches)?.to_string())
}

/// Writes a query result in `format` to `out`.
pub fn write_result<W: Write + Send>(result: &QueryResult, format: SqlFormat, mut out: W) -> Result<W> {
    match format {
        SqlFormat::Table => {
            let text = format_table(result)?;
            writeln!(out, "{text}").map_err(|e| Error::io("output", e))?;
            Ok(out)
        }
        SqlFormat::Csv => write_batches(Format::Csv, result.schema.clone(), &result.batches, out),
        SqlFormat::Json => write_batches(Format::Json, result.schema.clone(), &result.batches, out),
    }
}
