//! `medtwin fhirpath EXPRESSION [FILE]`: evaluates a FHIRPath expression
//! against one resource and prints the result collection as a JSON array.

use anyhow::{Context, bail};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The FHIRPath expression, e.g. "Patient.name.where(use = 'official').family".
    expression: String,
    /// A JSON file holding one resource; standard input when omitted or "-".
    file: Option<PathBuf>,
    /// Sets an environment variable for %NAME, e.g. --env 'threshold=7.0' (the value is JSON).
    #[arg(long = "env", value_name = "NAME=JSON")]
    env: Vec<String>,
    /// Pretty-print the result.
    #[arg(long)]
    pretty: bool,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let mut env = fhirpath::Env::new();
    for e in &a.env {
        let Some((name, json)) = e.split_once('=') else { bail!("--env '{e}': expected NAME=JSON") };
        let value: serde_json::Value =
            serde_json::from_str(json).with_context(|| format!("--env {name}: '{json}' is not JSON (quote strings: '\"text\"')"))?;
        env.set(name.trim_start_matches('%'), value);
    }
    let (text, source) = match &a.file {
        Some(p) if p.as_os_str() != "-" => {
            (std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?, p.display().to_string())
        }
        _ => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("reading standard input")?;
            (s, "standard input".to_string())
        }
    };
    let resource: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{source} is not JSON: line {} column {}: {e}", e.line(), e.column()))?;
    let result = fhirpath::evaluate_to_json(&a.expression, &resource, &env).with_context(|| format!("in '{}'", a.expression))?;
    let out = if a.pretty { serde_json::to_string_pretty(&result)? } else { serde_json::to_string(&result)? };
    crate::progress::stdout(&(out + "\n"))?;
    Ok(ExitCode::SUCCESS)
}
