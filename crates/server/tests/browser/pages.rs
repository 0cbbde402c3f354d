//! The dashboard's own pages (home, patients, SQL, FHIR explorer, errors):
//! open each one, click through its main flow, assert what a person would see.

use crate::harness::{Browser, PATIENTS};

#[test]
fn home_shows_counts_in_japanese_and_switches_to_english() {
    let b = Browser::start();
    b.goto("/");
    assert_eq!(b.title(), "ホーム | medtwin");
    let html_lang = b.attr(&b.find("html"), "lang");
    assert_eq!(html_lang.as_deref(), Some("ja"));
    let main = b.text(&b.find("main"));
    assert!(main.contains("読み込まれているデータ"), "{main}");
    assert!(main.contains(&PATIENTS.to_string()), "the patient count {PATIENTS} is shown: {main}");
    // Every nav entry is a link with a label; the current page is marked.
    let nav = b.find_all("header nav a");
    assert_eq!(nav.len(), 6);
    assert_eq!(b.attr(&nav[0], "aria-current").as_deref(), Some("page"));
    // The embedded htmx loaded and runs.
    assert_eq!(b.eval("return typeof htmx.ajax"), serde_json::json!("function"));
    b.screenshot("home-ja");

    // The switch is remembered in a cookie across pages.
    b.click(&b.find("header a.lang"));
    b.wait_text("h1", "Home");
    assert_eq!(b.attr(&b.find("html"), "lang").as_deref(), Some("en"));
    assert!(b.text(&b.find("main")).contains("Data loaded"));
    b.screenshot("home-en");
    b.goto("/patients");
    assert_eq!(b.text(&b.find("h1")), "Patients");
    b.goto("/?lang=ja");
    assert_eq!(b.text(&b.find("h1")), "ホーム");
}

#[test]
fn keyboard_reaches_the_skip_link_and_the_nav() {
    let b = Browser::start();
    b.goto("/");
    b.press("\u{E004}");
    let first = b.active();
    assert_eq!(b.attr(&first, "class").as_deref(), Some("skip"), "Tab lands on the skip link first");
    b.press("\u{E004}\u{E004}\u{E004}");
    let focused = b.active();
    assert_eq!(b.attr(&focused, "href").as_deref(), Some("/patients"), "then brand, home, patients");
    b.press("\u{E007}");
    b.wait_text("h1", "患者");
    b.screenshot("keyboard-patients");
}

#[test]
fn unknown_page_is_a_clear_404_page() {
    let b = Browser::start();
    b.goto("/no-such-page");
    let console = b.take_console();
    // The only console entry is the browser reporting the 404 itself.
    assert!(console.iter().all(|(_, m)| m.contains("404")), "{console:?}");
    assert!(b.title().contains("404"), "{}", b.title());
    let alert = b.text(&b.find("[role=alert]"));
    assert!(alert.contains("ページが見つかりません"), "{alert}");
    b.screenshot("error-404");
}

#[test]
fn patient_search_by_kana_then_open_the_twin() {
    use crate::harness::{first_id, server};
    use store::Store;
    // A patient with HbA1c results, and their kana family name typed in hiragana.
    let obs = first_id("Observation", &[("code", "http://medis.or.jp/CodeSystem/master-JLAC10-17digits|3D046000001906202")])
        .expect("some patient has HbA1c results");
    let stored = server().store.read("Observation", &obs).expect("read").expect("exists");
    let o: serde_json::Value = serde_json::from_str(stored.body.as_deref().expect("body")).expect("json");
    let pid = o["subject"]["reference"].as_str().expect("subject").trim_start_matches("Patient/").to_string();
    let p = server().store.read("Patient", &pid).expect("read").expect("patient");
    let p: serde_json::Value = serde_json::from_str(p.body.as_deref().expect("body")).expect("json");
    let kanji = p["name"][0]["text"].as_str().expect("kanji name").to_string();
    let kana_family = p["name"][1]["family"].as_str().expect("kana family").to_string();
    let hiragana: String = kana_family.chars().map(|c| if ('\u{30A1}'..='\u{30F6}').contains(&c) { char::from_u32(c as u32 - 0x60).unwrap_or(c) } else { c }).collect();

    let b = Browser::start();
    b.goto("/patients");
    assert_eq!(b.title(), "患者 | medtwin");
    let q = b.find("#q");
    b.type_into(&q, &hiragana);
    b.send_keys(&q, "\u{E007}");
    b.wait_text("#results", &kana_family);
    // Typing also fires htmx's debounced live search (400 ms); let it settle
    // so the results are not swapped out under the click.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let link = b.find_all("#results tbody a").into_iter().find(|a| b.text(a) == kanji).unwrap_or_else(|| panic!("{kanji} is in the results"));
    b.screenshot("patients-search-kana");
    b.click(&link);
    b.wait_text("h1", &kanji);
    assert_eq!(b.title(), format!("{kanji} | medtwin"));
    // The twin: charts with points, a timeline, links to raw FHIR.
    let hba1c = b.find("#chart-hba1c svg");
    assert!(!b.find_all("#chart-hba1c svg circle").is_empty(), "HbA1c points are drawn");
    assert!(b.attr(&hba1c, "aria-label").is_some_and(|l| l.contains("HbA1c")));
    assert!(!b.find_all("#chart-bp svg polyline, #chart-bp svg circle").is_empty(), "blood pressure is drawn");
    let timeline = b.text(&b.find("section[aria-labelledby=h-timeline]"));
    assert!(timeline.contains("外来") || timeline.contains("入院"), "{timeline}");
    assert!(!b.find_all(&format!("a[href='/fhir/Patient/{pid}']")).is_empty());
    b.screenshot("patient-twin");
    // A timeline entry opens the resource's JSON in the explorer.
    b.click(&b.find("ul.timeline a"));
    b.find("pre.json");
    assert!(b.text(&b.find("pre.json")).contains("\"resourceType\""));
    b.screenshot("explorer-resource");
}

