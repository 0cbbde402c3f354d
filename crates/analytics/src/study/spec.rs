//! The study file: what data to build (views and SQL), which column is the
//! exposure, the outcomes, the covariates, the design and the outputs.
//!
//! A study is JSON (see `studies/README.md` for the format). Parsing checks
//! the shape (unknown keys are errors, so a typo never silently drops a
//! setting); [`Study::validate`] checks the values. Column names are checked
//! later against the analysis table, where the available columns are known.

use serde::Deserialize;

use super::{Error, Result};

/// A text in Japanese and English; a plain string is used for both.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Label {
    /// The same text in every language.
    Plain(String),
    /// Per-language texts; either may be missing.
    Lang {
        /// Japanese.
        #[serde(default)]
        ja: Option<String>,
        /// English.
        #[serde(default)]
        en: Option<String>,
    },
}

/// Report language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Japanese (the default).
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// Parses `ja` or `en`.
    pub fn parse(s: &str) -> Result<Lang> {
        match s {
            "ja" => Ok(Lang::Ja),
            "en" => Ok(Lang::En),
            other => Err(Error::Spec(format!("unknown language `{other}` (use ja or en)"))),
        }
    }

    /// The BCP 47 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
}

impl Label {
    /// The text in `lang`, falling back to the other language.
    pub fn get(&self, lang: Lang) -> &str {
        match self {
            Label::Plain(s) => s,
            Label::Lang { ja, en } => {
                let (first, second) = match lang {
                    Lang::Ja => (ja, en),
                    Lang::En => (en, ja),
                };
                first.as_deref().or(second.as_deref()).unwrap_or("")
            }
        }
    }
}

/// A ViewDefinition used by the study: a standard view by name (`"patients"`),
/// a file relative to the study file (`"views/pci.json"`), or inline JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ViewRef {
    /// A standard view name or a relative path ending in `.json`.
    Name(String),
    /// An inline ViewDefinition.
    Inline(serde_json::Value),
}

/// Where the analysis table comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Views to run; each is registered as a SQL table under its `name`.
    pub views: Vec<ViewRef>,
    /// SQL over the views that yields one row per subject.
    #[serde(default)]
    pub sql: Option<String>,
    /// The same SQL in a file relative to the study file.
    #[serde(default)]
    pub sql_file: Option<String>,
}

/// A column with display labels.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Covariate {
    /// Column in the analysis table (numeric; 0/1 for binary covariates).
    pub column: String,
    /// Display name.
    #[serde(default)]
    pub label: Option<Label>,
}

/// The exposure (treatment) column, coded 1 (exposed) and 0 (reference).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exposure {
    /// The 0/1 column.
    pub column: String,
    /// Name of the exposed group (1).
    pub label: Label,
    /// Name of the reference group (0).
    pub reference_label: Label,
}

/// An outcome: a time-to-event pair for survival designs, or a 0/1 column for rates.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// Short identifier used in file names (`[a-z0-9_]+`).
    pub name: String,
    /// Display name.
    pub label: Label,
    /// Follow-up time column (in `time_unit`); required for survival designs.
    #[serde(default)]
    pub time: Option<String>,
    /// 0/1 event column.
    pub event: String,
    /// Expected value, shown next to the estimate (e.g. the synthetic data's true HR).
    #[serde(default)]
    pub reference_value: Option<f64>,
}

/// How the exposure groups are made comparable.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Design {
    /// Propensity-score matching on the logit, nearest neighbour without replacement.
    Matching {
        /// Caliper in SDs of the logit (default 0.2).
        #[serde(default = "default_caliper")]
        caliper: f64,
        /// Controls per exposed subject (default 1).
        #[serde(default = "default_ratio")]
        ratio: usize,
        /// Seed for the matching order (default 42).
        #[serde(default = "default_seed")]
        seed: u64,
    },
    /// Inverse-probability weighting (weighted KM, robust Cox).
    Weighting {
        /// `ate` (default) or `att`.
        #[serde(default = "default_estimand")]
        estimand: String,
        /// Stabilised ATE weights (default true).
        #[serde(default = "default_true")]
        stabilized: bool,
    },
    /// Proportions of each outcome by subgroup, with Wilson confidence intervals.
    Rates {
        /// The subgroup column (e.g. NYHA class).
        group: String,
        /// Display name of the subgroup variable.
        #[serde(default)]
        group_label: Option<Label>,
    },
}

