//! Benchmark driver for SQL-on-FHIR views.
//!
//! `medtwin-bench-views view VIEW.json FILE.ndjson THREADS [OUT.csv]` runs a
//! view over an NDJSON file (parse + evaluate + Arrow batches; discarded, or
//! written as CSV to OUT.csv, as `medtwin view run --format csv` does) and
//! prints resources/s of wall and CPU time. (SQL over Parquet is `../sql`.)
//!
//! `medtwin-bench-views store-load DIR FILE.ndjson...` loads NDJSON files
//! into a medtwin store in DIR (without search index rows, which a view scan
//! never reads), and `medtwin-bench-views store VIEW.json DIR THREADS` runs
//! a view over the store's current resources of the view's type, as
//! `medtwin view run VIEW.json --data DIR` does (the store's scan pushing
//! each resource into a `ViewSink`).

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
        Some("store-load") if args.len() >= 4 => store_load(&args[2], &args[3..]),
        Some("store") if args.len() >= 5 => store_view(&args[2], &args[3], args[4].parse().ok()),
        _ => Err("usage: medtwin-bench-views view VIEW.json FILE.ndjson THREADS [OUT.csv]\n       \
                  medtwin-bench-views store-load DIR FILE.ndjson...\n       \
                  medtwin-bench-views store VIEW.json DIR THREADS"
            .into()),
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

fn open_store(dir: &str) -> Result<store::SqliteStore, String> {
    let options = store::SqliteOptions { synchronous: store::Synchronous::Normal, cache_mib: 64 };
    store::SqliteStore::open(std::path::Path::new(dir), options).map_err(|e| format!("{dir}: {e}"))
}

fn store_load(dir: &str, files: &[String]) -> Result<(), String> {
    use std::io::BufRead;
    use store::Store;
    let s = open_store(dir)?;
    let t0 = Instant::now();
    let mut n = 0u64;
    for f in files {
        let file = std::fs::File::open(f).map_err(|e| format!("{f}: {e}"))?;
        let mut lines = std::io::BufReader::with_capacity(1 << 20, file).lines();
        loop {
            let mut chunk = Vec::with_capacity(5000);
            for line in lines.by_ref().take(5000) {
                let line = line.map_err(|e| format!("{f}: {e}"))?;
                let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| format!("{f}: {e}"))?;
                let (t, id) = (v["resourceType"].as_str().unwrap_or("").to_string(), v["id"].as_str().unwrap_or("").to_string());
                chunk.push(store::prepare_unindexed(&t, &id, v).map_err(|e| format!("{f}: {e}"))?);
            }
            if chunk.is_empty() {
                break;
            }
            n += chunk.len() as u64;
            s.transact(&mut |tx| {
                for p in &chunk {
                    tx.put_prepared(p, None, true)?;
                }
                Ok(())
            })
            .map_err(|e| format!("{f}: {e}"))?;
        }
    }
    s.checkpoint().map_err(|e| e.to_string())?;
    println!("{{\"loaded\": {n}, \"seconds\": {:.1}}}", t0.elapsed().as_secs_f64());
    Ok(())
}

fn store_view(view: &str, dir: &str, threads: Option<usize>) -> Result<(), String> {
    use analytics::view::ViewSink;
    use store::Store;
    let text = std::fs::read_to_string(view).map_err(|e| e.to_string())?;
    let v = ViewDefinition::from_json_str(&text).map_err(|e| e.to_string())?;
    if let Some(t) = threads {
        rayon_threads(t)?;
    }
    let s = open_store(dir)?;
    let t0 = Instant::now();
    let c0 = cpu_seconds();
    let mut resources = 0u64;
    let mut rows = 0usize;
    let mut sink = ViewSink::new(&v, RunOptions::default(), |b| {
        rows += b.num_rows();
        Ok(())
    });
    // As `medtwin view run --data` does: the scan reads on its own thread while the view evaluates.
    sink.push_from(|give| {
        s.scan(&v.resource, None, &mut |json| {
            resources += 1;
            if give(json) { Ok(()) } else { Err(store::Error::Aborted("stopped".into())) }
        })
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    sink.finish().map_err(|e| e.to_string())?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c0;
    println!(
        "{{\"tool\": \"medtwin (store to Arrow)\", \"view\": \"{}\", \"threads\": {}, \"resources\": {}, \"rows\": {}, \"seconds\": {:.3}, \"cpu_seconds\": {:.3}, \"resources_per_s\": {:.0}, \"resources_per_cpu_s\": {:.0}}}",
        v.name.as_deref().unwrap_or("?"),
        threads.unwrap_or(0),
        resources,
        rows,
        secs,
        cpu,
        resources as f64 / secs,
        resources as f64 / cpu
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