#[test]
fn patient_search_by_birth_date_and_bad_input() {
    use crate::harness::{first_id, server};
    use store::Store;
    let pid = first_id("Patient", &[]).expect("a patient");
    let p = server().store.read("Patient", &pid).expect("read").expect("patient");
    let p: serde_json::Value = serde_json::from_str(p.body.as_deref().expect("body")).expect("json");
    let birth = p["birthDate"].as_str().expect("birthDate").to_string();
    let b = Browser::start();
    b.goto(&format!("/patients?birthdate={}", birth.replace('-', "/")));
    let results = b.text(&b.find("#results"));
    assert!(results.contains(&birth), "{results}");
    // By ID.
    b.goto(&format!("/patients?q={pid}"));
    assert!(b.text(&b.find("#results")).contains(&pid));
    // A bad birth date is a 400 page that says what is wrong.
    b.goto("/patients?birthdate=yesterday");
    let console = b.take_console();
    assert!(console.iter().all(|(_, m)| m.contains("400")), "{console:?}");
    assert!(b.title().contains("400"));
    assert!(b.text(&b.find("[role=alert]")).contains("生年月日"));
    b.screenshot("error-400-birthdate");
    b.goto("/patients/no-such-patient");
    b.take_console();
    assert!(b.title().contains("404"));
}

#[test]
fn sql_console_runs_a_query_downloads_csv_and_reports_bad_sql() {
    let b = Browser::start();
    b.goto("/sql");
    assert_eq!(b.title(), "SQL コンソール | medtwin");
    let tables = b.text(&b.find("aside"));
    for t in ["patients", "encounters", "lab_results"] {
        assert!(tables.contains(t), "table {t} listed: {tables}");
    }
    let q = b.find("#q");
    b.type_into(&q, "SELECT sex, count(*) AS n FROM patients GROUP BY sex ORDER BY sex");
    // Ctrl+Enter submits (medtwin.js).
    b.send_keys(&q, "\u{E009}\u{E007}\u{E000}");
    let result = b.wait_text("#result", "female");
    assert!(result.contains("male"), "{result}");
    let sum: u64 = b
        .find_all("#result tbody tr td:nth-child(2)")
        .iter()
        .map(|c| b.text(c).parse::<u64>().expect("count"))
        .sum();
    assert_eq!(sum, PATIENTS, "the counts add up to the population");
    let csv = b.attr(&b.find("#result a[download]"), "href").expect("csv link");
    assert!(csv.starts_with("/sql.csv?q="), "{csv}");
    b.screenshot("sql-result");
    // The CSV itself, fetched by the page's own origin.
    let text = b.eval(&format!("const r = new XMLHttpRequest(); r.open('GET', {csv:?}, false); r.send(); return r.status + '\\n' + r.responseText;"));
    let text = text.as_str().expect("text");
    assert!(text.starts_with("200\nsex,n\n"), "{text}");
    // Bad SQL: a 400 page with the error, the query kept in the editor.
    b.goto("/sql?q=SELECT+nope+FROM+patients");
    b.take_console();
    let alert = b.text(&b.find("[role=alert]"));
    assert!(alert.contains("nope"), "{alert}");
    assert!(b.text(&b.find("#q")).contains("SELECT nope"));
    b.screenshot("sql-error");
}

#[test]
fn fhir_explorer_searches_with_parameters() {
    let b = Browser::start();
    b.goto("/explorer");
    assert_eq!(b.title(), "FHIR エクスプローラー | medtwin");
    b.click(&b.find("#type option[value=Patient]"));
    b.type_into(&b.find("#params"), "gender=female");
    b.click(&b.find("form.search button[type=submit]"));
    let heading = b.wait_text("#h-found", "Patient");
    assert!(heading.contains("件"), "{heading}");
    let rows = b.find_all("section[aria-labelledby=h-found] tbody tr");
    assert!(!rows.is_empty());
    b.screenshot("explorer-search");
    b.click(&b.find("section[aria-labelledby=h-found] tbody a"));
    let json = b.text(&b.find("pre.json"));
    assert!(json.contains("\"gender\": \"female\""), "{json}");
    // An unknown parameter is an error on the page, not silently ignored.
    b.goto("/explorer?type=Patient&params=nosuchparam%3D1");
    b.take_console();
    assert!(b.title().contains("400"));
    assert!(b.text(&b.find("[role=alert]")).contains("nosuchparam"));
    b.screenshot("explorer-error");
}
