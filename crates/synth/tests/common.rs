//! Helpers shared by the integration tests: generating a small data set into a
//! fresh temporary directory and reading its NDJSON files back.

#![allow(dead_code, unreachable_pub)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("medtwin-synth-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Generates a data set and returns its directory.
pub fn generate(name: &str, patients: u64, seed: u64, formats: &str, chunk: usize) -> (PathBuf, synth::Summary) {
    let out = temp_dir(name);
    let cfg = synth::Config {
        patients,
        seed,
        out: out.clone(),
        formats: formats.parse().expect("formats"),
        chunk_size: chunk,
        ..synth::Config::default()
    };
    let s = synth::generate(&cfg, &mut |_| {}).expect("generate");
    (out, s)
}

/// All resources of one type.
pub fn read_type(dir: &Path, t: &str) -> Vec<Value> {
    let p = dir.join("fhir").join(format!("{t}.ndjson"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{t}: bad JSON line {l}: {e}"))).collect()
}

/// Every file under a directory, relative path → bytes, sorted.
pub fn all_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("prefix").to_string_lossy().to_string();
                out.push((rel, std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}
