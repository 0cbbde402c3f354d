//! Benchmark driver for SQL-on-FHIR views and SQL over Parquet.
//!
//! `medtwin-bench-views view VIEW.json FILE.ndjson THREADS [OUT.csv]` runs a
//! view over an NDJSON file (parse + evaluate + Arrow batches; discarded, or
//! written as CSV to OUT.csv) and prints resources/s of wall and CPU time; `sql PARQUET_DIR ROWS` writes a ROWS-row Parquet
//! table and times a `count(*) ... GROUP BY` over it.

#[cfg(feature = "sql")]
use std::path::Path;
#[cfg(feature = "sql")]
use std::sync::Arc;
use std::time::Instant;

use analytics::view::{BatchWriter, Format, RunOptions, ViewDefinition};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let r = match args.get(1).map(String::as_str) {
        Some("view") if args.len() >= 4 => {
            view(&args[2], &args[3], args.get(4).and_then(|t| t.parse().ok()), args.get(5).map(String::as_str))
        }
        #[cfg(feature = "sql")]
        Some("sql") if args.len() >= 4 => sql(Path::new(&args[2]), args[3].parse().unwrap_or(10_000_000)),
        _ => Err("usage: medtwin-bench-views view VIEW.json FILE.ndjson THREADS [OUT.csv] | sql DIR ROWS".into()),
    };
    if let Err(e) = r {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn view(view: &str, file: &str, threads: Option<usize>, csv_out: Option<&str>) -> Result<(), String> {
    let text = std::fs::read_to_string(view).map_err(|e| e.to_string())?;
    let v = ViewDefinition::from_json_str(&text).map_err(|e| e.to_string())?;
    if let Some(t) = threads {
        rayon_threads(t)?;
    }
    let t0 = Instant::now();
    let c0 = cpu_seconds();
    let mut rows = 0usize;
    // With an output path, the rows are written as CSV (as `medtwin view run --format csv` does).
    let mut csv = match csv_out {
        Some(p) => {
            let f = std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?;
            Some(BatchWriter::new(Format::Csv, v.schema(), std::io::BufWriter::with_capacity(1 << 20, f)).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let stats = v
        .run_ndjson_files(&[file], RunOptions::default(), |b| {
            rows += b.num_rows();
            match &mut csv {
                Some(w) => w.write(&b),
                None => Ok(()),
            }
        })
        .map_err(|e| e.to_string())?;
    if let Some(w) = csv {
        std::io::Write::flush(&mut w.finish().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c0;
    println!(
        "{{\"tool\": \"{}\", \"view\": \"{}\", \"threads\": {}, \"resources\": {}, \"rows\": {}, \"seconds\": {:.3}, \"cpu_seconds\": {:.3}, \"resources_per_s\": {:.0}, \"resources_per_cpu_s\": {:.0}}}",
        if csv_out.is_some() { "medtwin (to CSV)" } else { "medtwin (to Arrow)" },
        v.name.as_deref().unwrap_or("?"),
        threads.unwrap_or(0),
        stats.resources,
        rows,
        secs,
        cpu,
        stats.resources as f64 / secs,
        stats.resources as f64 / cpu
    );
    Ok(())
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`, clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn rayon_threads(n: usize) -> Result<(), String> {
    // The library uses rayon's global pool; size it through the documented variable.
    if std::env::var("RAYON_NUM_THREADS").ok().and_then(|s| s.parse::<usize>().ok()) != Some(n) {
        return Err(format!("set RAYON_NUM_THREADS={n} to run with {n} threads"));
    }
    Ok(())
}

#[cfg(feature = "sql")]
fn sql(dir: &Path, rows: usize) -> Result<(), String> {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join("observations.parquet");
    if !path.exists() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("patient_id", DataType::Utf8, true),
            Field::new("code", DataType::Utf8, true),
            Field::new("value", DataType::Int64, true),
        ]));
        let codes = ["3F015000002327101", "3D010000001926101", "3C015000002327101", "3B035000002327201", "3B045000002327201",
            "3H015000002327101", "3F050000002327101", "3C025000002327101", "2A990000001930952", "3A010000002327101"];
        let t0 = Instant::now();
        let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        let mut w = analytics::view::BatchWriter::new(analytics::view::Format::Parquet, schema.clone(), file)
            .map_err(|e| e.to_string())?;
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
        w.finish().map_err(|e| e.to_string())?;
        eprintln!("wrote {rows} rows to {} in {:.1}s", path.display(), t0.elapsed().as_secs_f64());
    }
    let s = analytics::sql::SqlSession::new();
    s.register_parquet("observations", &path).map_err(|e| e.to_string())?;
    let q = "SELECT code, count(*) AS n FROM observations GROUP BY code ORDER BY n DESC";
    // One warm-up run (file metadata, page cache), then the best of three.
    s.query(q).map_err(|e| e.to_string())?;
    let mut best = f64::MAX;
    let mut total = 0;
    for _ in 0..3 {
        let t0 = Instant::now();
        let r = s.query(q).map_err(|e| e.to_string())?;
        best = best.min(t0.elapsed().as_secs_f64());
        total = r
            .batches
            .iter()
            .map(|b| {
                let c = b.column(1).as_any().downcast_ref::<Int64Array>().map(|a| a.values().iter().sum::<i64>()).unwrap_or(0);
                c
            })
            .sum::<i64>();
    }
    if total as usize != rows {
        return Err(format!("group counts add up to {total}, expected {rows}"));
    }
    println!("{{\"query\": \"{q}\", \"rows\": {rows}, \"best_seconds\": {best:.3}}}");
    Ok(())
}
