//! The standard JP Core views (`views/*.json` at the top of the repository),
//! embedded in the library so that the CLI, the server's SQL console and the
//! study runner all see the same tables without a file path.

use super::definition::ViewDefinition;
use super::error::{Error, Result};

/// (file name, JSON text) of every standard view, in file-name order.
pub const STANDARD_VIEW_SOURCES: &[(&str, &str)] = &[
    ("claim_items.json", include_str!("../../../../views/claim_items.json")),
    ("claims.json", include_str!("../../../../views/claims.json")),
    ("conditions.json", include_str!("../../../../views/conditions.json")),
    ("encounters.json", include_str!("../../../../views/encounters.json")),
    ("facilities.json", include_str!("../../../../views/facilities.json")),
    ("lab_results.json", include_str!("../../../../views/lab_results.json")),
    ("patients.json", include_str!("../../../../views/patients.json")),
    ("prescriptions.json", include_str!("../../../../views/prescriptions.json")),
];

/// The standard JP Core views (`patients`, `facilities`, `encounters`,
/// `conditions`, `lab_results`, `prescriptions`, `claims`, `claim_items`),
/// parsed and compiled. Their `name` is their SQL table name.
///
/// ```
/// let views = analytics::view::standard();
/// let names: Vec<&str> = views.iter().filter_map(|v| v.name.as_deref()).collect();
/// assert!(names.contains(&"patients") && names.contains(&"lab_results"));
/// ```
pub fn standard() -> Vec<ViewDefinition> {
    STANDARD_VIEW_SOURCES
        .iter()
        .map(|(file, text)| {
            // The files are checked by this module's tests; a failure here is a
            // broken build, not bad user input.
            ViewDefinition::from_json_str(text)
                .unwrap_or_else(|e| panic!("invariant: the embedded view {file} is valid: {e}"))
        })
        .collect()
}

/// One standard view by name (`patients`, `lab_results`, ...).
pub fn standard_view(name: &str) -> Result<ViewDefinition> {
    standard().into_iter().find(|v| v.name.as_deref() == Some(name)).ok_or_else(|| {
        let names: Vec<String> = standard().into_iter().filter_map(|v| v.name).collect();
        Error::invalid("name", format!("no standard view named `{name}` (the standard views are {})", names.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_file_is_embedded_and_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../views");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("views/ exists")
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
            .filter(|n| n.ends_with(".json"))
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = STANDARD_VIEW_SOURCES.iter().map(|(f, _)| f.to_string()).collect();
        assert_eq!(on_disk, embedded, "add new files in views/ to STANDARD_VIEW_SOURCES");
        for (file, text) in STANDARD_VIEW_SOURCES {
            let v = ViewDefinition::from_json_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(Some(file.trim_end_matches(".json")), v.name.as_deref(), "{file}: name = file name");
        }
    }

    #[test]
    fn standard_view_by_name() {
        assert_eq!(standard_view("claims").expect("claims").resource, "Claim");
        let err = standard_view("nope").expect_err("unknown").to_string();
        assert!(err.contains("patients"), "{err}");
    }
}
