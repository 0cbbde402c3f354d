//! `medtwin regional flows|rates|facilities|reference|materialize`: regional
//! healthcare analytics (patient flows between areas, claims rates, patients
//! per facility, the MHLW NDB reference rates) over the store, NDJSON files
//! or Parquet files of the regional views. Every table is protected by the
//! library's disclosure control before it is printed.

use super::DataArgs;
use analytics::view::{BatchWriter, Format};
use anyhow::{Context, bail};
use regional::render::{self, FlowPart};
use regional::svg::Shade;
use regional::{AreaModel, Dataset, DiseaseGroup, Filter, Level, Month, Need, Period, Policy, Setting, Source, Tables};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use store::Store;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum Command {
    /// Patient flows: residence area × care area, with within/inflow/outflow and 自給率 per area.
    Flows(FlowArgs),
    /// Claims occurrence rate (レセプト件数 per 1,000 population per month) and average points per claim by area and period.
    Rates(RateArgs),
    /// Patients per facility by residence area.
    Facilities(FlowArgs),
    /// The MHLW NDB inflow/outflow rates of all 339 構想区域, optionally compared with a data set.
    Reference(ReferenceArgs),
    /// Write the regional views (Parquet, one file per view) for fast repeated analysis with --parquet.
    Materialize(MaterializeArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct SourceArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Read resources from NDJSON files or folders of them (e.g. the fhir/ folder of `medtwin synth`) instead of the store.
    #[arg(long = "input")]
    inputs: Vec<PathBuf>,
    /// Read the regional views from Parquet files written by `medtwin regional materialize` (repeat for several folders of different people, e.g. one per insurer).
    #[arg(long, conflicts_with = "inputs")]
    parquet: Vec<PathBuf>,
    /// Municipality tables for more prefectures (CSV: area_code,area_name,muni_code,muni_name,parent_iryoken2_code,parent_iryoken2_name[,population]).
    #[arg(long = "areas")]
    areas: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct CommonArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Disease group: all, cancer, stroke, cardio, diabetes, mental (5疾病), or an ICD-10 list such as I60-I64,I69.
    #[arg(long, default_value = "all")]
    disease: String,
    /// Care setting: all, inpatient or outpatient.
    #[arg(long, default_value = "all")]
    setting: String,
    /// Area level: municipality, kosoku (構想区域), iryoken2 (二次医療圏) or prefecture.
    #[arg(long, default_value = "kosoku")]
    level: String,
    /// First month (YYYY-MM), inclusive.
    #[arg(long)]
    from: Option<String>,
    /// Last month (YYYY-MM), inclusive.
    #[arg(long)]
    to: Option<String>,
    /// Output: table, csv (UTF-8 with BOM) or json.
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    format: String,
    /// Counts from 1 to THRESHOLD-1 are shown as <THRESHOLD, with complementary suppression (at least 3: "<2" would mean exactly 1).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(3..))]
    threshold: u64,
    /// Also write an SVG (flows: Sankey diagram; rates: choropleth of the whole-period rate).
    #[arg(long)]
    svg: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct FlowArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Count encounters or claims.
    #[arg(long, default_value = "encounters", value_parser = ["encounters", "claims"])]
    source: String,
    /// Flows CSV: cells (residence × care, long format) or areas (within/inflow/outflow per area).
    #[arg(long, default_value = "cells", value_parser = ["cells", "areas"])]
    table: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct RateArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Period columns: month or fy (fiscal year, April to March).
    #[arg(long, default_value = "month", value_parser = ["month", "fy"])]
    period: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ReferenceArgs {
    /// Only this prefecture (2-digit code or name, e.g. 24 or 三重県).
    #[arg(long)]
    pref: Option<String>,
    /// Compare with the inpatient 構想区域 flows computed from a data set (give --input, --parquet or the store).
    #[arg(long)]
    compare: bool,
    #[command(flatten)]
    source: SourceArgs,
    /// Disease group for --compare.
    #[arg(long, default_value = "all")]
    disease: String,
    /// Output: table, csv (UTF-8 with BOM) or json.
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    format: String,
    /// Also write a map of Japan by prefecture (mean acute outflow rate of its 構想区域) as SVG.
    #[arg(long)]
    svg: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct MaterializeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Read resources from NDJSON files or folders instead of the store.
    #[arg(long = "input")]
    inputs: Vec<PathBuf>,
    /// Output folder for the Parquet files.
    #[arg(long)]
    out: PathBuf,
}

fn model(extra: &[PathBuf]) -> anyhow::Result<AreaModel> {
    let mut m = AreaModel::mie()?;
    for p in extra {
        let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        m.add_municipality_table(text.trim_start_matches('\u{feff}'), &p.display().to_string(), None)?;
    }
    Ok(m)
}

/// NDJSON files for a resource type among the inputs (files named `<Type>*.ndjson`, or folders of them).
fn ndjson_inputs(inputs: &[PathBuf], ty: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for i in inputs {
        let meta = std::fs::metadata(i).with_context(|| format!("cannot read {}", i.display()))?;
        if meta.is_dir() {
            out.extend(analytics::view::ndjson_files_for(i, ty)?);
        } else {
            out.push(i.clone());
        }
    }
    Ok(out)
}

fn push_files(files: &[PathBuf], ty: &str, bar: &indicatif::ProgressBar, push: &mut regional::data::PushFn<'_>) -> regional::Result<()> {
    use std::io::BufRead;
    let (compact, spaced) = (format!("\"resourceType\":\"{ty}\""), format!("\"resourceType\": \"{ty}\""));
    for f in files {
        let io = |source| analytics::view::Error::Io { path: f.display().to_string(), source };
        let file = std::fs::File::open(f).map_err(io)?;
        for line in std::io::BufReader::with_capacity(1 << 20, file).lines() {
            let line = line.map_err(io)?;
            bar.inc(line.len() as u64 + 1);
            let t = line.trim_start();
            if t.is_empty() {
                continue;
            }
            // Files named after one type hold only it; mixed files are filtered cheaply.
            if !t.contains(&compact) && !t.contains(&spaced) {
                continue;
            }
            push(line)?;
        }
    }
    Ok(())
}

/// The views' tables; from Parquet, only those the analysis needs.
fn tables(s: &SourceArgs, need: Need) -> anyhow::Result<Tables> {
    if !s.parquet.is_empty() {
        return Tables::from_parquet(&s.parquet, need).context("reading the regional views (write them with medtwin regional materialize)");
    }
    if !s.inputs.is_empty() {
        // The files each view reads, found (and checked) before any work starts.
        let mut files: HashMap<String, Vec<PathBuf>> = HashMap::new();
        let mut total = 0;
        for v in regional::data::views()? {
            let list = ndjson_inputs(&s.inputs, &v.resource)?;
            total += list.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum::<u64>();
            files.insert(v.resource.clone(), list);
        }
        if files.values().all(Vec::is_empty) {
            bail!("no NDJSON files of Patient, Organization, Location, Encounter, Condition or Claim resources in the --input paths");
        }
        let bar = crate::progress::bytes(total, "reading resources");
        let t = Tables::from_resources(&mut |ty, push| push_files(files.get(ty).map(Vec::as_slice).unwrap_or(&[]), ty, &bar, push))?;
        bar.finish_and_clear();
        return Ok(t);
    }
    if !s.data.data.is_dir() {
        bail!(
            "no medtwin store in {} (import data with `medtwin import`, or read NDJSON files with --input DIR)",
            s.data.data.display()
        );
    }
    let store = s.data.open()?;
    scan_store(&store)
}

fn scan_store(store: &dyn Store) -> anyhow::Result<Tables> {
    let mut failure: Option<regional::Error> = None;
    let counts: HashMap<String, u64> = store.counts().context("counting the stored resources")?.into_iter().collect();
    let mut total = 0;
    for v in regional::data::views()? {
        total += counts.get(&v.resource).copied().unwrap_or(0);
    }
    let bar = crate::progress::count(total, "reading the store");
    let t = Tables::from_resources(&mut |ty, push| {
        let r = store.scan(ty, None, &mut |json| {
            bar.inc(1);
            push(json.to_string()).map_err(|e| {
                failure = Some(e.into());
                store::Error::Aborted("view failed".into())
            })
        });
        match (r, failure.take()) {
            (_, Some(f)) => Err(f),
            (Err(e), None) => Err(regional::Error::Invalid(format!("reading the store: {e}"))),
            (Ok(_), None) => Ok(()),
        }
    })?;
    bar.finish_and_clear();
    Ok(t)
}

/// The event table a flow or facility analysis counts.
fn need(source: Source) -> Need {
    match source {
        Source::Encounters => Need::Encounters,
        Source::Claims => Need::Claims,
    }
}

fn month(s: &Option<String>, flag: &str) -> anyhow::Result<Option<Month>> {
    match s {
        None => Ok(None),
        Some(x) => match Month::parse(x) {
            Some(m) if x.len() == 7 => Ok(Some(m)),
            _ => bail!("{flag} must look like 2024-04, got {x:?}"),
        },
    }
}

fn filter(c: &CommonArgs) -> anyhow::Result<Filter> {
    let f = Filter {
        disease: DiseaseGroup::parse(&c.disease).context("--disease")?,
        setting: Setting::parse(&c.setting).context("--setting")?,
        from: month(&c.from, "--from")?,
        to: month(&c.to, "--to")?,
    };
    if let (Some(a), Some(b)) = (f.from, f.to)
        && a > b
    {
        bail!("--from {a} is after --to {b}");
    }
    Ok(f)
}

/// Pretty JSON of a report (a macro so that the binary need not name `serde`).
macro_rules! json {
    ($v:expr) => {
        serde_json::to_string_pretty(&$v)? + "\n"
    };
}

fn write_svg(path: &Path, svg: &str) -> anyhow::Result<()> {
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let text = match cmd {
        Command::Flows(a) => {
            let c = &a.common;
            let (level, f) = (Level::parse(&c.level)?, filter(c)?);
            let m = model(&c.source.areas)?;
            let source = if a.source == "claims" { Source::Claims } else { Source::Encounters };
            let ds = Dataset::build(&tables(&c.source, need(source))?, &m)?;
            let r = regional::measure::flows(&ds, &m, level, &f, source, Policy { threshold: c.threshold });
            if let Some(p) = &c.svg {
                let rows: Vec<String> = r.rows.iter().map(|x| x.name.clone()).collect();
                let cols: Vec<String> = r.cols.iter().map(|x| x.name.clone()).collect();
                let title = format!("{}（{}）の患者の流れ（{}単位）", r.disease.1, r.setting.label(), level.label());
                write_svg(p, &regional::svg::sankey(&rows, &cols, &r.patients, &title))?;
            }
            match c.format.as_str() {
                "json" => json!(r),
                "csv" => render::flows_csv(&r, if a.table == "areas" { FlowPart::Areas } else { FlowPart::Cells }),
                _ => render::flows_text(&r),
            }
        }
        Command::Facilities(a) => {
            let c = &a.common;
            let (level, f) = (Level::parse(&c.level)?, filter(c)?);
            let m = model(&c.source.areas)?;
            let source = if a.source == "claims" { Source::Claims } else { Source::Encounters };
            let ds = Dataset::build(&tables(&c.source, need(source))?, &m)?;
            let r = regional::measure::facilities(&ds, &m, level, &f, source, Policy { threshold: c.threshold });
            if c.svg.is_some() {
                bail!("--svg is available for flows and rates");
            }
            match c.format.as_str() {
                "json" => json!(r),
                "csv" => render::facilities_csv(&r),
                _ => render::facilities_text(&r),
            }
        }
        Command::Rates(a) => {
            let c = &a.common;
            let (level, f, period) = (Level::parse(&c.level)?, filter(c)?, Period::parse(&a.period)?);
            let m = model(&c.source.areas)?;
            let ds = Dataset::build(&tables(&c.source, Need::Claims)?, &m)?;
            let r = regional::measure::rates(&ds, &m, level, &f, period, Policy { threshold: c.threshold });
            if let Some(p) = &c.svg {
                if level == Level::Prefecture {
                    bail!("--svg maps the region's municipalities or areas; use another --level");
                }
                let values: HashMap<String, Shade> = r
                    .rows
                    .iter()
                    .zip(&r.row_totals)
                    .filter_map(|(u, t)| match (t.claims.is_suppressed(), t.rate_per_1000) {
                        (true, _) => Some((u.code.clone(), Shade::Suppressed(t.claims.to_string()))),
                        (false, Some(x)) => Some((u.code.clone(), Shade::Value(x, format!("{x:.2}")))),
                        _ => None,
                    })
                    .collect();
                let title = format!("レセプト件数（千人・月当たり）: {}（{}）", r.disease.1, r.setting.label());
                write_svg(p, &regional::svg::choropleth(&m, level, &values, &title, "千人・月当たり")?)?;
            }
            match c.format.as_str() {
                "json" => json!(r),
                "csv" => render::rates_csv(&r),
                _ => render::rates_text(&r),
            }
        }
        Command::Reference(a) => {
            let m = model(&a.source.areas)?;
            let pref = match &a.pref {
                None => None,
                Some(p) => Some(
                    m.prefectures
                        .iter()
                        .find(|x| x.code == *p || x.name == *p || x.code == format!("{p:0>2}"))
                        .map(|x| x.code.clone())
                        .with_context(|| format!("--pref: no prefecture {p:?}"))?,
                ),
            };
            let list: Vec<_> = regional::reference::reference(&m)?.into_iter().filter(|x| pref.as_ref().is_none_or(|p| *p == x.pref_code)).collect();
            if let Some(p) = &a.svg {
                let values: HashMap<String, Shade> = regional::reference::mean_acute_outflow_by_prefecture(&list)
                    .into_iter()
                    .map(|(k, m)| (k, Shade::Value(m, format!("{:.1}%", m * 100.0))))
                    .collect();
                write_svg(p, &regional::svg::japan_map(&m, &values, "構想区域の急性期流出率（都道府県内の平均、NDB）", "流出率")?)?;
            }
            if a.compare {
                let f = Filter { disease: DiseaseGroup::parse(&a.disease).context("--disease")?, setting: Setting::Inpatient, from: None, to: None };
                let ds = Dataset::build(&tables(&a.source, Need::Encounters)?, &m)?;
                let r = regional::measure::flows(&ds, &m, Level::Kosoku, &f, Source::Encounters, Policy::default());
                let cmp: Vec<_> = regional::reference::compare(&m, &r)?.into_iter().filter(|x| pref.as_ref().is_none_or(|p| *p == x.reference.pref_code)).collect();
                match a.format.as_str() {
                    "json" => json!(cmp),
                    "csv" => render::comparison_csv(&cmp),
                    _ => render::comparison_text(&cmp),
                }
            } else {
                match a.format.as_str() {
                    "json" => json!(list),
                    "csv" => render::reference_csv(&list),
                    _ => render::reference_text(&list),
                }
            }
        }
        Command::Materialize(a) => {
            std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
            let src = SourceArgs { data: a.data.clone(), inputs: a.inputs.clone(), parquet: Vec::new(), areas: Vec::new() };
            let t = tables(&src, Need::Both)?;
            for view in regional::data::views()? {
                let name = view.name.clone().unwrap_or_default();
                let file = a.out.join(format!("{name}.parquet"));
                let f = std::fs::File::create(&file).with_context(|| format!("creating {}", file.display()))?;
                let mut w = BatchWriter::new(Format::Parquet, view.schema(), std::io::BufWriter::new(f))?;
                let mut rows = 0;
                for b in t.batches.get(&name).into_iter().flatten() {
                    rows += b.num_rows();
                    w.write(b)?;
                }
                std::io::Write::flush(&mut w.finish()?).with_context(|| format!("writing {}", file.display()))?;
                eprintln!("{name:<24} {rows:>10} rows  {}", file.display());
            }
            String::new()
        }
    };
    crate::progress::stdout(&text).context("writing the output")?;
    Ok(ExitCode::SUCCESS)
}
