//! The Studies page: list the shipped studies, run one over the server's
//! store, check its numbers against the library run directly on the same
//! store, download its files; a study the data cannot support shows the
//! library's message with status 422.

use crate::harness::{Browser, server};

/// The heart-failure study run by the library itself over the test store:
/// (group, events, n) of the in-hospital outcome, and the rows.
fn expected_hf() -> (Vec<(String, usize, usize)>, usize) {
    use store::Store;
    let files: Vec<(&str, &str)> = analytics::study::SHIPPED_FILES.to_vec();
    let study = analytics::study::shipped()
        .expect("shipped")
        .into_iter()
        .find(|s| s.name == "heart-failure-mortality")
        .expect("hf study");
    let store = server().store.clone();
    let mut source = |rtype: &str, each: &mut dyn FnMut(String) -> analytics::view::Result<()>| -> analytics::view::Result<()> {
        let mut failure = None;
        let r = store.scan(rtype, None, &mut |json| {
            each(json.to_string()).map_err(|e| {
                failure = Some(e);
                store::Error::Aborted("view failed".into())
            })
        });
        if let Some(f) = failure {
            return Err(f);
        }
        r.map_err(|e| analytics::view::Error::Source(e.to_string()))
    };
    let run = analytics::study::run(&study, analytics::study::StudyFiles::Embedded(&files), &analytics::view::standard(), &mut source)
        .expect("the library runs the study on the test data");
    let analytics::study::report::ReportBody::Rates(r) = &run.report.body else { panic!("a rates study") };
    let rows = r.outcomes[0].rows.iter().map(|x| (x.group.clone(), x.events, x.n)).collect();
    (rows, run.report.n_rows)
}

#[test]
fn studies_run_heart_failure_mortality_and_show_its_numbers() {
    let (want, n_rows) = expected_hf();
    assert!(n_rows > 0, "the test population has heart-failure admissions");
    let b = Browser::start();
    b.goto("/studies");
    assert_eq!(b.title(), "研究 | medtwin");
    let items = b.find_all("ul.study-list > li");
    assert_eq!(items.len(), 2, "both shipped studies are listed");
    let list = b.text(&b.find("main"));
    assert!(list.contains("NYHA") && list.contains("スタチン"), "{list}");
    b.click(&b.find("a[href='/studies/heart-failure-mortality']"));
    b.wait_text("h1", "心不全");
    assert!(b.find_all("#results").is_empty(), "no result before the first run");
    b.click(&b.find("form[action^='/studies/heart-failure-mortality/run'] button[type=submit]"));
    b.wait_text("#results", "結果");
    assert!(b.url().contains("/studies/heart-failure-mortality?lang=ja#results"), "{}", b.url());

    // The headline table: one row per NYHA class (and "all"), the same counts
    // as the library computed on the same store.
    for (group, events, n) in &want {
        let cell = b.find(&format!("#headline tr[data-group='{group}'] td[data-outcome='in_hospital']"));
        assert_eq!(b.attr(&cell, "data-events").as_deref(), Some(events.to_string().as_str()), "NYHA {group} events");
        assert_eq!(b.attr(&cell, "data-n").as_deref(), Some(n.to_string().as_str()), "NYHA {group} admissions");
        let text = b.text(&cell);
        assert!(text.starts_with(&format!("{events}/{n} = ")), "{group}: {text}");
    }
    let all = want.iter().find(|w| w.0 == "all").expect("an 'all' row");
    assert_eq!(all.2, n_rows);
    // The report's own sections (rates chart as SVG, its table) are on the page.
    assert!(!b.find_all("#results .report svg").is_empty(), "the rates chart is drawn");
    let report = b.text(&b.find("#results .report"));
    assert!(report.contains("院内死亡") && report.contains("30日死亡"), "{report}");
    b.screenshot("studies-hf-ja");

    // Downloads: results.json has the same numbers; the CSV and HTML exist.
    let links: Vec<String> = b.find_all("ul.downloads a").iter().filter_map(|a| b.attr(a, "href")).collect();
    for f in ["report.html", "results.json", "rates.csv"] {
        assert!(links.iter().any(|l| l.ends_with(&format!("/files/{f}"))), "{f} in {links:?}");
    }
    let json = b.eval("return fetch('/studies/heart-failure-mortality/files/results.json').then(r => r.json())");
    assert_eq!(json["rows"].as_u64(), Some(n_rows as u64), "{json}");
    let rates = &json["outcomes"].as_array().expect("outcomes").iter().find(|o| o["name"] == "in_hospital").expect("in_hospital")["rates"];
    for (group, events, _) in &want {
        let row = rates.as_array().expect("rates").iter().find(|r| r["group"] == group.as_str()).expect("group row");
        assert_eq!(row["events"].as_u64(), Some(*events as u64), "{group}");
    }
    let csv = b.eval("return fetch('/studies/heart-failure-mortality/files/rates.csv').then(r => r.text())");
    assert!(csv.as_str().is_some_and(|c| c.lines().count() > want.len()), "{csv}");
    let html = b.eval("return fetch('/studies/heart-failure-mortality/files/report.html').then(r => r.text())");
    assert!(html.as_str().is_some_and(|h| h.contains("<html lang=\"ja\">")), "the downloaded report is the Japanese page");

    // English: the same result, English labels.
    b.click(&b.find("header a.lang"));
    b.wait_text("#results", "Results");
    let report = b.text(&b.find("#results .report"));
    assert!(report.contains("In-hospital death"), "{report}");
    b.screenshot("studies-hf-en");
}

#[test]
fn a_study_the_data_cannot_support_is_a_clear_422() {
    let b = Browser::start();
    b.goto("/studies/statin-intensity?lang=en");
    b.wait_text("h1", "statins");
    b.find("details pre");
    let sql = b.eval("return document.querySelector('details pre').textContent");
    assert!(sql.as_str().is_some_and(|t| t.contains("high_intensity")), "the SQL is in the page: {sql}");
    b.click(&b.find("form[action^='/studies/statin-intensity/run'] button[type=submit]"));
    // The test population has a handful of PCI patients: too few for a
    // propensity model, so the library refuses with a message.
    let alert = b.wait_text("[role=alert]", "could not run");
    assert!(
        ["perfect separation", "singular", "no events", "both groups", "no pairs", "analysis table is empty"].iter().any(|m| alert.contains(m)),
        "{alert}"
    );
    let console = b.take_console();
    assert!(console.iter().all(|(_, m)| m.contains("422")), "only the 422 itself is reported: {console:?}");
    b.screenshot("studies-statin-error-en");
    // No result yet: downloads are a 404 page, not a crash.
    b.goto("/studies/statin-intensity/files/results.json?lang=en");
    let console = b.take_console();
    assert!(console.iter().all(|(_, m)| m.contains("404")), "{console:?}");
    assert!(b.text(&b.find("[role=alert]")).contains("not been run"));
    b.goto("/studies/no-such-study?lang=en");
    let console = b.take_console();
    assert!(console.iter().all(|(_, m)| m.contains("404")), "{console:?}");
    assert!(b.text(&b.find("[role=alert]")).contains("no-such-study"));
}
