//! Studies: a JSON file that names its data (SQL-on-FHIR views plus SQL that
//! yields one row per subject), exposure, outcomes, covariates, design
//! (propensity matching, weighting, or rates by subgroup) and outputs, and
//! the code that runs it into a report (HTML with inline SVG, JSON, CSV).
//!
//! The pieces are separate so that the CLI and the web server share them:
//! [`spec`] parses and validates the study file; [`analysis`] runs the statistics into a
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
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
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
    #[error("{step}: {source}")]
    Analysis {
        /// Which step (and outcome) failed.
        step: String,
        /// The statistics error (unknown column, non-numeric value with its row, no events, ...).
        source: crate::Error,
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
