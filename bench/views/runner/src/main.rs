//! Benchmark driver for SQL-on-FHIR views.
//!
//! `medtwin-bench-views view VIEW.json FILE.ndjson THREADS [OUT.csv]` runs a
//! view over an NDJSON file (parse + evaluate + Arrow batches; discarded, or
//! written as CSV to OUT.csv, as `medtwin view run --format csv` does) and
//! prints resources/s of wall and CPU time. (SQL over Parquet is `../sql`.)

use std::time::Instant;

use analytics::view::{BatchWriter, Format, RunOptions, ViewDefinition};

/// The `medtwin` CLI runs with mimalloc; so does this driver.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let r = match args.get(1).map(String::as_str) {
        Some("view") if args.len() >= 4 => {
            view(&args[2], &args[3], args.get(4).and_then(|t| t.parse().ok()), args.get(5).map(String::as_str))
        }
        _ => Err("usage: medtwin-bench-views view VIEW.json FILE.ndjson THREADS [OUT.csv]".into()),
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
            Some(BatchWriter::new(Format::Csv, v.schema(), std::io::BufWriter::new(f)).map_err(|e| e.to_string())?)
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
