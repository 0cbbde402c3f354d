//! The data stage of a study: resolve its ViewDefinitions (standard views by
//! name, files next to the study, or inline JSON), run them over a resource
//! source, register the results as SQL tables and run the study's SQL into
//! the analysis [`Table`].

use arrow::array::{Array, BooleanArray};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::spec::{Study, ViewRef};
use super::{Error, Result, StudyFiles};
use crate::Table;
use crate::sql::{QueryResult, SqlSession};
use crate::view::{ResourceSource, RunOptions, RunStats, ViewDefinition};

/// Resolves the study's views. `files` holds the study's relative files;
/// `standard` holds the views that bare names refer to.
pub fn resolve_views(study: &Study, files: StudyFiles<'_>, standard: &[ViewDefinition]) -> Result<Vec<ViewDefinition>> {
    let mut out: Vec<ViewDefinition> = Vec::new();
    for v in &study.data.views {
        let view = match v {
            ViewRef::Inline(json) => ViewDefinition::from_json(json)?,
            ViewRef::Name(name) if name.ends_with(".json") => {
                let text = files.read(name)?;
                ViewDefinition::from_json_str(&text).map_err(|e| Error::Spec(format!("view file {name}: {e}")))?
            }
            ViewRef::Name(name) => standard
                .iter()
                .find(|s| s.name.as_deref() == Some(name.as_str()))
                .cloned()
                .ok_or_else(|| {
                    let known: Vec<&str> = standard.iter().filter_map(|s| s.name.as_deref()).collect();
                    Error::Spec(format!("unknown standard view `{name}` (known: {})", known.join(", ")))
                })?,
        };
        let name = view.require_name()?.to_string();
        if out.iter().any(|o| o.name.as_deref() == Some(name.as_str())) {
            return Err(Error::Spec(format!("view `{name}` is listed twice")));
        }
        out.push(view);
    }
    Ok(out)
}

/// The study's SQL text (inline or from `sql_file` next to the study).
pub fn sql_text(study: &Study, files: StudyFiles<'_>) -> Result<String> {
    if let Some(s) = &study.data.sql {
        return Ok(s.clone());
    }
    files.read(study.data.sql_file.as_deref().unwrap_or_default())
}

/// Runs the views over `source` (each resource type read once), then the
/// SQL, and returns the analysis table and the per-view counters.
pub fn build_table(
    views: &[ViewDefinition],
    sql: &str,
    source: &mut dyn ResourceSource,
) -> Result<(Table, Vec<(String, RunStats)>)> {
    let session = SqlSession::new();
    let stats = session.register_views(views, source, &RunOptions::default())?;
    let result = session.query(sql).map_err(|e| Error::Sql(e.to_string()))?;
    Ok((result_to_table(&result)?, stats))
}

/// Converts a query result to a text [`Table`]: numbers as decimal text,
/// booleans as 1/0, NULL as an empty (missing) cell.
pub fn result_to_table(result: &QueryResult) -> Result<Table> {
    let fields = result.schema.fields();
    let mut cols: Vec<(String, Vec<String>)> = fields.iter().map(|f| (f.name().clone(), Vec::new())).collect();
    let opts = FormatOptions::default().with_null("");
    for batch in &result.batches {
        for (k, col) in batch.columns().iter().enumerate() {
            let out = &mut cols[k].1;
            if col.data_type() == &DataType::Boolean {
                let b = col.as_any().downcast_ref::<BooleanArray>().ok_or_else(|| Error::Sql("boolean column".into()))?;
                for i in 0..b.len() {
                    out.push(if b.is_null(i) { String::new() } else if b.value(i) { "1".into() } else { "0".into() });
                }
                continue;
            }
            let fmt = ArrayFormatter::try_new(col.as_ref(), &opts).map_err(|e| Error::Sql(e.to_string()))?;
            for i in 0..col.len() {
                out.push(fmt.value(i).to_string());
            }
        }
    }
    Ok(Table::from_columns(cols)?)
}
