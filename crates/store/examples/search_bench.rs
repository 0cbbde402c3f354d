//! Search benchmark (run through `bench/search/run.sh`): loads a synthetic
//! population with all search indexes, then measures counting, patient-centric
//! searches, `_include`, chains and cursor paging, printing latencies,
//! throughput, index size per resource and the SQLite plans of the slowest
//! searches.
//!
//! Arguments: `PATIENTS [OBS_PER_PATIENT] [DIR]`. With `MEDTWIN_BENCH_REUSE=1`
//! and a database already in `DIR` (from an earlier run with the same
//! arguments), the load is skipped and only the searches are measured.

use serde_json::json;
use std::sync::Arc;
use std::time::Instant as Clock;
use store::search::{SearchQuery, TotalMode, parse_condition, parse_include};
use store::{SqliteOptions, SqliteStore, Store, Synchronous};

const CODES: &[&str] = &["2345-7", "718-7", "2160-0", "2093-3", "2571-8", "4548-4", "29463-7", "8480-6", "8462-4", "8867-4"];

fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let patients: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let per: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let dir = args.get(3).map(std::path::PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("medtwin-search-bench"));
    let reuse = std::env::var("MEDTWIN_BENCH_REUSE").is_ok_and(|v| v == "1") && dir.join("medtwin.db").exists();
    if !reuse {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let store = Arc::new(
        SqliteStore::open(&dir, SqliteOptions { synchronous: Synchronous::Normal, cache_mib: 256 }).expect("open store"),
    );
    if reuse {
        println!("reusing the database in {} (MEDTWIN_BENCH_REUSE=1): load not measured", dir.display());
    } else {
        load(&store, &dir, patients, per);
    }
    search(&store, patients);
}

