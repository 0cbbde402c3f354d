//! Times the phases of a regional analysis over Parquet folders written by
//! `medtwin regional materialize`: reading, `Dataset::build`, and the three
//! reports of `bench/regional/run.sh`, writing their CSV to OUT for diffing.
//!
//! `cargo run --release -p medtwin-regional --example build_timing -- OUT DIR...`

use std::time::Instant;

use regional::render::FlowPart;
use regional::{AreaModel, Dataset, DiseaseGroup, Filter, Level, Period, Policy, Setting, Source, Tables};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, dirs) = args.split_first().ok_or("usage: build_timing OUT DIR...")?;
    let t0 = Instant::now();
    let model = AreaModel::mie()?;
    let dirs: Vec<std::path::PathBuf> = dirs.iter().map(Into::into).collect();
    let t = Tables::from_parquet(&dirs, regional::Need::Both)?;
    let t1 = Instant::now();
    let ds = Dataset::build(&t, &model)?;
    let t2 = Instant::now();
    let everything = DiseaseGroup::parse("all")?;
    let all = |setting| Filter { disease: everything.clone(), setting, from: None, to: None };
    let stroke = Filter { disease: DiseaseGroup::parse("stroke")?, ..all(Setting::Inpatient) };
    let p = Policy { threshold: 10 };
    let a = regional::measure::flows(&ds, &model, Level::Kosoku, &stroke, Source::Encounters, p);
    let t3 = Instant::now();
    let b = regional::measure::flows(&ds, &model, Level::Municipality, &all(Setting::All), Source::Encounters, p);
    let t4 = Instant::now();
    let c = regional::measure::rates(&ds, &model, Level::Municipality, &all(Setting::All), Period::Month, p);
    let t5 = Instant::now();
    std::fs::create_dir_all(out)?;
    std::fs::write(format!("{out}/flows_stroke.csv"), regional::render::flows_csv(&a, FlowPart::Cells))?;
    std::fs::write(format!("{out}/flows_all.csv"), regional::render::flows_csv(&b, FlowPart::Cells))?;
    std::fs::write(format!("{out}/rates.csv"), regional::render::rates_csv(&c))?;
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
    println!(
        "read {:.0} ms, build {:.0} ms, flows stroke {:.0} ms, flows all {:.0} ms, rates {:.0} ms ({} encounters, {} claims)",
        ms(t0, t1),
        ms(t1, t2),
        ms(t2, t3),
        ms(t3, t4),
        ms(t4, t5),
        ds.encounters.len(),
        ds.claims.len()
    );
    Ok(())
}
