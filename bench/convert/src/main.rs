//! Converter throughput benchmark: generates HL7 messages and UKE files by
//! replicating and perturbing the vendored samples with the hl7v2 and uke
//! writers, converts them in memory and through a storage tree, and prints
//! messages/s and lines/s.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hl7v2::{Charset, Field, Message};

fn hl7_inputs(test_data: &Path, n: usize) -> Vec<(Vec<u8>, hl7v2::ssmix2::FileName)> {
    let manifest = std::fs::read_to_string(test_data.join("ssmix2/MANIFEST.tsv")).expect("manifest");
    let samples: Vec<(Message, hl7v2::ssmix2::FileName)> = manifest
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, orig)| *orig != "-")
        .map(|(f, orig)| {
            let bytes = std::fs::read(test_data.join("ssmix2").join(f)).expect("sample");
            let name = hl7v2::ssmix2::FileName::parse(orig.rsplit('/').next().unwrap_or("")).expect("name");
            (Message::parse(&bytes).expect("sample parses").0, name)
        })
        .collect();
    (0..n)
        .map(|i| {
            let (m, name) = &samples[i % samples.len()];
            let pid = format!("{:010}", 1_000_000 + i / samples.len());
            // Perturb: new patient id, control id and numeric OBX values.
            let text = m.to_hl7_string();
            let (mut msg, _) = Message::parse_str(&text).expect("reparses");
            msg.msh_mut().set(10, format!("B{i:012}"));
            let mut out = Message::new(Charset::Iso2022Jp);
            for (k, s) in msg.all_segments().iter().enumerate() {
                let mut s = s.clone();
                if s.name() == "PID" {
                    s.set(3, pid.as_str());
                }
                if s.name() == "OBX" && s.field(2).as_str() == "NM" {
                    if let Ok(v) = s.field(5).as_str().parse::<f64>() {
                        s.set(5, Field::text(format!("{:.1}", v * (1.0 + (i % 7) as f64 / 100.0))));
                    }
                }
                if k == 0 {
                    *out.msh_mut() = s;
                } else {
                    out.push(s);
                }
            }
            out.set_charset(Charset::Iso2022Jp);
            let mut fname = name.clone();
            fname.patient_id = pid;
            (out.encode().expect("encodes"), fname)
        })
        .collect()
}

fn uke_input(test_data: &Path, copies: usize) -> (Vec<u8>, usize) {
    let bytes = std::fs::read(test_data.join("uke/RECEIPTC_GAIRAI_SAMPLE.UKE")).expect("sample");
    let (file, _) = uke::UkeFile::parse(&bytes);
    let recs = file.records();
    let (ir, go) = (recs[0].clone(), recs[recs.len() - 1].clone());
    let body = &recs[1..recs.len() - 1];
    let mut out = uke::UkeFile::from_records(vec![ir]);
    let mut receipt = 0;
    for c in 0..copies {
        for r in body {
            let mut r = r.clone();
            if r.id() == "RE" {
                receipt += 1;
                r.set(1, receipt.to_string());
                r.set(13, format!("{:05}{c:05}", r.field(13).parse::<u32>().unwrap_or(0)));
            }
            out.push(r);
        }
    }
    out.push(go);
    let lines = out.records().len();
    (out.to_bytes().expect("writes"), lines)
}

fn run_hl7(inputs: &[(Vec<u8>, hl7v2::ssmix2::FileName)], opts: &ingest::Options) -> usize {
    let mut report = ingest::Report::default();
    let mut n = 0usize;
    for (b, name) in inputs {
        ingest::ssmix2::convert_bytes(b, None, Some(name), opts, &mut report, &mut |r| n += r.as_object().map(|o| o.len()).unwrap_or(0).min(1));
    }
    n
}

