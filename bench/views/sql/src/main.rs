//! Benchmark driver for SQL over Parquet (issue 7): `medtwin-bench-views-sql
//! DIR ROWS` writes a ROWS-row Parquet table (3 columns, zstd, as
//! `analytics::view::Format::Parquet` writes it) once, then times
//! `SELECT code, count(*) ... GROUP BY code` with DataFusion, configured as
//! `analytics::sql::SqlSession` configures it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let r = match (args.get(1), args.get(2)) {
        (Some(dir), Some(rows)) => match rows.parse() {
            Ok(rows) => run(Path::new(dir), rows),
            Err(_) => Err(format!("ROWS must be a number, got {rows}")),
        },
        _ => Err("usage: medtwin-bench-views-sql DIR ROWS".into()),
    };
    if let Err(e) = r {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

fn write_table(path: &Path, rows: usize) -> Result<(), String> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    let schema = Arc::new(Schema::new(vec![
        Field::new("patient_id", DataType::Utf8, true),
        Field::new("code", DataType::Utf8, true),
        Field::new("value", DataType::Int64, true),
    ]));
    let codes = ["3F015000002327101", "3D010000001926101", "3C015000002327101", "3B035000002327201", "3B045000002327201",
        "3H015000002327101", "3F050000002327101", "3C025000002327101", "2A990000001930952", "3A010000002327101"];
    let t0 = Instant::now();
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(|e| e.to_string())?))
        .build();
    let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| e.to_string())?;
    let chunk = 1 << 20;
    let mut done = 0;
    let mut x: u64 = 0x9E3779B97F4A7C15;
    while done < rows {
        let n = chunk.min(rows - done);
        let mut pid = Vec::with_capacity(n);
        let mut code = Vec::with_capacity(n);
        let mut val = Vec::with_capacity(n);
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            pid.push(format!("P{:07}", (done + i) / 100));
            code.push(codes[(x % codes.len() as u64) as usize]);
            val.push((x >> 40) as i64 % 200);
        }
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(pid)), Arc::new(StringArray::from(code)), Arc::new(Int64Array::from(val))],
        )
        .map_err(|e| e.to_string())?;
        w.write(&b).map_err(|e| e.to_string())?;
        done += n;
    }
    w.close().map_err(|e| e.to_string())?;
    eprintln!("wrote {rows} rows to {} in {:.1}s", path.display(), t0.elapsed().as_secs_f64());
    Ok(())
}

fn run(dir: &Path, rows: usize) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("observations-{rows}.parquet"));
    if !path.exists() {
        write_table(&path, rows)?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(cores()).enable_all().build().map_err(|e| e.to_string())?;
    let config = SessionConfig::new().with_target_partitions(cores()).with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    let p = path.to_str().ok_or("path is not UTF-8")?;
    rt.block_on(ctx.register_parquet("observations", p, ParquetReadOptions::default())).map_err(|e| e.to_string())?;
    let q = "SELECT code, count(*) AS n FROM observations GROUP BY code ORDER BY n DESC";
    let query = || -> Result<Vec<RecordBatch>, String> {
        rt.block_on(async { ctx.sql(q).await?.collect().await }).map_err(|e| e.to_string())
    };
    // One warm-up run (file metadata, page cache), then three timed runs.
    query()?;
    let mut times = Vec::new();
    for _ in 0..3 {
        let t0 = Instant::now();
        let batches = query()?;
        times.push(t0.elapsed().as_secs_f64());
        let total: i64 = batches
            .iter()
            .filter_map(|b| b.column(1).as_any().downcast_ref::<Int64Array>().map(|a| a.values().iter().sum::<i64>()))
            .sum();
        if total as usize != rows {
            return Err(format!("group counts add up to {total}, expected {rows}"));
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"query\": \"{q}\", \"rows\": {rows}, \"median_seconds\": {:.3}, \"runs_seconds\": [{}]}}",
        times[1],
        times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}
