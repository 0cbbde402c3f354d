//! A small columnar table loaded from CSV: the input type for every analysis the CLI runs.
//!
//! Cells are kept as text and parsed on demand, so one table can feed a numeric
//! covariate, a 0/1 event indicator and a text group label. Every parse error
//! names the column, the data row and the file line.

use std::io::{Read, Write};
use std::path::Path;

use crate::{Error, Result};

/// A columnar table of text cells with a header.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    names: Vec<String>,
    columns: Vec<Vec<String>>,
    n_rows: usize,
}

fn is_missing(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || t.eq_ignore_ascii_case("na") || t.eq_ignore_ascii_case("nan") || t == "."
}

impl Table {
    /// Builds a table from named columns of equal length.
    pub fn from_columns(columns: Vec<(String, Vec<String>)>) -> Result<Self> {
        let n_rows = columns.first().map_or(0, |c| c.1.len());
        let mut t = Table {
            names: Vec::new(),
            columns: Vec::new(),
            n_rows,
        };
        for (name, values) in columns {
            t.push_column(name, values)?;
        }
        Ok(t)
    }

    /// Builds a table from named numeric columns of equal length.
    pub fn from_numeric(columns: Vec<(String, Vec<f64>)>) -> Result<Self> {
        Self::from_columns(
            columns
                .into_iter()
                .map(|(n, v)| (n, v.into_iter().map(format_number).collect()))
                .collect(),
        )
    }

    /// Reads a CSV file with a header row.
    pub fn from_csv_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_csv_reader(std::io::BufReader::new(file))
    }

    /// Reads CSV text with a header row from any reader.
    pub fn from_csv_reader<R: Read>(reader: R) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(reader);
        let csv_err = |e: csv::Error| Error::Csv {
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        };
        let headers = rdr.headers().map_err(csv_err)?.clone();
        let mut names: Vec<String> = Vec::with_capacity(headers.len());
        for h in headers.iter() {
            let h = h.trim().trim_start_matches('\u{feff}').to_string();
            if names.contains(&h) {
                return Err(Error::DuplicateColumn { column: h });
            }
            names.push(h);
        }
        let mut columns: Vec<Vec<String>> = vec![Vec::new(); names.len()];
        let mut record = csv::StringRecord::new();
        let mut n_rows = 0;
        while rdr.read_record(&mut record).map_err(csv_err)? {
            for (col, cell) in columns.iter_mut().zip(record.iter()) {
                col.push(cell.to_string());
            }
            n_rows += 1;
        }
        Ok(Table {
            names,
            columns,
            n_rows,
        })
    }

    /// Number of data rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Column names in order.
    pub fn column_names(&self) -> &[String] {
        &self.names
    }

    fn index_of(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| Error::UnknownColumn {
                column: name.to_string(),
                available: self.names.join(", "),
            })
    }

    /// Whether the table has a column of that name.
    pub fn has_column(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The raw text cells of a column.
    pub fn text(&self, name: &str) -> Result<&[String]> {
        Ok(&self.columns[self.index_of(name)?])
    }

    /// Parses a column as numbers; empty/`NA` cells and non-numbers are errors naming the row.
    pub fn numeric(&self, name: &str) -> Result<Vec<f64>> {
        let col = self.text(name)?;
        col.iter()
            .enumerate()
            .map(|(i, s)| {
                if is_missing(s) {
                    return Err(Error::MissingValue {
                        column: name.to_string(),
                        row: i + 1,
                        line: i + 2,
                    });
                }
                match s.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => Err(Error::NonNumeric {
                        column: name.to_string(),
                        row: i + 1,
                        line: i + 2,
                        value: s.clone(),
                    }),
                }
            })
            .collect()
    }

    /// Parses an event indicator column: `1`/`0` (also `true`/`false`); anything else is an error.
    pub fn events(&self, name: &str) -> Result<Vec<bool>> {
        let col = self.text(name)?;
        col.iter()
            .enumerate()
            .map(|(i, s)| {
                let t = s.trim();
                if t.eq_ignore_ascii_case("true") {
                    return Ok(true);
                }
                if t.eq_ignore_ascii_case("false") {
                    return Ok(false);
                }
                if is_missing(t) {
                    return Err(Error::MissingValue {
                        column: name.to_string(),
                        row: i + 1,
                        line: i + 2,
                    });
                }
                match t.parse::<f64>() {
                    Ok(1.0) => Ok(true),
                    Ok(0.0) => Ok(false),
                    Ok(v) => Err(Error::InvalidEvent {
                        column: name.to_string(),
                        row: i + 1,
                        value: v,
                    }),
                    Err(_) => Err(Error::NonNumeric {
                        column: name.to_string(),
                        row: i + 1,
                        line: i + 2,
                        value: s.clone(),
                    }),
                }
            })
            .collect()
    }

    /// Parses several columns as numbers (column-major).
    pub fn numeric_columns(&self, names: &[impl AsRef<str>]) -> Result<Vec<Vec<f64>>> {
        names.iter().map(|n| self.numeric(n.as_ref())).collect()
    }

    /// A new table holding the given rows (in that order; repeats allowed).
    pub fn select_rows(&self, rows: &[usize]) -> Table {
        Table {
            names: self.names.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| rows.iter().map(|&r| c[r].clone()).collect())
                .collect(),
            n_rows: rows.len(),
        }
    }

    /// Appends a column (replacing one of the same name).
    pub fn push_column(&mut self, name: String, values: Vec<String>) -> Result<()> {
        if values.len() != self.n_rows && !(self.names.is_empty() && self.n_rows == 0) {
            return Err(Error::LengthMismatch {
                what: name,
                found: values.len(),
                expected: self.n_rows,
            });
        }
        if self.names.is_empty() {
            self.n_rows = values.len();
        }
        if let Some(i) = self.names.iter().position(|n| *n == name) {
            self.columns[i] = values;
        } else {
            self.names.push(name);
            self.columns.push(values);
        }
        Ok(())
    }

    /// Writes the table as CSV.
    pub fn write_csv<W: Write>(&self, writer: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(writer);
        let io = |e: csv::Error| Error::Csv {
            line: 0,
            message: e.to_string(),
        };
        w.write_record(&self.names).map_err(io)?;
        for r in 0..self.n_rows {
            w.write_record(self.columns.iter().map(|c| c[r].as_str()))
                .map_err(io)?;
        }
        w.flush().map_err(|source| Error::Io {
            path: "<csv writer>".into(),
            source,
        })?;
        Ok(())
    }

    /// Writes the table as a CSV file.
    pub fn write_csv_path(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = std::fs::File::create(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        self.write_csv(std::io::BufWriter::new(file))
    }
}

