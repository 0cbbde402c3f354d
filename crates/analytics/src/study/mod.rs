//! Studies: a JSON file that names its data (SQL-on-FHIR views plus SQL that
//! yields one row per subject), exposure, outcomes, covariates, design
//! (propensity matching, weighting, or rates by subgroup) and outputs, and
//! the code that runs it into a report (HTML with inline SVG, JSON, CSV).
//!
//! The pieces are separate so that the CLI and the web server share them:
//! [`spec`] parses and validates the study file; `data` (feature `sql`)
//! runs its views over a [`crate::view::ResourceSource`] and its SQL into a
//! [`crate::Table`]; [`analysis`] runs the statistics into a
//! [`report::Report`]; [`render`] turns the report into HTML and SVG without
//! I/O; [`Report::files`] lists every file of the report with its contents.
//!
//! ```
//! use analytics::study::{Study, analysis::analyze, render::render_html, spec::Lang};
//! let study = Study::from_json_str(r#"{"name": "hf", "title": "HF mortality",
//!   "data": {"views": ["x"], "sql": "SELECT * FROM x"},
//!   "outcomes": [{"name": "death", "label": "Death", "event": "died"}],
//!   "design": {"type": "rates", "group": "nyha"}}"#).unwrap();
//! let table = analytics::Table::from_csv_reader("nyha,died\nI,0\nIV,1\nIV,0\n".as_bytes()).unwrap();
//! let report = analyze(&study, &table).unwrap();
//! assert!(render_html(&report, Lang::En).contains("50.0%"));
//! ```

pub mod analysis;
#[cfg(feature = "sql")]
pub mod data;
pub mod render;
pub mod report;
pub mod spec;

pub use report::Report;
pub use spec::{Lang, Study};

/// Why a study could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The study file is malformed or inconsistent.
    #[error("invalid study: {0}")]
    Spec(String),
    /// Reading a file failed.
    #[error("i/o error on {path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error (in the message, not a `source()`, so that
        /// error chains do not print it twice).
        error: std::io::Error,
    },
    /// A view failed to parse or run.
    #[error(transparent)]
    View(#[from] crate::view::Error),
    /// The study's SQL failed.
    #[error("study SQL failed: {0}")]
    Sql(String),
    /// The analysis table has no rows.
    #[error("the analysis table is empty: the study's SQL returned no rows")]
    EmptyCohort,
    /// Every subject is in one exposure group.
    #[error("the exposure must have both groups: {exposed} of {total} subjects are exposed")]
    OneArm {
        /// Exposed subjects.
        exposed: usize,
        /// All subjects.
        total: usize,
    },
    /// Matching found no pairs within the caliper.
    #[error("propensity score matching found no pairs within the caliper; widen design.caliper")]
    NoMatches,
    /// A statistical step refused its input.
    #[error("{step}: {cause}")]
    Analysis {
        /// Which step (and outcome) failed.
        step: String,
        /// The statistics error (unknown column, non-numeric value with its
        /// row, no events, ...); in the message, not a `source()`.
        cause: crate::Error,
    },
    /// A table operation failed.
    #[error(transparent)]
    Table(#[from] crate::Error),
}

/// The study module's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Report {
    /// Every file of the report: `report.html`, `results.json` and the CSVs.
    pub fn files(&self, lang: Lang) -> Vec<(String, String)> {
        let mut files = vec![
            ("report.html".to_string(), render::render_html(self, lang)),
            ("results.json".to_string(), format!("{:#}\n", self.to_json())),
        ];
        files.extend(self.csv_files());
        files
    }
}

/// The studies shipped in `studies/` (file name relative to that folder,
/// text), embedded so that the CLI and the server can run them without the
/// source tree. Study files end in `.json` at the top level; the others are
/// the SQL and view files they refer to.
pub const SHIPPED_FILES: &[(&str, &str)] = &[
    ("heart-failure-mortality.json", include_str!("../../../../studies/heart-failure-mortality.json")),
    ("heart-failure-mortality.sql", include_str!("../../../../studies/heart-failure-mortality.sql")),
    ("statin-intensity.json", include_str!("../../../../studies/statin-intensity.json")),
    ("statin-intensity.sql", include_str!("../../../../studies/statin-intensity.sql")),
    ("views/encounter_periods.json", include_str!("../../../../studies/views/encounter_periods.json")),
    ("views/hf_admissions.json", include_str!("../../../../studies/views/hf_admissions.json")),
    ("views/procedures.json", include_str!("../../../../studies/views/procedures.json")),
];

/// Where a study's relative files (`sql_file`, view files) come from.
#[derive(Debug, Clone, Copy)]
pub enum StudyFiles<'a> {
    /// A folder on disk (the study file's folder).
    Dir(&'a std::path::Path),
    /// Embedded (name, text) pairs, e.g. [`SHIPPED_FILES`].
    Embedded(&'a [(&'a str, &'a str)]),
    /// None: the study must be self-contained (inline SQL, standard or inline views).
    None,
}

impl StudyFiles<'_> {
    /// Reads the relative file `name`. Names that leave the folder (`..`,
    /// absolute paths) are refused.
    pub fn read(&self, name: &str) -> Result<String> {
        let p = std::path::Path::new(name);
        if p.is_absolute() || p.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(Error::Spec(format!("`{name}` must be a path inside the study's folder")));
        }
        match self {
            StudyFiles::Dir(dir) => {
                let path = dir.join(p);
                std::fs::read_to_string(&path).map_err(|e| Error::Io { path: path.display().to_string(), error: e })
            }
            StudyFiles::Embedded(files) => files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.to_string())
                .ok_or_else(|| Error::Spec(format!("the study refers to `{name}`, which is not among its files"))),
            StudyFiles::None => Err(Error::Spec(format!("the study refers to the file `{name}`, but has no folder"))),
        }
    }
}

/// The shipped studies, parsed, in file-name order.
pub fn shipped() -> Result<Vec<Study>> {
    SHIPPED_FILES
        .iter()
        .filter(|(n, _)| n.ends_with(".json") && !n.contains('/'))
        .map(|(n, t)| Study::from_json_str(t).map_err(|e| Error::Spec(format!("{n}: {e}"))))
        .collect()
}

/// A finished run: the analysis table, the report and per-view counters.
#[cfg(feature = "sql")]
#[derive(Debug)]
pub struct Run {
    /// The analysis table (one row per subject) the statistics ran on.
    pub table: crate::Table,
    /// The report.
    pub report: Report,
    /// (view name, resources read and rows written) per view.
    pub views: Vec<(String, crate::view::RunStats)>,
}

/// Runs a study end to end: views over `source`, the SQL, the statistics.
/// `files` resolves the study's relative view and SQL files and `standard`
/// holds the views that bare names refer to (usually [`crate::view::standard`]).
#[cfg(feature = "sql")]
pub fn run(
    study: &Study,
    files: StudyFiles<'_>,
    standard: &[crate::view::ViewDefinition],
    source: &mut dyn crate::view::ResourceSource,
) -> Result<Run> {
    let views = data::resolve_views(study, files, standard)?;
    let sql = data::sql_text(study, files)?;
    let (table, stats) = data::build_table(&views, &sql, source)?;
    let report = analysis::analyze(study, &table)?;
    Ok(Run { table, report, views: stats })
}
