//! The `medtwin` binary end to end: real processes, real files, a real
//! SQLite database, real HTTP on loopback. One test binary, a module per topic.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn medtwin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_medtwin"));
    c.env_remove("MEDTWIN_DATA").env_remove("MEDTWIN_ADDR").env("MEDTWIN_SYNC", "normal");
    c
}

fn run(args: &[&str]) -> Output {
    medtwin().args(args).output().expect("run medtwin")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(path: &Path, content: &str) {
    std::fs::write(path, content).expect("write");
}

fn patient_line(id: &str) -> String {
    format!(r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"山田","given":["太郎"]}}],"gender":"male","birthDate":"1960-04-01"}}"#)
}

mod help {
    use super::*;

    #[test]
    fn every_command_has_help() {
        for cmd in [vec!["--help"], vec!["serve", "--help"], vec!["import", "--help"], vec!["export", "--help"], vec!["fhirpath", "--help"], vec!["demo", "--help"], vec!["synth", "--help"], vec!["convert", "ssmix2", "--help"], vec!["analyze", "km", "--help"], vec!["view", "run", "--help"], vec!["sql", "--help"]] {
            let o = run(&cmd);
            assert!(o.status.success(), "{cmd:?}");
            assert!(text(&o.stdout).contains("Usage: medtwin"), "{cmd:?}: {}", text(&o.stdout));
        }
        let o = run(&["import"]);
        assert_eq!(o.status.code(), Some(2), "missing PATH is a usage error");
    }
}

mod import_export {
    use super::*;

