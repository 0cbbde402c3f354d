//! SQL over views and Parquet files with Apache DataFusion: a [`SqlSession`]
//! holding tables (in-memory record batches from view runs, or Parquet
//! files), a one-call [`run`], and result formatters (aligned text table,
//! CSV, JSON).
//!
//! DataFusion is async. Synchronous callers (the CLI) use [`SqlSession::query`],
//! which runs on one process-wide multi-threaded tokio runtime; async callers
//! (the server) use [`SqlSession::query_async`] on their own runtime. The
//! synchronous methods also work when called from inside a runtime (they then
//! block on a helper thread, never nesting runtimes), but async code should
//! prefer the `_async` methods. Queries are read-only: DDL (`CREATE`,
//! `COPY`), DML and `SET` statements are refused.
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
//! let sql = SqlSession::new();
//! sql.register_batches("patients", view.schema(), vec![batch]).unwrap();
//! let out = sql.query("SELECT gender, count(*) AS n FROM patients GROUP BY gender ORDER BY gender").unwrap();
//! let text = analytics::sql::format_table(&out).unwrap();
//! assert!(text.contains("| female | 3 |"), "{text}");
//! ```

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::view::{Error, Format, ResourceSource, Result, RunOptions, RunStats, ViewDefinition, run_views, write_batches};

/// A DataFusion session with registered tables. It is `Send + Sync`: share
/// it behind an `Arc` and query it from several threads or tasks.
pub struct SqlSession {
    ctx: SessionContext,
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

/// The runtime behind the synchronous methods: created on first use, never
/// dropped (so it cannot be dropped inside another runtime).
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores())
            .thread_name("medtwin-sql")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| Error::Sql(format!("cannot start the query runtime: {e}")))
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

/// Runs a future to completion from synchronous code. Inside a tokio
/// runtime, blocking that runtime's thread on another runtime is not
/// allowed, so the future then runs on a short-lived helper thread.
fn block_on<F>(f: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(rt.block_on(f));
    }
    std::thread::scope(|s| s.spawn(|| rt.block_on(f)).join())
        .map_err(|_| Error::Sql("the query thread panicked".into()))
}

impl Default for SqlSession {
    fn default() -> SqlSession {
        SqlSession::new()
    }
}

impl SqlSession {
    /// A session with no tables, planning for every core.
    pub fn new() -> SqlSession {
        let config = SessionConfig::new().with_target_partitions(cores()).with_information_schema(true);
        SqlSession { ctx: SessionContext::new_with_config(config) }
    }

    /// The underlying DataFusion context (to register UDFs, inspect plans).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers in-memory batches (e.g. a view's output) as table `name`,
    /// replacing a table of that name.
    pub fn register_batches(&self, name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<()> {
        // One partition per core, batches dealt round-robin, lets DataFusion
        // scan them in parallel without thousands of tiny partitions.
        let n = cores().min(batches.len()).max(1);
        let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
        for (i, b) in batches.into_iter().enumerate() {
            partitions[i % n].push(b);
        }
        let table = MemTable::try_new(schema, partitions)?;
        self.ctx.deregister_table(name)?;
        self.ctx.register_table(name, Arc::new(table))?;
        Ok(())
    }

    /// Registers a Parquet file (or a directory of Parquet files forming one
    /// table) as `name`, replacing a table of that name.
    pub fn register_parquet(&self, name: &str, path: &Path) -> Result<()> {
        block_on(self.register_parquet_async(name, path))?
    }

    /// [`SqlSession::register_parquet`] for async callers.
    pub async fn register_parquet_async(&self, name: &str, path: &Path) -> Result<()> {
        let p = path.to_str().ok_or_else(|| Error::Sql(format!("path {} is not UTF-8", path.display())))?;
        if !path.exists() {
            return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder")));
        }
        self.ctx.deregister_table(name)?;
        self.ctx.register_parquet(name, p, ParquetReadOptions::default()).await?;
        Ok(())
    }

    /// Registers every `*.parquet` file in `dir` as a table named after the
    /// file (`patients.parquet` → `patients`). Returns the table names.
    pub fn register_parquet_dir(&self, dir: &Path) -> Result<Vec<String>> {
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

    /// Runs `views` over `source` (each resource type read once) and
    /// registers each view's rows as a table named after the view. Returns
    /// (table name, counters) per view.
    pub fn register_views(
        &self,
        views: &[ViewDefinition],
        source: &mut dyn ResourceSource,
        opts: &RunOptions,
    ) -> Result<Vec<(String, RunStats)>> {
        let tables = run_views(views, source, opts)?;
        let mut out = Vec::with_capacity(tables.len());
        for t in tables {
            self.register_batches(&t.name, t.schema, t.batches)?;
            out.push((t.name, t.stats));
        }
        Ok(out)
    }

    /// The names of the registered tables, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(schema) = self.ctx.catalog("datafusion").and_then(|c| c.schema("public")) {
            names = schema.table_names();
        }
        names.sort();
        names
    }

