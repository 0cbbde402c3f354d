//! Benchmark driver for `bench/synth/run.sh`: generates N people with all
//! formats and prints throughput figures.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let out = args.get(3).cloned().unwrap_or_else(|| "synth-bench-out".into());
    let cfg = synth::Config { patients: n, seed, out: out.into(), ..synth::Config::default() };
    let t = Instant::now();
    let mut last = Instant::now();
    let res = synth::generate(&cfg, &mut |p| {
        if last.elapsed().as_secs_f64() > 10.0 {
            last = Instant::now();
            eprintln!("  {}/{} people, {:.0}s", p.done, p.total, t.elapsed().as_secs_f64());
        }
    });
    let s = match res {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let secs = t.elapsed().as_secs_f64();
    println!("people:          {}", s.patients);
    println!("elapsed:         {secs:.1} s");
    println!("people/s:        {:.0}", s.patients as f64 / secs);
    println!("FHIR resources:  {} ({:.0}/s)", s.resources, s.resources as f64 / secs);
    println!("SS-MIX2 files:   {}", s.ssmix2_files);
    println!("UKE files:       {}", s.uke_files);
    println!("bytes written:   {} ({:.1} MB/s)", s.bytes, s.bytes as f64 / secs / 1e6);
    println!("encounters:      {}", s.encounters);
    println!("PCI cohort:      {}, HF admissions: {}, case reports: {}, deaths: {}", s.pci_cohort, s.hf_admissions, s.case_reports, s.deaths);
}
