//! Running a set of views over a resource source: the caller supplies the
//! resources of each type as JSON text (from a store scan, NDJSON files, an
//! HTTP body) and gets one table per view. Each type is read once, however
//! many views read it.

use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::definition::ViewDefinition;
use super::error::{Error, Result};
use super::run::{MultiViewSink, RunOptions, RunStats, ndjson_files_for};

/// Where resources come from: calls `each` with the JSON text of every
/// resource of one type.
///
/// Closures `FnMut(&str, &mut dyn FnMut(String) -> Result<()>) -> Result<()>`
/// implement it, so a store scan is a few lines in the caller:
///
/// ```
/// use analytics::view::{ResourceSource, Result};
/// let mut source = |rtype: &str, each: &mut dyn FnMut(String) -> Result<()>| -> Result<()> {
///     if rtype == "Patient" {
///         each(r#"{"resourceType":"Patient","id":"p1"}"#.to_string())?;
///     }
///     Ok(())
/// };
/// let mut n = 0;
/// source.scan("Patient", &mut |_| { n += 1; Ok(()) }).unwrap();
/// assert_eq!(n, 1);
/// ```
pub trait ResourceSource {
    /// Feeds every resource of `resource_type` to `each`, in a stable order.
    /// An error from `each` must be returned unchanged.
    fn scan(&mut self, resource_type: &str, each: &mut dyn FnMut(String) -> Result<()>) -> Result<()>;
}

impl<F> ResourceSource for F
where
    F: FnMut(&str, &mut dyn FnMut(String) -> Result<()>) -> Result<()>,
{
    fn scan(&mut self, resource_type: &str, each: &mut dyn FnMut(String) -> Result<()>) -> Result<()> {
        self(resource_type, each)
    }
}

/// A folder of NDJSON files as a source: `<Type>.ndjson` and
/// `<Type>.<part>.ndjson` (see [`ndjson_files_for`]). A type without a file
/// has no resources.
#[derive(Debug, Clone)]
pub struct NdjsonDir(pub PathBuf);

impl ResourceSource for NdjsonDir {
    fn scan(&mut self, resource_type: &str, each: &mut dyn FnMut(String) -> Result<()>) -> Result<()> {
        use std::io::BufRead;
        for path in ndjson_files_for(&self.0, resource_type)? {
            let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            for line in std::io::BufReader::with_capacity(1 << 20, file).lines() {
                let line = line.map_err(|e| Error::io(&path, e))?;
                if !line.trim().is_empty() {
                    each(line)?;
                }
            }
        }
        Ok(())
    }
}

/// The output of one view in [`run_views`].
#[derive(Debug, Clone)]
pub struct ViewTable {
    /// The view's name (its table name).
    pub name: String,
    /// The resource type it reads.
    pub resource: String,
    /// The Arrow schema (known even with no rows).
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
    /// Resources read and rows written.
    pub stats: RunStats,
}

/// Runs `views` over `source`, reading each resource type once, and returns
/// one table per view in the order given. Every view needs a `name`, and
/// names must be distinct.
pub fn run_views(views: &[ViewDefinition], source: &mut dyn ResourceSource, opts: &RunOptions) -> Result<Vec<ViewTable>> {
    let mut names: Vec<&str> = Vec::new();
    for v in views {
        let name = v.require_name()?;
        if names.contains(&name) {
            return Err(Error::invalid("name", format!("two views are named `{name}`")));
        }
        names.push(name);
    }
    let mut types: Vec<&str> = Vec::new();
    for v in views {
        if !types.contains(&v.resource.as_str()) {
            types.push(&v.resource);
        }
    }
    let mut out: Vec<Option<ViewTable>> = vec![None; views.len()];
    for rtype in types {
        let members: Vec<usize> = (0..views.len()).filter(|&i| views[i].resource == rtype).collect();
        let mut sink = MultiViewSink::new(members.iter().map(|&i| &views[i]).collect(), opts.clone());
        sink.set_source_name(format!("{rtype} resources"));
        source.scan(rtype, &mut |json| sink.push(json))?;
        for (&i, (batches, stats)) in members.iter().zip(sink.finish()?) {
            out[i] = Some(ViewTable {
                name: names[i].to_string(),
                resource: rtype.to_string(),
                schema: views[i].schema(),
                batches,
                stats,
            });
        }
    }
    Ok(out.into_iter().map(|t| t.expect("invariant: every view belongs to one type")).collect())
}

/// [`run_views`] over a folder of NDJSON files.
pub fn run_views_ndjson(views: &[ViewDefinition], dir: &Path, opts: &RunOptions) -> Result<Vec<ViewTable>> {
    if !dir.is_dir() {
        return Err(Error::io(dir, std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder")));
    }
    run_views(views, &mut NdjsonDir(dir.to_path_buf()), opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, resource: &str, path: &str) -> ViewDefinition {
        ViewDefinition::from_json(&serde_json::json!({"resourceType": "ViewDefinition", "name": name,
            "resource": resource, "select": [{"column": [{"name": "v", "path": path}]}]}))
        .expect("view")
    }

    #[test]
    fn each_type_is_read_once_and_tables_follow_view_order() {
        let views = [view("a", "Patient", "id"), view("b", "Observation", "status"), view("c", "Patient", "gender")];
        let mut scans: Vec<String> = Vec::new();
        let mut source = |rtype: &str, each: &mut dyn FnMut(String) -> Result<()>| -> Result<()> {
            scans.push(rtype.to_string());
            match rtype {
                "Patient" => {
                    each(r#"{"resourceType":"Patient","id":"p1","gender":"female"}"#.into())?;
                    each(r#"{"resourceType":"Patient","id":"p2"}"#.into())
                }
                _ => each(r#"{"resourceType":"Observation","id":"o1","status":"final"}"#.into()),
            }
        };
        let tables = run_views(&views, &mut source, &RunOptions::default()).expect("run");
        assert_eq!(scans, ["Patient", "Observation"]);
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(tables[0].stats, RunStats { resources: 2, rows: 2 });
        assert_eq!(tables[1].stats, RunStats { resources: 1, rows: 1 });
        let c = arrow::compute::concat_batches(&tables[2].schema, &tables[2].batches).expect("concat");
        let col = c.column(0).as_any().downcast_ref::<arrow::array::StringArray>().expect("utf8");
        use arrow::array::Array;
        assert_eq!((col.value(0), col.is_null(1)), ("female", true));
    }

    #[test]
    fn duplicate_names_and_source_errors_are_reported() {
        let views = [view("a", "Patient", "id"), view("a", "Patient", "gender")];
        let mut empty = |_: &str, _: &mut dyn FnMut(String) -> Result<()>| -> Result<()> { Ok(()) };
        let err = run_views(&views, &mut empty, &RunOptions::default()).expect_err("dup").to_string();
        assert!(err.contains("two views are named `a`"), "{err}");
        let views = [view("a", "Patient", "id")];
        let mut bad = |_: &str, each: &mut dyn FnMut(String) -> Result<()>| -> Result<()> { each("{not json".into()) };
        let err = run_views(&views, &mut bad, &RunOptions::default()).expect_err("bad json").to_string();
        assert!(err.contains("Patient resources:1"), "{err}");
    }
}
