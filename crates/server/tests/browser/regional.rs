//! The regional analysis page (`/regional`): opens it, switches the disease,
//! and checks that the area table and the total show exactly the numbers of
//! the library call `medtwin regional flows --data <store>` makes (views,
//! places, flows, disclosure control over the same store), that the CSV
//! download starts with a UTF-8 BOM, and that the console stays clean.
//! `crates/cli/tests/regional.rs` (`the_web_page_serves_the_cli_numbers`)
//! checks the other half: the page's downloads are byte-identical to the
//! command's CSV output.

use crate::harness::{Browser, server};
use regional::measure::{self, Filter, Setting, Source};
use regional::{AreaModel, Dataset, DiseaseGroup, Level, Policy, Tables, render};
use store::Store;

/// The area table as the CLI computes it: per area, the cells in page order.
fn expected(disease: &str) -> (String, Vec<Vec<String>>) {
    let store = server().store.clone();
    let tables = Tables::from_resources(&mut |ty, push| {
        store.scan(ty, None, &mut |json| push(json.to_string()).map_err(|e| store::Error::Aborted(e.to_string()))).expect("scan");
        Ok(())
    })
    .expect("views");
    let model = AreaModel::mie().expect("model");
    let ds = Dataset::build(&tables, &model).expect("dataset");
    let f = Filter { disease: DiseaseGroup::parse(disease).expect("disease"), setting: Setting::Inpatient, from: None, to: None };
    let r = measure::flows(&ds, &model, Level::Kosoku, &f, Source::Encounters, Policy::default());
    let rows = r
        .patients
        .areas
        .iter()
        .map(|a| {
            vec![
                a.residents.to_string(),
                a.within.to_string(),
                a.outflow.to_string(),
                a.inflow.to_string(),
                a.treated.to_string(),
                render::pct(a.self_sufficiency),
                render::pct(a.outflow_rate),
                render::pct(a.inflow_rate),
            ]
        })
        .collect();
    (r.patients.total.to_string(), rows)
}

fn shown(b: &Browser) -> (String, Vec<Vec<String>>) {
    let total = b.text(&b.find("#total-patients"));
    let rows = b
        .find_all("#areas-table tbody tr")
        .iter()
        .map(|_| ())
        .enumerate()
        .map(|(i, _)| b.find_all(&format!("#areas-table tbody tr:nth-child({}) td", i + 1)).iter().map(|td| b.text(td)).collect())
        .collect();
    (total, rows)
}

#[test]
fn regional_page_switches_disease_and_shows_the_cli_numbers() {
    let b = Browser::start();
    b.goto("/regional");
    assert!(b.title().contains("地域分析"), "{}", b.title());
    assert_eq!(b.find_all("#areas-table tbody tr").len(), 8, "the 8 構想区域 of 三重県");
    assert!(b.find_all("svg path[data-code]").len() >= 29, "the map draws 三重県's 29 municipalities");
    assert_eq!(shown(&b), expected("stroke"), "stroke, inpatient: page = CLI");
    b.screenshot("regional-stroke");

    // Switch the disease with the form, as a person would.
    b.eval("document.getElementById('disease').value = 'all'; return 0");
    b.click(&b.find("form.filters button[type=submit]"));
    b.wait_text("#regional-summary", "全疾患");
    assert_eq!(shown(&b), expected("all"), "all diseases, inpatient: page = CLI");
    b.screenshot("regional-all");

    // The CSV download is UTF-8 with a BOM.
    let href = b.attr(&b.find("a[download='regional-areas.csv']"), "href").expect("csv link");
    assert!(href.starts_with("/regional/areas.csv?"), "{href}");
    // fetch keeps the bytes (XMLHttpRequest's text decoding would drop the BOM);
    // WebDriver waits for the returned promise.
    let csv = b.eval(&format!("return fetch('{href}').then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b).slice(0, 3)));"));
    assert_eq!(csv, serde_json::json!([0xEF, 0xBB, 0xBF]));
}