/// Formats a number so that it parses back to the same value (shortest round-trip form).
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> Table {
        Table::from_csv_reader(s.as_bytes()).unwrap()
    }

    #[test]
    fn parses_and_reports_errors_with_row_and_column() {
        let tab = t("id,time,event,grp\n1,5,1,a\n2,x,0,b\n3,,1,a\n");
        assert_eq!(tab.n_rows(), 3);
        assert_eq!(tab.text("grp").unwrap(), ["a", "b", "a"]);
        let e = tab.numeric("time").unwrap_err().to_string();
        assert_eq!(
            e,
            "non-numeric value `x` in column `time` at row 2 (line 3)"
        );
        let e = tab.numeric("nope").unwrap_err().to_string();
        assert!(
            e.contains("unknown column `nope`") && e.contains("id, time, event, grp"),
            "{e}"
        );
        assert_eq!(tab.events("event").unwrap(), [true, false, true]);
        let tab2 = t("time\n1\nNA\n");
        assert!(matches!(
            tab2.numeric("time"),
            Err(Error::MissingValue {
                row: 2,
                line: 3,
                ..
            })
        ));
        let tab3 = t("e\n1\n2\n");
        assert!(matches!(
            tab3.events("e"),
            Err(Error::InvalidEvent { row: 2, .. })
        ));
    }

    #[test]
    fn ragged_and_duplicate_headers_are_errors() {
        assert!(matches!(
            Table::from_csv_reader("a,b\n1\n".as_bytes()),
            Err(Error::Csv { .. })
        ));
        assert!(matches!(
            Table::from_csv_reader("a,a\n1,2\n".as_bytes()),
            Err(Error::DuplicateColumn { .. })
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap fuzz: random bytes biased towards CSV syntax.
        let alphabet = b"ab01.,\"\n\r -eNA\xef\xbb\xbf\xff9";
        let mut s = 0x1234_5678_u64;
        for len in 0..400 {
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                bytes.push(alphabet[(s >> 33) as usize % alphabet.len()]);
            }
            if let Ok(t) = Table::from_csv_reader(bytes.as_slice()) {
                for name in t.column_names().to_vec() {
                    let _ = t.numeric(&name);
                    let _ = t.events(&name);
                }
                let mut out = Vec::new();
                t.write_csv(&mut out).unwrap();
            }
        }
    }

    #[test]
    fn round_trips_through_csv() {
        let mut tab = t("a,b\n1,\"x,y\"\n2.5,z\n");
        tab.push_column("c".into(), vec!["p".into(), "q".into()])
            .unwrap();
        let sel = tab.select_rows(&[1, 0, 1]);
        let mut out = Vec::new();
        sel.write_csv(&mut out).unwrap();
        let back = Table::from_csv_reader(out.as_slice()).unwrap();
        assert_eq!(back, sel);
        assert_eq!(back.numeric("a").unwrap(), [2.5, 1.0, 2.5]);
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(0.1).parse::<f64>().unwrap(), 0.1);
    }
}