fn default_caliper() -> f64 {
    0.2
}
fn default_ratio() -> usize {
    1
}
fn default_seed() -> u64 {
    42
}
fn default_estimand() -> String {
    "ate".into()
}
fn default_true() -> bool {
    true
}

/// What the report shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// Unit of the time columns: `days` (default) or `years`.
    #[serde(default = "default_unit")]
    pub time_unit: String,
    /// Follow-up shown in the KM plots, in years (default: the longest time).
    #[serde(default)]
    pub horizon_years: Option<f64>,
    /// Plot cumulative incidence (1 − S, default) or survival.
    #[serde(default = "default_scale")]
    pub km_scale: String,
    /// Confidence level (default 0.95).
    #[serde(default = "default_level")]
    pub confidence: f64,
}

fn default_unit() -> String {
    "days".into()
}
fn default_scale() -> String {
    "incidence".into()
}
fn default_level() -> f64 {
    0.95
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs { time_unit: default_unit(), horizon_years: None, km_scale: default_scale(), confidence: default_level() }
    }
}

/// A study.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    /// Identifier (`[a-z0-9-]+`).
    pub name: String,
    /// Title.
    pub title: Label,
    /// Free text shown under the title.
    #[serde(default)]
    pub description: Option<Label>,
    /// The analysis table.
    pub data: DataSpec,
    /// Exposure (not used by the `rates` design).
    #[serde(default)]
    pub exposure: Option<Exposure>,
    /// Outcomes.
    pub outcomes: Vec<Outcome>,
    /// Covariates (confounders) for the propensity model and adjusted models.
    #[serde(default)]
    pub covariates: Vec<Covariate>,
    /// The design.
    pub design: Design,
    /// Report settings.
    #[serde(default)]
    pub outputs: Outputs,
}

fn is_ident(s: &str, extra: char) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == extra)
}

impl Study {
    /// Parses a study from JSON text and validates it.
    pub fn from_json_str(text: &str) -> Result<Study> {
        let study: Study = serde_json::from_str(text).map_err(|e| Error::Spec(format!("{e}")))?;
        study.validate()?;
        Ok(study)
    }