/// CPU seconds (user + system) used by this process so far, from
/// /proc/self/stat, so that figures stay meaningful on a shared machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the ')'; 100 ticks/s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let test_data = PathBuf::from(args.get(1).cloned().unwrap_or_else(|| "crates/ingest/test_data".into()));
    let n_msgs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let copies: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    let opts = ingest::Options { facility_code: Some("1312345670".into()) };

    println!("generating {n_msgs} HL7 messages from the 19 SS-MIX2 samples (perturbed patient ids, control ids, values)...");
    let inputs = hl7_inputs(&test_data, n_msgs);
    let (t, c0) = (Instant::now(), cpu_seconds());
    let resources = run_hl7(&inputs, &opts);
    let (s, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c0);
    println!("HL7 in memory, 1 thread : {:>9.0} msgs/s wall, {:>9.0} msgs per CPU-second ({resources} resources, {s:.2}s)", n_msgs as f64 / s, n_msgs as f64 / cpu);

    // Where the time goes: parsing alone, and FHIR validation alone.
    let c0 = cpu_seconds();
    let mut segs = 0usize;
    for (b, _) in &inputs {
        if let Ok((m, _)) = Message::parse(b) {
            segs += m.all_segments().len();
        }
    }
    let cpu = cpu_seconds() - c0;
    println!("  of which HL7 parsing (decode + split + unescape): {:>9.0} msgs per CPU-second ({segs} segments)", n_msgs as f64 / cpu);
    let mut produced = Vec::new();
    let mut report = ingest::Report::default();
    for (b, name) in inputs.iter().take(2000) {
        ingest::ssmix2::convert_bytes(b, None, Some(name), &opts, &mut report, &mut |r| produced.push(r));
    }
    let c0 = cpu_seconds();
    for r in &produced {
        assert!(fhir::validate::validate_resource(r).is_empty());
    }
    let cpu = cpu_seconds() - c0;
    println!("  of which FHIR validation: {:>9.0} resources per CPU-second ({} resources per message)", produced.len() as f64 / cpu, produced.len() as f64 / 2000.0);

    let (t, c0) = (Instant::now(), cpu_seconds());
    let half = inputs.len() / 2;
    let (a, b) = inputs.split_at(half);
    let total: usize = std::thread::scope(|sc| {
        let h1 = sc.spawn(|| run_hl7(a, &opts));
        let h2 = sc.spawn(|| run_hl7(b, &opts));
        h1.join().expect("thread") + h2.join().expect("thread")
    });
    let (s, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c0);
    println!("HL7 in memory, 2 threads: {:>9.0} msgs/s wall, {:>9.0} msgs per CPU-second ({total} resources, {s:.2}s)", n_msgs as f64 / s, n_msgs as f64 / cpu);

    // Through a storage tree on disk (walk, name rule, read, convert).
    let root = std::env::temp_dir().join(format!("medtwin-bench-ssmix2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (b, name) in &inputs {
        let dir = PathBuf::from(name.storage_dir(&root.to_string_lossy()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        // Perturbed copies of one sample share a name only if the patient repeats; keep them distinct.
        std::fs::write(dir.join(name.to_string()), b).expect("write");
    }
    let (t, c0) = (Instant::now(), cpu_seconds());
    let mut count = 0usize;
    let report = ingest::ssmix2::convert_tree(&root, &opts, &mut |_| count += 1).expect("tree");
    let (s, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c0);
    println!("HL7 storage tree, 1 thread: {:>7.0} files/s wall, {:>9.0} files per CPU-second ({} files, {count} resources, {s:.2}s)", report.files_seen as f64 / s, report.files_seen as f64 / cpu, report.files_seen);
    let _ = std::fs::remove_dir_all(&root);

    let (uke_bytes, lines) = uke_input(&test_data, copies);
    println!("generated a UKE file of {lines} lines ({} copies of the sample's claims)", copies);
    let master = uke::master::Master::new();
    let (t, c0) = (Instant::now(), cpu_seconds());
    let mut report = ingest::Report::default();
    let mut count = 0usize;
    ingest::uke::convert_bytes(&uke_bytes, "bench.UKE", &master, &mut report, &mut |_| count += 1);
    let (s, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c0);
    println!("UKE in memory, 1 thread : {:>9.0} lines/s wall, {:>9.0} lines per CPU-second ({count} resources, {s:.2}s)", lines as f64 / s, lines as f64 / cpu);
    println!("(wall figures depend on machine load; per-CPU-second figures times the number of cores bound a parallel run)");
}