    #[test]
    fn import_reports_rejects_with_file_and_line_and_keeps_the_rest() {
        let d = tempfile::tempdir().expect("tmp");
        let data = d.path().join("data");
        let f = d.path().join("in.ndjson");
        let mut lines = vec![patient_line("p1"), patient_line("p2")];
        lines.push("{not json".into());
        lines.push(r#"{"resourceType":"Patient","id":"p3","birthDate":"1960-02-30"}"#.into());
        lines.push(String::new());
        lines.push(r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"HbA1c"},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":6.1,"unit":"%"}}"#.into());
        lines.push(r#"{"resourceType":"Nope"}"#.into());
        write(&f, &lines.join("\n"));
        let o = run(&["import", "--data", data.to_str().expect("utf8"), f.to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        assert!(out.contains("imported 3 resources"), "{out}");
        assert!(out.contains("3 rejected"), "{out}");
        let err = text(&o.stderr);
        let fname = f.display().to_string();
        assert!(err.contains(&format!("{fname}:3: malformed JSON")), "{err}");
        assert!(err.contains(&format!("{fname}:4: Patient.birthDate: '1960-02-30' is not a valid date")), "{err}");
        assert!(err.contains(&format!("{fname}:7: resourceType: unknown resourceType 'Nope'")), "{err}");

        // Importing the same data again creates no new versions.
        let o = run(&["import", "--data", data.to_str().expect("utf8"), f.to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(3));
        let out = text(&o.stdout);
        let patient_row = out.lines().find(|l| l.starts_with("Patient ")).expect("Patient row").to_string();
        let cols: Vec<&str> = patient_row.split_whitespace().collect();
        assert_eq!(cols, ["Patient", "0", "0", "2"], "{out}");

        // Export writes one NDJSON file per type, in the Bulk Data layout.
        let out_dir = d.path().join("export");
        let o = run(&["export", "--data", data.to_str().expect("utf8"), "--out", out_dir.to_str().expect("utf8")]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let pats = std::fs::read_to_string(out_dir.join("Patient.ndjson")).expect("Patient.ndjson");
        assert_eq!(pats.lines().count(), 2);
        for l in pats.lines() {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            assert_eq!(v["meta"]["versionId"], "1");
        }
        assert_eq!(std::fs::read_to_string(out_dir.join("Observation.ndjson")).expect("obs").lines().count(), 1);
        let only = d.path().join("only");
        let o = run(&["export", "--data", data.to_str().expect("utf8"), "--out", only.to_str().expect("utf8"), "--type", "Observation"]);
        assert!(o.status.success());
        assert!(!only.join("Patient.ndjson").exists());
        let o = run(&["export", "--data", data.to_str().expect("utf8"), "--out", only.to_str().expect("utf8"), "--since", "2999-01-01T00:00:00Z"]);
        assert!(o.status.success());
        assert!(text(&o.stderr).contains("exported 0 resources"));
        let o = run(&["export", "--data", data.to_str().expect("utf8"), "--out", only.to_str().expect("utf8"), "--since", "soon"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("--since 'soon'"));
        let o = run(&["export", "--data", data.to_str().expect("utf8"), "--out", only.to_str().expect("utf8"), "--type", "Patients"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("'Patients' is not a FHIR R4 resource type"));
    }

    #[test]
    fn import_bundles_and_folders() {
        let d = tempfile::tempdir().expect("tmp");
        let data = d.path().join("data");
        let dir = d.path().join("in");
        std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
        let bundle = serde_json::json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:0b1e7c53-7f53-4a42-9e5a-5b8f2d1f0001", "resource": {"resourceType": "Patient", "name": [{"family": "佐藤"}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "IMP"},
                          "subject": {"reference": "urn:uuid:0b1e7c53-7f53-4a42-9e5a-5b8f2d1f0001"}},
             "request": {"method": "PUT", "url": "Encounter/e1"}}]});
        write(&dir.join("b.json"), &bundle.to_string());
        write(&dir.join("sub/p.ndjson"), &format!("{}\n{}\n", patient_line("a"), patient_line("b")));
        write(&dir.join("ignored.txt"), "not imported");
        let o = run(&["import", "--data", data.to_str().expect("utf8"), dir.to_str().expect("utf8")]);
        assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
        assert!(text(&o.stdout).contains("imported 4 resources from 2 file(s)"), "{}", text(&o.stdout));
        let out = d.path().join("x");
        assert!(run(&["export", "--data", data.to_str().expect("utf8"), "--out", out.to_str().expect("utf8")]).status.success());
        let enc: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(out.join("Encounter.ndjson")).expect("enc").trim()).expect("json");
        let r = enc["subject"]["reference"].as_str().expect("ref");
        let pid = r.strip_prefix("Patient/").expect("rewritten reference");
        let pats = std::fs::read_to_string(out.join("Patient.ndjson")).expect("pats");
        assert!(pats.contains(&format!("\"id\":\"{pid}\"")), "{r} not among {pats}");
    }

    #[test]
    fn fatal_errors_exit_1() {
        let d = tempfile::tempdir().expect("tmp");
        let o = run(&["import", "--data", d.path().join("data").to_str().expect("utf8"), "/definitely/not/here.ndjson"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("cannot read /definitely/not/here.ndjson"), "{}", text(&o.stderr));
        let file = d.path().join("file");
        write(&file, "x");
        let o = run(&["import", "--data", file.to_str().expect("utf8"), file.to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("opening the store"), "{}", text(&o.stderr));
    }
}

mod durability {
    use super::*;

    /// SIGKILL in the middle of an import loses only the uncommitted chunk: the
    /// database opens cleanly, holds whole chunks, and a second import completes it.
    #[test]
    fn kill_during_import_keeps_committed_chunks() {
        let d = tempfile::tempdir().expect("tmp");
        let data = d.path().join("data");
        let f = d.path().join("big.ndjson");
        let n = 300_000;
        {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&f).expect("create"));
            for i in 0..n {
                writeln!(w, r#"{{"resourceType":"Observation","id":"o{i}","status":"final","code":{{"coding":[{{"system":"urn:oid:1.2.392.200119.4.504","code":"3D010000001926101"}}]}},"subject":{{"reference":"Patient/p{}"}},"valueQuantity":{{"value":{}.{},"unit":"%"}}}}"#, i % 1000, 5 + i % 4, i % 10).expect("write");
            }
        }
        let mut child = medtwin()
            .args(["import", "--data", data.to_str().expect("utf8"), "--batch", "1000", f.to_str().expect("utf8")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // Wait until some chunks are committed, then kill without warning.
        let db = data.join("medtwin.db");
        let start = std::time::Instant::now();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let size = std::fs::metadata(data.join("medtwin.db-wal")).map(|m| m.len()).unwrap_or(0);
            if size > 4_000_000 || start.elapsed().as_secs() > 60 {
                break;
            }
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(!status.success(), "the import finished before it could be killed; make the input bigger");
        assert!(db.exists());
        let out = d.path().join("after-kill");
        let o = run(&["export", "--data", data.to_str().expect("utf8"), "--out", out.to_str().expect("utf8"), "--type", "Observation"]);
        assert!(o.status.success(), "the database must open cleanly: {}", text(&o.stderr));
        let kept = std::fs::read_to_string(out.join("Observation.ndjson")).map(|s| s.lines().count()).unwrap_or(0);
        assert!(kept > 0 && kept < n, "kept {kept} of {n}");
        assert_eq!(kept % 1000, 0, "only whole transactions survive: kept {kept}");
        // Every kept line is a complete resource.
        for l in std::fs::read_to_string(out.join("Observation.ndjson")).expect("read").lines() {
            let v: serde_json::Value = serde_json::from_str(l).expect("complete JSON");
            assert_eq!(v["meta"]["versionId"], "1");
        }
        // Importing again completes the data without duplicating what was kept.
        let o = run(&["import", "--data", data.to_str().expect("utf8"), "--batch", "5000", f.to_str().expect("utf8")]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let obs_row = text(&o.stdout).lines().find(|l| l.starts_with("Observation")).expect("row").to_string();
        let cols: Vec<u64> = obs_row.split_whitespace().skip(1).map(|c| c.parse().expect("number")).collect();
        assert_eq!(cols, [(n - kept) as u64, 0, kept as u64], "{obs_row}");
    }
}

mod serve {
    use super::*;

    fn http(addr: &str, req: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.write_all(req.as_bytes()).expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    }

    #[test]
    fn serves_on_loopback_and_stops_cleanly_on_sigterm() {
        let d = tempfile::tempdir().expect("tmp");
        let data: PathBuf = d.path().join("data");
        let mut child = medtwin()
            .args(["serve", "--data", data.to_str().expect("utf8"), "--addr", "127.0.0.1:0"])
            .env("MEDTWIN_LOG", "warn")
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        stderr.read_line(&mut line).expect("read");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split("/fhir").next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        let body = patient_line("s1");
        let put = http(
            &addr,
            &format!("PUT /fhir/Patient/s1 HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/fhir+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
        );
        assert!(put.starts_with("HTTP/1.1 201"), "{put}");
        let get = http(&addr, &format!("GET /fhir/Patient/s1 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
        assert!(get.starts_with("HTTP/1.1 200"), "{get}");
        assert!(get.to_ascii_lowercase().contains("etag: w/\"1\""), "{get}");
        let meta = http(&addr, &format!("GET /fhir/metadata HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
        assert!(meta.contains("CapabilityStatement"));
        let st = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        assert!(st.success());
        let status = child.wait().expect("wait");
        let mut rest = String::new();
        stderr.read_to_string(&mut rest).expect("read");
        assert!(status.success(), "exit {status:?}: {rest}");
        assert!(rest.contains("stopped cleanly"), "{rest}");
        // The checkpoint on shutdown leaves no write-ahead log behind.
        let wal = std::fs::metadata(data.join("medtwin.db-wal")).map(|m| m.len()).unwrap_or(0);
        assert_eq!(wal, 0);
    }

    #[test]
    fn bad_address_is_a_clear_error() {
        let o = run(&["serve", "--addr", "not-an-address"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(text(&o.stderr).contains("--addr"), "{}", text(&o.stderr));
    }
}

mod fhirpath_cmd {
    use super::*;

    fn fp(args: &[&str], stdin: &str) -> Output {
        let mut c = medtwin().arg("fhirpath").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        c.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write");
        c.wait_with_output().expect("wait")
    }

    #[test]
    fn evaluates_from_stdin_and_file() {
        let p = r#"{"resourceType":"Patient","name":[{"use":"official","family":"山田","given":["太郎","一"]}],"birthDate":"1960-04-01"}"#;
        let o = fp(&["Patient.name.given"], p);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout).trim(), r#"["太郎","一"]"#);
        let d = tempfile::tempdir().expect("tmp");
        let f = d.path().join("p.json");
        write(&f, p);
        let o = fp(&["birthDate + 1 year", f.to_str().expect("utf8")], "");
        assert_eq!(text(&o.stdout).trim(), r#"["1961-04-01"]"#);
        let o = fp(&["name.given.count() > %n", "--env", "n=1", f.to_str().expect("utf8")], "");
        assert_eq!(text(&o.stdout).trim(), "[true]");
    }

    #[test]
    fn invalid_expression_exits_1_with_the_position() {
        let o = fp(&["Patient.name.where("], "{\"resourceType\":\"Patient\"}");
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("syntax error at line 1, column"), "{}", text(&o.stderr));
        let o = fp(&["'a' + 1"], "{\"resourceType\":\"Patient\"}");
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("type error"), "{}", text(&o.stderr));
        let o = fp(&["name"], "not json");
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("standard input is not JSON"), "{}", text(&o.stderr));
    }
}

mod analyze {
    use super::*;

    /// A small data set whose Kaplan–Meier estimate and log-rank test are computed by hand:
    /// group a: times 1, 2+, 3, 4 (+ censored); group b: 2, 3, 5, 6.
    fn data(d: &Path) -> PathBuf {
        let f = d.join("surv.csv");
        write(&f, "time,event,group,age\n1,1,a,60\n2,0,a,70\n3,1,a,65\n4,1,a,80\n2,1,b,50\n3,1,b,55\n5,1,b,62\n6,0,b,58\n");
        f
    }

    #[test]
    fn km_json_matches_hand_computation() {
        let d = tempfile::tempdir().expect("tmp");
        let f = data(d.path());
        let o = run(&["analyze", "km", "--input", f.to_str().expect("utf8"), "--time", "time", "--event", "event", "--group", "group", "--at", "0,3", "--format", "json"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).expect("json");
        // The JSON is a list of groups, as the issue specifies.
        let groups = v.as_array().expect("a list of groups");
        let a = groups.iter().find(|g| g["name"] == "a").expect("group a");
        assert_eq!(a["n"].as_f64(), Some(4.0));
        assert_eq!(a["events"].as_f64(), Some(3.0));
        // S(1) = 3/4; S(3) = 3/4 * (1 - 1/2) = 3/8 (one censored at 2 leaves 2 at risk at 3).
        let row3 = a["table"].as_array().expect("rows").iter().find(|r| r["time"] == 3.0).expect("t=3");
        assert!((row3["survival"].as_f64().expect("s") - 0.375).abs() < 1e-12, "{row3}");
        assert_eq!(row3["at_risk"].as_f64(), Some(2.0));
        let o = run(&["analyze", "km", "--input", f.to_str().expect("utf8"), "--time", "time", "--event", "event"]);
        assert!(o.status.success());
        assert!(!text(&o.stdout).is_empty());
    }

    #[test]
    fn rates_with_wilson_intervals() {
        let d = tempfile::tempdir().expect("tmp");
        let f = d.path().join("hf.csv");
        write(&f, "nyha,died,days\nI,0,40\nI,1,3\nI,0,35\nI,0,12\nIV,1,2\nIV,1,20\nIV,0,60\nIV,1,5\n");
        let o = run(&["analyze", "rate", "--input", f.to_str().expect("utf8"), "--outcome", "died", "--group", "nyha", "--format", "json"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).expect("json");
        let rows = v.as_array().expect("list");
        let iv = rows.iter().find(|r| r["group"] == "IV").expect("IV");
        assert_eq!(iv["events"].as_f64(), Some(3.0));
        // Wilson 95% interval for 3/4, as statsmodels' proportion_confint(method="wilson") gives it.
        assert!((iv["ci"][0].as_f64().expect("lo") - 0.30064184258240184).abs() < 1e-6, "{iv}");
        assert!((iv["ci"][1].as_f64().expect("hi") - 0.9544127391902).abs() < 1e-6, "{iv}");
        // 30-day mortality: the patient censored at day 12 (alive) is excluded.
        let o = run(&["analyze", "rate", "--input", f.to_str().expect("utf8"), "--time", "days", "--event", "died", "--horizon", "30", "--group", "nyha", "--format", "json"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).expect("json");
        let one = v.as_array().expect("list").iter().find(|r| r["group"] == "I").expect("I").clone();
        assert_eq!(one["n"].as_f64(), Some(3.0), "{one}");
        let o = run(&["analyze", "rate", "--input", f.to_str().expect("utf8"), "--group", "nyha"]);
        assert_eq!(o.status.code(), Some(1));
    }

    #[test]
    fn a_closed_pipe_is_not_a_crash() {
        let d = tempfile::tempdir().expect("tmp");
        let f = data(d.path());
        let mut c = medtwin()
            .args(["analyze", "km", "--input", f.to_str().expect("utf8"), "--time", "time", "--event", "event", "--format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(c.stdout.take());
        let o = c.wait_with_output().expect("wait");
        assert!(!text(&o.stderr).contains("panicked"), "{}", text(&o.stderr));
    }

    #[test]
    fn logrank_cox_psm_run_and_errors_are_clear() {
        let d = tempfile::tempdir().expect("tmp");
        let f = data(d.path());
        let fs = f.to_str().expect("utf8");
        let o = run(&["analyze", "logrank", "--input", fs, "--time", "time", "--event", "event", "--group", "group", "--format", "json"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).expect("json");
        assert_eq!(v["df"].as_f64(), Some(1.0));
        assert!(v["p"].as_f64().expect("p") > 0.0 && v["p"].as_f64().expect("p") <= 1.0);
        let o = run(&["analyze", "cox", "--input", fs, "--time", "time", "--event", "event", "--covariates", "age", "--format", "json"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).expect("json");
        assert_eq!(v["coefficients"][0]["name"], "age");
        let o = run(&["analyze", "cox", "--input", fs, "--time", "time", "--event", "event", "--covariates", "age", "--ph-test", "km", "--format", "json"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).expect("json");
        assert_eq!(v["ph_test"][0]["name"], "age");
        let o = run(&["analyze", "cox", "--input", fs, "--time", "time", "--event", "event", "--covariates", "weight"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("weight"), "{}", text(&o.stderr));
        let o = run(&["analyze", "km", "--input", fs, "--time", "group", "--event", "event"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("row"), "non-numeric values name the row: {}", text(&o.stderr));
        let o = run(&["analyze", "km", "--input", "/no/such.csv", "--time", "t", "--event", "e"]);
        assert_eq!(o.status.code(), Some(1));
    }
}

mod convert {
    use super::*;

    fn ingest_data(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ingest/test_data").join(rel)
    }

    #[test]
    fn ssmix2_tree_converts_and_imports() {
        let d = tempfile::tempdir().expect("tmp");
        let tree = ingest_data("ssmix2/storage");
        let out = d.path().join("out.ndjson");
        let report = d.path().join("report.json");
        let o = run(&["convert", "ssmix2", tree.to_str().expect("utf8"), "--out", out.to_str().expect("utf8"), "--report", report.to_str().expect("utf8")]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o.stderr));
        let lines: Vec<serde_json::Value> =
            std::fs::read_to_string(&out).expect("out").lines().map(|l| serde_json::from_str(l).expect("json")).collect();
        assert!(lines.iter().any(|r| r["resourceType"] == "Patient"), "a Patient from ADT-00");
        for r in &lines {
            assert!(fhir::validate::validate_resource(r).is_empty(), "{r}");
        }
        let rep: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
        assert_eq!(o.status.code() == Some(3), rep["rejected"].as_u64().unwrap_or(0) > 0, "exit 3 exactly when something was rejected");
        // `medtwin import` recognises the tree and imports the same resources; twice gives no duplicates.
        let data = d.path().join("data");
        for pass in 0..2 {
            let o = run(&["import", "--data", data.to_str().expect("utf8"), tree.to_str().expect("utf8")]);
            assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o.stderr));
            assert!(text(&o.stdout).contains(&format!("imported {} resources", lines.len())), "pass {pass}: {}", text(&o.stdout));
        }
        let exp = d.path().join("exp");
        assert!(run(&["export", "--data", data.to_str().expect("utf8"), "--out", exp.to_str().expect("utf8")]).status.success());
        let stored: usize = std::fs::read_dir(&exp).expect("dir").map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("read").lines().count()).sum();
        assert_eq!(stored, lines.len());
    }

    #[test]
    fn uke_converts_with_points() {
        let d = tempfile::tempdir().expect("tmp");
        let f = ingest_data("uke/RECEIPTC_GAIRAI_SAMPLE.UKE");
        let out = d.path().join("claims.ndjson");
        let o = run(&["convert", "uke", f.to_str().expect("utf8"), "--out", out.to_str().expect("utf8")]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{}", text(&o.stderr));
        let claims: Vec<serde_json::Value> = std::fs::read_to_string(&out)
            .expect("out")
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
            .filter(|r| r["resourceType"] == "Claim")
            .collect();
        assert!(!claims.is_empty());
        assert!(claims.iter().all(|c| c["item"].as_array().is_some_and(|i| !i.is_empty())));
        let o = run(&["convert", "uke", "/no/such.UKE", "--out", out.to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("/no/such.UKE"));
    }
}

mod synth_cmd {
    use super::*;

    fn dir_digest(dir: &Path) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("dir") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let bytes = std::fs::read(&p).expect("read");
                    let sum = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3));
                    out.push((p.strip_prefix(dir).expect("prefix").display().to_string(), bytes.len() as u64, sum));
                }
            }
        }
        out.sort();
        out
    }

    /// The generator's output is deterministic, imports cleanly into the store,
    /// and its SS-MIX2 and UKE outputs convert without rejections.
    #[test]
    fn synth_then_import_and_convert() {
        let d = tempfile::tempdir().expect("tmp");
        let a = d.path().join("a");
        let b = d.path().join("b");
        for out in [&a, &b] {
            let o = run(&["synth", "--patients", "80", "--seed", "7", "--years", "2020-2024", "--out", out.to_str().expect("utf8")]);
            assert!(o.status.success(), "{}", text(&o.stderr));
            assert!(text(&o.stdout).contains("80 people"), "{}", text(&o.stdout));
        }
        assert_eq!(dir_digest(&a), dir_digest(&b), "same arguments, same bytes");
        assert!(a.join("truth.json").exists());
        let data = d.path().join("data");
        let o = run(&["import", "--data", data.to_str().expect("utf8"), a.join("fhir").to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
        assert!(text(&o.stdout).contains("0 rejected"));
        // The shipped JP Core views run over the store: one patient row per person.
        let views = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../views");
        let o = run(&["view", "run", views.join("patients.json").to_str().expect("utf8"), "--data", data.to_str().expect("utf8"), "--format", "csv"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout).lines().count(), 81, "a header and 80 patients");
        let pq = d.path().join("parquet");
        let o = run(&["view", "materialize", views.to_str().expect("utf8"), "--data", data.to_str().expect("utf8"), "--out", pq.to_str().expect("utf8")]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        for name in ["patients", "encounters", "lab_results", "claims"] {
            let f = pq.join(format!("{name}.parquet"));
            let bytes = std::fs::read(&f).unwrap_or_default();
            assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"), "{} is not a Parquet file", f.display());
        }
        let o = run(&["view", "run", views.join("patients.json").to_str().expect("utf8"), "--input", a.join("fhir/Patient.ndjson").to_str().expect("utf8"), "--format", "ndjson", "--limit", "5"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout).lines().count(), 5);
        // From the store too: the scan stops at the limit, and a view that
        // fails on the data stops it with the view's error.
        let o = run(&["view", "run", views.join("patients.json").to_str().expect("utf8"), "--data", data.to_str().expect("utf8"), "--format", "ndjson", "--limit", "5"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout).lines().count(), 5);
        let many = d.path().join("many.json");
        write(&many, r#"{"resourceType":"ViewDefinition","name":"m","resource":"Patient","select":[{"column":[{"name":"given","path":"name.given"}]}]}"#);
        let o = run(&["view", "run", many.to_str().expect("utf8"), "--data", data.to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
        assert!(text(&o.stderr).contains("collection"), "{}", text(&o.stderr));
        let bad = d.path().join("bad.json");
        write(&bad, r#"{"resourceType":"ViewDefinition","resource":"Patient","select":[{"column":[{"name":"1 bad","path":"id"}]}]}"#);
        let o = run(&["view", "run", bad.to_str().expect("utf8"), "--data", data.to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("column"), "{}", text(&o.stderr));
        // One standardized storage per facility (ssmix2/<医療機関コード>/...).
        let ss = d.path().join("ss.ndjson");
        let mut roots = 0;
        for e in std::fs::read_dir(a.join("ssmix2")).expect("ssmix2 dir") {
            let root = e.expect("entry").path();
            if !root.is_dir() {
                continue;
            }
            roots += 1;
            let code = root.file_name().and_then(|n| n.to_str()).expect("name").to_string();
            let o = run(&["convert", "ssmix2", root.to_str().expect("utf8"), "--facility", &code, "--out", ss.to_str().expect("utf8")]);
            assert_eq!(o.status.code(), Some(0), "{}: {}", root.display(), text(&o.stderr));
        }
        assert!(roots > 0);
        // The folder of storages converts as a whole too.
        let o = run(&["convert", "ssmix2", a.join("ssmix2").to_str().expect("utf8"), "--out", ss.to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let ukes: Vec<String> = dir_digest(&a.join("uke")).into_iter().map(|(p, _, _)| a.join("uke").join(p).display().to_string()).collect();
        assert!(!ukes.is_empty());
        let mut args = vec!["convert", "uke"];
        args.extend(ukes.iter().map(String::as_str));
        let uk = d.path().join("uke.ndjson");
        args.extend(["--out", uk.to_str().expect("utf8")]);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        // `demo --no-serve` generates and imports once, then reuses the data.
        let demo = d.path().join("demo");
        let o = run(&["demo", "--patients", "30", "--data", demo.to_str().expect("utf8"), "--no-serve"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(text(&o.stdout).contains("0 rejected"), "{}", text(&o.stdout));
        let o = run(&["demo", "--patients", "30", "--data", demo.to_str().expect("utf8"), "--no-serve"]);
        assert!(o.status.success());
        assert!(text(&o.stderr).contains("reusing the data"), "{}", text(&o.stderr));
        let o = run(&["synth", "--patients", "10", "--out", d.path().join("c").to_str().expect("utf8"), "--region", "osaka"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains("--region"), "{}", text(&o.stderr));
    }
}

mod sql_cmd {
    use super::*;

    fn sample() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../analytics/test_data/views/jpcore_sample.ndjson")
    }

    /// The handwritten JP Core sample split into `<Type>.ndjson` files.
    fn ndjson_dir(dir: &Path) -> PathBuf {
        let out = dir.join("ndjson");
        std::fs::create_dir_all(&out).expect("mkdir");
        let text = std::fs::read_to_string(sample()).expect("sample");
        let mut by_type: std::collections::BTreeMap<String, String> = Default::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            let t = v["resourceType"].as_str().expect("type").to_string();
            by_type.entry(t).or_default().push_str(&format!("{line}\n"));
        }
        for (t, lines) in by_type {
            write(&out.join(format!("{t}.ndjson")), &lines);
        }
        out
    }

    fn sql(args: &[&str]) -> (Option<i32>, String, String) {
        let o = run(&[&["sql"], args].concat());
        (o.status.code(), text(&o.stdout), text(&o.stderr))
    }

    /// The standard views are tables over the store, over NDJSON and over
    /// materialized Parquet, with the same answers in every output format.
    #[test]
    fn standard_views_over_store_ndjson_and_parquet() {
        let d = tempfile::tempdir().expect("tmp");
        let data = d.path().join("data");
        let data_s = data.to_str().expect("utf8");
        let o = run(&["import", "--data", data_s, sample().to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let q = "SELECT p.sex, count(*) AS n, sum(c.total_points) AS points FROM claims c JOIN patients p USING (patient_id) GROUP BY p.sex";
        let (code, out, err) = sql(&["--data", data_s, "--format", "csv", q]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, "sex,n,points\nmale,1,17048\n");
        assert!(err.contains("1 rows"), "{err}");
        let nd = ndjson_dir(d.path());
        let (code, out_nd, err) = sql(&["--ndjson", nd.to_str().expect("utf8"), "--format", "csv", q]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out_nd, out, "NDJSON and store give the same answer");
        let (code, out, err) = sql(&["--data", data_s, "--format", "json", "SELECT patient_id, sex, municipality_code FROM patients ORDER BY patient_id"]);
        assert_eq!(code, Some(0), "{err}");
        let rows: serde_json::Value = serde_json::from_str(&out).expect("JSON array");
        assert_eq!(rows[0], serde_json::json!({"patient_id": "P000001", "sex": "male", "municipality_code": "131016"}));
        assert_eq!(rows.as_array().map(Vec::len), Some(2));
        let (code, out, err) = sql(&["--data", data_s, "SELECT jlac10, value, unit FROM lab_results"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.contains("| 3F015000002327101 | 7.4   | %    |"), "{out}");
        // Tables nobody queries are still listed (registered empty).
        let (code, out, err) = sql(&["--data", data_s, "--format", "csv",
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, "table_name\nclaim_items\nclaims\nconditions\nencounters\nfacilities\nlab_results\npatients\nprescriptions\n");
        // Parquet from `view materialize`, no store needed.
        let pq = d.path().join("pq");
        let views = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../views");
        let o = run(&["view", "materialize", views.to_str().expect("utf8"), "--data", data_s, "--out", pq.to_str().expect("utf8")]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let (code, out, err) = sql(&["--parquet", pq.to_str().expect("utf8"), "--data", "/nonexistent/never-opened", "--format", "csv", q]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, out_nd);
    }

    #[test]
    fn custom_views_and_clear_errors() {
        let d = tempfile::tempdir().expect("tmp");
        let nd = ndjson_dir(d.path());
        let nd_s = nd.to_str().expect("utf8");
        let v = d.path().join("given.json");
        write(&v, r#"{"resourceType":"ViewDefinition","name":"given_names","resource":"Patient",
            "select":[{"column":[{"name":"id","path":"getResourceKey()"}]},{"forEach":"name.given","column":[{"name":"given","path":"$this"}]}]}"#);
        let (code, out, err) = sql(&["--ndjson", nd_s, "--view", v.to_str().expect("utf8"), "--format", "csv", "SELECT id, given FROM given_names ORDER BY id, given"]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out.lines().next(), Some("id,given"));
        assert!(out.contains("P000001,太郎"), "{out}");
        // --view replaces the standard views.
        let (code, _, err) = sql(&["--ndjson", nd_s, "--view", v.to_str().expect("utf8"), "SELECT * FROM patients"]);
        assert_eq!(code, Some(1));
        assert!(err.contains("patients"), "{err}");
        for (q, want) in [
            ("DROP TABLE patients", "sql"),
            ("COPY patients TO 'x.csv'", "sql"),
            ("SELECT nope FROM patients", "nope"),
            ("SELEC 1", "SELEC"),
        ] {
            let (code, out, err) = sql(&["--ndjson", nd_s, q]);
            assert_eq!(code, Some(1), "{q}: {out}");
            assert!(err.starts_with("error: ") && err.contains(want), "{q}: {err}");
            assert!(!err.contains("panicked"), "{q}: {err}");
        }
        let unnamed = d.path().join("unnamed.json");
        write(&unnamed, r#"{"resourceType":"ViewDefinition","resource":"Patient","select":[{"column":[{"name":"id","path":"id"}]}]}"#);
        let (code, _, err) = sql(&["--ndjson", nd_s, "--view", unnamed.to_str().expect("utf8"), "SELECT 1"]);
        assert_eq!(code, Some(1));
        assert!(err.contains("needs a name"), "{err}");
        let (code, _, err) = sql(&["--ndjson", nd_s, "--format", "xml", "SELECT 1"]);
        assert_eq!(code, Some(2), "{err}");
        let (code, _, err) = sql(&["--parquet", d.path().join("missing").to_str().expect("utf8"), "SELECT 1"]);
        assert_eq!(code, Some(1));
        assert!(err.contains("missing"), "{err}");
    }
}