    /// Checks values that the JSON shape cannot: names, options, required fields per design.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Spec(m));
        if !is_ident(&self.name, '-') {
            return bad(format!("name `{}` must be lowercase letters, digits, `-` or `_`", self.name));
        }
        if self.data.views.is_empty() {
            return bad("data.views must name at least one view".into());
        }
        match (&self.data.sql, &self.data.sql_file) {
            (Some(_), Some(_)) => return bad("give data.sql or data.sql_file, not both".into()),
            (None, None) => return bad("data.sql (or data.sql_file) is required".into()),
            _ => {}
        }
        if self.outcomes.is_empty() {
            return bad("at least one outcome is required".into());
        }
        let mut seen = std::collections::HashSet::new();
        for o in &self.outcomes {
            if !is_ident(&o.name, '_') {
                return bad(format!("outcome name `{}` must be lowercase letters, digits or `_`", o.name));
            }
            if !seen.insert(o.name.as_str()) {
                return bad(format!("outcome `{}` is listed twice", o.name));
            }
        }
        let o = &self.outputs;
        if o.time_unit != "days" && o.time_unit != "years" {
            return bad(format!("outputs.time_unit must be days or years, not `{}`", o.time_unit));
        }
        if o.km_scale != "incidence" && o.km_scale != "survival" {
            return bad(format!("outputs.km_scale must be incidence or survival, not `{}`", o.km_scale));
        }
        if !(o.confidence > 0.5 && o.confidence < 1.0) {
            return bad(format!("outputs.confidence must be between 0.5 and 1, not {}", o.confidence));
        }
        if let Some(h) = o.horizon_years
            && !(h > 0.0 && h.is_finite())
        {
            return bad(format!("outputs.horizon_years must be positive, not {h}"));
        }
        match &self.design {
            Design::Matching { caliper, ratio, .. } => {
                if !(*caliper > 0.0 && caliper.is_finite()) {
                    return bad(format!("design.caliper must be positive, not {caliper}"));
                }
                if *ratio == 0 || *ratio > 10 {
                    return bad(format!("design.ratio must be 1 to 10, not {ratio}"));
                }
                self.survival_checks()?;
            }
            Design::Weighting { estimand, .. } => {
                if estimand != "ate" && estimand != "att" {
                    return bad(format!("design.estimand must be ate or att, not `{estimand}`"));
                }
                self.survival_checks()?;
            }
            Design::Rates { .. } => {}
        }
        Ok(())
    }

    fn survival_checks(&self) -> Result<()> {
        if self.exposure.is_none() {
            return Err(Error::Spec("an exposure is required for matching and weighting designs".into()));
        }
        if self.covariates.is_empty() {
            return Err(Error::Spec("matching and weighting designs need at least one covariate".into()));
        }
        if let Some(o) = self.outcomes.iter().find(|o| o.time.is_none()) {
            return Err(Error::Spec(format!("outcome `{}` needs a time column for a survival design", o.name)));
        }
        Ok(())
    }

    /// Days per unit of the time columns.
    pub fn days_per_unit(&self) -> f64 {
        if self.outputs.time_unit == "years" { 365.25 } else { 1.0 }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MIN: &str = r#"{"name": "s", "title": "T", "data": {"views": ["patients"], "sql": "SELECT 1"},
        "exposure": {"column": "x", "label": "X", "reference_label": "Y"},
        "outcomes": [{"name": "mi", "label": {"ja": "心筋梗塞", "en": "MI"}, "time": "t", "event": "e"}],
        "covariates": [{"column": "age"}], "design": {"type": "matching"}}"#;

    #[test]
    fn parses_with_defaults_and_labels() {
        let s = Study::from_json_str(MIN).unwrap();
        assert_eq!(s.design, Design::Matching { caliper: 0.2, ratio: 1, seed: 42 });
        assert_eq!(s.outcomes[0].label.get(Lang::Ja), "心筋梗塞");
        assert_eq!(s.outcomes[0].label.get(Lang::En), "MI");
        assert_eq!(s.outputs.time_unit, "days");
    }

    #[test]
    fn rejects_typos_and_bad_values() {
        let typo = MIN.replace("\"design\"", "\"desing\"");
        let e = Study::from_json_str(&typo).unwrap_err().to_string();
        assert!(e.contains("desing"), "{e}");
        let bad = MIN.replace(r#"{"type": "matching"}"#, r#"{"type": "matching", "caliper": -1}"#);
        assert!(Study::from_json_str(&bad).unwrap_err().to_string().contains("caliper"));
        let no_time = MIN.replace(r#""time": "t", "#, "");
        assert!(Study::from_json_str(&no_time).unwrap_err().to_string().contains("time column"));
        let no_sql = MIN.replace(r#", "sql": "SELECT 1""#, "");
        assert!(Study::from_json_str(&no_sql).unwrap_err().to_string().contains("data.sql"));
    }

    #[test]
    fn shipped_studies_parse_and_their_sql_returns_every_column_they_use() {
        let shipped = [
            (include_str!("../../../../studies/statin-intensity.json"), include_str!("../../../../studies/statin-intensity.sql")),
            (include_str!("../../../../studies/heart-failure-mortality.json"), include_str!("../../../../studies/heart-failure-mortality.sql")),
        ];
        for (json, sql) in shipped {
            let s = Study::from_json_str(json).unwrap();
            // The last SELECT (the one that returns the analysis table) names every column.
            let last = &sql[sql.rfind("SELECT").unwrap()..];
            let words: std::collections::HashSet<&str> =
                last.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
            for c in crate::study::analysis::required_columns(&s) {
                assert!(words.contains(c.as_str()), "{}: column `{c}` is not in the final SELECT", s.name);
            }
            assert!(!s.title.get(Lang::Ja).is_empty() && !s.title.get(Lang::En).is_empty());
        }
    }
}