    /// The tables a query reads (without running it), lower-cased as SQL
    /// resolves unquoted names; CTE names are not included. Lets a caller
    /// run only the views a query needs.
    pub fn referenced_tables(&self, sql: &str) -> Result<Vec<String>> {
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(sql, &dialect)?;
        let mut names: Vec<String> =
            state.resolve_table_references(&statement)?.iter().map(|t| t.table().to_string()).collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Runs a read-only query and collects the result.
    pub fn query(&self, sql: &str) -> Result<QueryResult> {
        block_on(self.query_async(sql))?
    }

    /// Runs a read-only query from inside an async context.
    pub async fn query_async(&self, sql: &str) -> Result<QueryResult> {
        let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        let df = self.ctx.sql_with_options(sql, read_only).await?;
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
    let s = SqlSession::new();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{Result as ViewResult, write_file};

    fn patients_view() -> ViewDefinition {
        ViewDefinition::from_json(&serde_json::json!({"resourceType": "ViewDefinition", "name": "patients",
            "resource": "Patient", "select": [{"column": [
                {"name": "id", "path": "getResourceKey()"},
                {"name": "gender", "path": "gender"},
                {"name": "born", "path": "birthDate.toString().substring(0, 4).toInteger()", "type": "integer"}]}]}))
        .expect("view")
    }

    fn source(n: usize) -> impl FnMut(&str, &mut dyn FnMut(String) -> ViewResult<()>) -> ViewResult<()> {
        move |rtype, each| {
            if rtype == "Patient" {
                for i in 0..n {
                    let g = ["female", "male", "female"][i % 3];
                    each(format!(r#"{{"resourceType":"Patient","id":"p{i}","gender":"{g}","birthDate":"{}-01-01"}}"#, 1950 + i % 7))?;
                }
            }
            Ok(())
        }
    }

    fn session(n: usize) -> SqlSession {
        let s = SqlSession::new();
        let stats = s.register_views(&[patients_view()], &mut source(n), &RunOptions::default()).expect("views");
        assert_eq!(stats, vec![("patients".to_string(), RunStats { resources: n as u64, rows: n as u64 })]);
        s
    }

    fn csv(r: &QueryResult) -> String {
        String::from_utf8(write_result(r, SqlFormat::Csv, Vec::new()).expect("csv")).expect("utf8")
    }

    #[test]
    fn group_by_over_a_view_table() {
        let s = session(3000);
        let r = s.query("SELECT gender, count(*) AS n, min(born) AS first FROM patients GROUP BY gender ORDER BY gender").expect("query");
        assert_eq!(csv(&r), "gender,n,first\nfemale,2000,1950\nmale,1000,1950\n");
        assert_eq!(s.table_names(), ["patients"]);
    }

    #[test]
    fn empty_results_keep_their_schema_in_every_format() {
        let s = session(10);
        let r = s.query("SELECT id, born FROM patients WHERE born > 3000").expect("query");
        assert_eq!(r.num_rows(), 0);
        assert_eq!(csv(&r), "id,born\n");
        let table = format_table(&r).expect("table");
        assert!(table.contains("| id | born |"), "{table}");
        let json = String::from_utf8(write_result(&r, SqlFormat::Json, Vec::new()).expect("json")).expect("utf8");
        assert_eq!(json.trim(), "[]");
    }

    #[test]
    fn json_output_is_an_array_of_objects() {
        let s = session(4);
        let r = s.query("SELECT id, born FROM patients ORDER BY id LIMIT 2").expect("query");
        let json = String::from_utf8(write_result(&r, SqlFormat::Json, Vec::new()).expect("json")).expect("utf8");
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(v, serde_json::json!([{"id": "p0", "born": 1950}, {"id": "p1", "born": 1951}]));
    }

    #[test]
    fn queries_are_read_only_and_errors_are_clear() {
        let s = session(3);
        for q in ["CREATE TABLE t AS SELECT 1", "COPY patients TO '/tmp/x.csv'", "INSERT INTO patients VALUES ('x', 'y', 1)", "SET datafusion.execution.batch_size = 1"] {
            let err = s.query(q).expect_err(q).to_string();
            assert!(err.starts_with("sql: "), "{q}: {err}");
        }
        let err = s.query("SELECT nope FROM patients").expect_err("unknown column").to_string();
        assert!(err.contains("nope"), "{err}");
        let err = s.query("SELECT * FROM nowhere").expect_err("unknown table").to_string();
        assert!(err.contains("nowhere"), "{err}");
    }

    #[test]
    fn referenced_tables_lists_what_a_query_reads() {
        let s = SqlSession::new();
        let t = s
            .referenced_tables("WITH x AS (SELECT * FROM Patients) SELECT * FROM x JOIN lab_results l ON true JOIN patients p ON true")
            .expect("parse");
        assert_eq!(t, ["lab_results", "patients"]);
        assert!(s.referenced_tables("SELEC 1").is_err());
    }

    #[test]
    fn parquet_tables_round_trip() {
        let dir = std::env::temp_dir().join(format!("medtwin-sql-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let view = patients_view();
        let tables = run_views(&[view.clone()], &mut source(500), &RunOptions::default()).expect("run");
        write_file(&dir.join("patients.parquet"), Format::Parquet, view.schema(), &tables[0].batches).expect("write");
        std::fs::write(dir.join("notes.txt"), "not a table").expect("write");
        let s = SqlSession::new();
        assert_eq!(s.register_parquet_dir(&dir).expect("register"), ["patients"]);
        let r = s.query("SELECT born, count(*) AS n FROM patients GROUP BY born ORDER BY born LIMIT 2").expect("query");
        assert_eq!(csv(&r), "born,n\n1950,72\n1951,72\n");
        let err = s.register_parquet("x", &dir.join("missing.parquet")).expect_err("missing").to_string();
        assert!(err.contains("missing.parquet"), "{err}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn usable_from_async_code_without_nesting_runtimes() {
        let s = Arc::new(session(30));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (a, b) = rt.block_on(async {
            let a = s.query_async("SELECT count(*) AS n FROM patients").await.expect("async");
            // The synchronous method inside a runtime must not panic either.
            let b = s.query("SELECT count(*) AS n FROM patients").expect("sync in async");
            (a, b)
        });
        assert_eq!((csv(&a), csv(&b)), ("n\n30\n".to_string(), "n\n30\n".to_string()));
        // Sessions can be queried from several threads at once.
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || s.query("SELECT count(*) FROM patients").map(|r| r.num_rows()))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().expect("thread").expect("query"), 1);
        }
    }
}