/// Loads the synthetic population with every search index and prints the load figures.
fn load(store: &SqliteStore, dir: &std::path::Path, patients: u64, per: u64) {

    // Load (a bulk load: the value indexes are built at the end).
    let started = Clock::now();
    store.begin_bulk_load(u64::MAX).expect("bulk load");
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut total = 0u64;
    let batch = 200u64;
    let (mut extract_s, mut write_s, mut index_rows) = (0.0f64, 0.0f64, 0usize);
    let no_index = std::env::var("MEDTWIN_BENCH_NO_INDEX").is_ok_and(|v| v == "1");
    let mut p = 0;
    while p < patients {
        let end = (p + batch).min(patients);
        let mut docs = Vec::new();
        for i in p..end {
            let pid = format!("p{i}");
            docs.push(json!({"resourceType": "Patient", "id": pid, "gender": if i % 2 == 0 { "male" } else { "female" },
                "birthDate": format!("{}-{:02}-{:02}", 1930 + i % 80, 1 + i % 12, 1 + i % 28),
                "name": [{"family": format!("Yamada{}", i % 1000), "given": ["Taro"]}, {"family": "ヤマダ", "given": ["タロウ"]}],
                "identifier": [{"system": "urn:oid:1.2.392.100495.20.3.51.1", "value": format!("{i:08}")}],
                "managingOrganization": {"reference": format!("Organization/org{}", i % 100)}}));
            for k in 0..per {
                let r = rng(&mut seed);
                let code = CODES[(r % CODES.len() as u64) as usize];
                let year = 2010 + (r >> 8) % 15;
                docs.push(json!({"resourceType": "Observation", "id": format!("o{i}-{k}"), "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                    "subject": {"reference": format!("Patient/{pid}")},
                    "encounter": {"reference": format!("Encounter/e{i}-{}", k % 5)},
                    "effectiveDateTime": format!("{year}-{:02}-{:02}T09:00:00+09:00", 1 + (r >> 16) % 12, 1 + (r >> 24) % 28),
                    "valueQuantity": {"value": ((r >> 32) % 2000) as f64 / 10.0, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}}));
            }
        }
        // Resources are checked, indexed, hashed and serialized on every core
        // outside the writer lock (`store::prepare`, what `medtwin import`
        // does), and written with `StoreTx::put_prepared`.
        let te = Clock::now();
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let chunk = docs.len().div_ceil(threads);
        let prepared: Vec<store::Prepared> = std::thread::scope(|s| {
            let hs: Vec<_> = docs
                .chunks(chunk)
                .map(|c| {
                    s.spawn(move || {
                        c.iter()
                            .map(|d| {
                                let (t, id) = (d["resourceType"].as_str().unwrap_or(""), d["id"].as_str().unwrap_or(""));
                                // MEDTWIN_BENCH_NO_INDEX=1 measures the same writes without index rows.
                                if no_index { store::prepare_unindexed(t, id, d.clone()) } else { store::prepare(t, id, d.clone()) }
                                    .expect("prepare")
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().expect("thread")).collect()
        });
        extract_s += te.elapsed().as_secs_f64();
        index_rows += prepared.iter().map(store::Prepared::index_rows).sum::<usize>();
        let tw = Clock::now();
        store
            .transact(&mut |tx| {
                for p in &prepared {
                    tx.put_prepared(p, None, false)?;
                }
                Ok(())
            })
            .expect("load");
        write_s += tw.elapsed().as_secs_f64();
        total += docs.len() as u64;
        p = end;
    }
    let ti = Clock::now();
    store.end_bulk_load().expect("build indexes");
    let build_s = ti.elapsed().as_secs_f64();
    let load_s = started.elapsed().as_secs_f64();
    println!("loaded {total} resources ({patients} patients) with all indexes in {load_s:.1} s: {:.0} resources/s", total as f64 / load_s);
    println!("  prepare (index extraction, hash, JSON text; parallel, outside the writer lock): {extract_s:.1} s wall; writes with {:.1} index rows per resource (serial): {write_s:.1} s; value-index build at the end: {build_s:.1} s", index_rows as f64 / total as f64);
    store.checkpoint().expect("checkpoint");
    let db = std::fs::metadata(dir.join("medtwin.db")).map(|m| m.len()).unwrap_or(0);
    println!("database {:.1} MiB, {:.0} bytes per resource (bodies, versions and indexes)", db as f64 / 1048576.0, db as f64 / total as f64);
    if let Some(idx) = store.index_bytes().ok().flatten() {
        println!("search index {:.1} MiB, {:.0} bytes per resource", idx as f64 / 1048576.0, idx as f64 / total as f64);
    }
}

/// Counting, latency at concurrency 8, cursor paging and query plans.
fn search(store: &Arc<SqliteStore>, patients: u64) {
    let q = |rt: &str, params: &[(&str, &str)]| SearchQuery {
        resource_types: vec![rt.into()],
        conditions: vec![params.iter().map(|(k, v)| parse_condition(rt, k, v).expect("parse")).collect()],
        count: 20,
        total: TotalMode::None,
        ..Default::default()
    };

    // 1. Counting.
    let mut cq = q("Observation", &[("code", "http://loinc.org|2345-7")]);
    cq.count = 0;
    cq.total = TotalMode::Accurate;
    let _ = store.search(&cq).expect("warm");
    let t0 = Clock::now();
    let n = store.search(&cq).expect("count").total.unwrap_or(0);
    let dt = t0.elapsed().as_secs_f64();
    println!("Observation?code=X&_summary=count: {n} matches in {:.1} ms = {:.2} M resources counted/s", dt * 1e3, n as f64 / dt / 1e6);

    // 2. Latency.
    type Workload = Box<dyn Fn(u64) -> SearchQuery + Send + Sync>;
    let workloads: Vec<(&str, Workload)> = vec![
        ("Observation?subject=Patient/N&code=X&date=ge2020", Box::new(move |i| {
            let pid = format!("Patient/p{}", i % patients);
            q("Observation", &[("subject", &pid), ("code", "http://loinc.org|2345-7"), ("date", "ge2020")])
        })),
        ("Observation?subject=Patient/N&_include=Observation:subject", Box::new(move |i| {
            let pid = format!("Patient/p{}", i % patients);
            let mut s = q("Observation", &[("subject", &pid)]);
            s.include.push(parse_include("_include", "Observation:subject").expect("include"));
            s
        })),
        ("Observation?subject:Patient.identifier=N&code=X (chain)", Box::new(move |i| {
            let ident = format!("urn:oid:1.2.392.100495.20.3.51.1|{:08}", i % patients);
            q("Observation", &[("subject:Patient.identifier", &ident), ("code", "2345-7")])
        })),
        ("Patient?family=yamada12&gender=male", Box::new(move |i| {
            let fam = format!("yamada{}", i % 1000);
            q("Patient", &[("family", &fam), ("gender", "male")])
        })),
    ];
    // In process (no HTTP; `run.sh` measures the same searches through the
    // server with a load tool): each thread first runs a few searches so
    // that connection set-up and statement preparation are not timed.
    for (name, make) in &workloads {
        let make = Arc::new(make);
        for threads in [1u64, 8] {
            let per_thread = 2000 / threads;
            let t0 = Clock::now();
            let lat: Vec<f64> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads)
                    .map(|th| {
                        let store = store.clone();
                        let make = make.clone();
                        s.spawn(move || {
                            for k in 0..20 {
                                std::hint::black_box(store.search(&make(th * 31 + k * 7)).expect("warm-up").entries.len());
                            }
                            let mut v = Vec::new();
                            for k in 0..per_thread {
                                let query = make(th * 7919 + k * 104729);
                                let t = Clock::now();
                                let r = store.search(&query).expect("search");
                                std::hint::black_box(r.entries.len());
                                v.push(t.elapsed().as_secs_f64() * 1e3);
                            }
                            v
                        })
                    })
                    .collect();
                hs.into_iter().flat_map(|h| h.join().expect("thread")).collect()
            });
            let wall = t0.elapsed().as_secs_f64();
            let mut lat = lat;
            lat.sort_by(|a, b| a.total_cmp(b));
            let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
            println!(
                "{name}: in process, {threads} thread(s): p50 {:.2} ms, p99 {:.2} ms, {:.0} searches/s",
                pct(0.5),
                pct(0.99),
                lat.len() as f64 / wall
            );
        }
    }

    // 3. Paging through every Observation with one code.
    let mut pq = q("Observation", &[("code", "2345-7")]);
    pq.count = 1000;
    let t0 = Clock::now();
    let mut seen = 0usize;
    let mut pages = Vec::new();
    loop {
        let tp = Clock::now();
        let r = store.search(&pq).expect("page");
        pages.push(tp.elapsed().as_secs_f64() * 1e3);
        seen += r.entries.len();
        match r.next_cursor {
            Some(c) => pq.cursor = Some(c),
            None => break,
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    let first = pages.first().copied().unwrap_or(0.0);
    let last = pages.last().copied().unwrap_or(0.0);
    let mid = pages.get(pages.len() / 2).copied().unwrap_or(0.0);
    println!("paging Observation?code=X (_count=1000, bodies loaded): {seen} resources in {} pages, {:.0} resources/s; page time first {first:.1} ms, middle {mid:.1} ms, last {last:.1} ms", pages.len(), seen as f64 / dt);

    // 4. Plans.
    for (name, rt, params) in [
        ("count", "Observation", vec![("code", "http://loinc.org|2345-7")]),
        ("patient-centric", "Observation", vec![("subject", "Patient/p1"), ("code", "http://loinc.org|2345-7"), ("date", "ge2020")]),
        ("chain", "Observation", vec![("subject:Patient.identifier", "urn:oid:1.2.392.100495.20.3.51.1|00000001"), ("code", "2345-7")]),
        ("string+token", "Patient", vec![("family", "yamada12"), ("gender", "male")]),
    ] {
        let conds: Vec<_> = params.iter().map(|(k, v)| parse_condition(rt, k, v).expect("parse")).collect();
        println!("--- plan ({name}) ---\n{}", store.explain(rt, &conds).expect("explain"));
    }
}
