//! Runs the official SQL-on-FHIR v2 test suite (vendored under
//! `test_data/spec/sql-on-fhir-v2/`, MIT) through the whole pipeline:
//! ViewDefinition parsing and validation, parallel evaluation through
//! `ViewSink`, Arrow batches, and the JSON writer. Writes the suite's
//! `test_report.json` format into cargo's target tmp dir and requires every
//! case to pass.

use std::path::{Path, PathBuf};

use analytics::view::{Format, RunOptions, ViewDefinition, write_batches};
use serde_json::{Value, json};

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/spec/sql-on-fhir-v2/tests")
}

/// Runs a view over the resources through the chunked parallel runner and
/// returns (column names, rows as JSON objects).
fn run(view: &Value, resources: &[Value], chunk_size: usize) -> Result<(Vec<String>, Vec<Value>), String> {
    let view = ViewDefinition::from_json(view).map_err(|e| e.to_string())?;
    let lines = resources.iter().map(|r| Ok(r.to_string()));
    let mut batches = Vec::new();
    view.run_lines(lines, RunOptions { chunk_size, ..RunOptions::default() }, |b| {
        batches.push(b);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let json = write_batches(Format::Json, view.schema(), &batches, Vec::new()).map_err(|e| e.to_string())?;
    let rows: Value = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
    let cols = view.column_names().iter().map(|s| s.to_string()).collect();
    Ok((cols, rows.as_array().cloned().unwrap_or_default()))
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            // A key missing on one side counts as null.
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().all(|k| same_value(x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null)))
        }
        _ => a == b,
    }
}

fn rows_match(got: &[Value], want: &[Value]) -> bool {
    if got.len() != want.len() {
        return false;
    }
    if got.iter().zip(want).all(|(a, b)| same_value(a, b)) {
        return true;
    }
    // Row order is not significant in the suite: match as a multiset.
    let mut used = vec![false; got.len()];
    want.iter().all(|w| {
        let hit = got.iter().enumerate().find(|(i, g)| !used[*i] && same_value(g, w));
        match hit {
            Some((i, _)) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

#[test]
fn sql_on_fhir_v2_suite_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(suite_dir())
        .expect("vendored suite present")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 22, "the vendored suite has 22 files");
    let mut report = serde_json::Map::new();
    let mut total = 0;
    let mut failures = Vec::new();
    for f in &files {
        let suite: Value = serde_json::from_str(&std::fs::read_to_string(f).expect("read")).expect("json");
        let resources = suite["resources"].as_array().cloned().unwrap_or_default();
        let mut results = Vec::new();
        for t in suite["tests"].as_array().expect("tests") {
            total += 1;
            let title = t["title"].as_str().unwrap_or("?");
            // Run twice: one resource per chunk (many parallel pieces) and one big chunk.
            let a = run(&t["view"], &resources, 1);
            let b = run(&t["view"], &resources, 1024);
            let outcome: Result<(), String> = if t.get("expectError").is_some() {
                match (&a, &b) {
                    (Err(_), Err(_)) => Ok(()),
                    _ => Err(format!("expected an error, got {a:?}")),
                }
            } else {
                match (a, b) {
                    (Ok((cols, rows)), Ok((_, rows2))) => {
                        let want = t["expect"].as_array().cloned().unwrap_or_default();
                        if rows != rows2 {
                            Err("output differs between chunk sizes".into())
                        } else if let Some(ec) = t.get("expectColumns").and_then(Value::as_array) {
                            let ec: Vec<String> = ec.iter().filter_map(|c| c.as_str().map(String::from)).collect();
                            if ec != cols {
                                Err(format!("columns {cols:?}, expected {ec:?}"))
                            } else if rows_match(&rows, &want) {
                                Ok(())
                            } else {
                                Err(format!("rows {rows:?}\nexpected {want:?}"))
                            }
                        } else if rows_match(&rows, &want) {
                            Ok(())
                        } else {
                            Err(format!("rows {}\nexpected {}", json!(rows), json!(want)))
                        }
                    }
                    (Err(e), _) | (_, Err(e)) => Err(format!("error: {e}")),
                }
            };
            if let Err(e) = &outcome {
                failures.push(format!("{} / {title}: {e}", f.file_name().unwrap_or_default().to_string_lossy()));
            }
            results.push(json!({"name": title, "result": {"passed": outcome.is_ok()}}));
        }
        let name = f.file_name().unwrap_or_default().to_string_lossy().to_string();
        report.insert(name, json!({"tests": results}));
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sof-v2-test_report.json");
    std::fs::write(&out, serde_json::to_string_pretty(&Value::Object(report)).expect("json")).expect("write report");
    eprintln!("SQL-on-FHIR v2 report written to {}", out.display());
    assert_eq!(total, 134, "the vendored suite has 134 cases");
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n\n"));
}
