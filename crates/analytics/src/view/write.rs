//! Output formats for view (and SQL) results: CSV (header row; list columns
//! as JSON text), NDJSON, a JSON array, and Parquet (zstd); a streaming
//! [`BatchWriter`] and a Parquet reader for round trips.

use std::io::Write;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ListArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::error::{Error, Result};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
    /// One JSON array of objects.
    Json,
    /// Apache Parquet (zstd-compressed).
    Parquet,
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "csv" | "text/csv" => Format::Csv,
            "ndjson" | "jsonl" | "application/x-ndjson" | "application/ndjson" => Format::Ndjson,
            "json" | "application/json" | "application/fhir+json" => Format::Json,
            "parquet" | "application/vnd.apache.parquet" => Format::Parquet,
            other => return Err(Error::UnknownFormat(other.to_string())),
        })
    }
}

impl Format {
    /// The MIME type to send over HTTP.
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            Format::Ndjson => "application/x-ndjson",
            Format::Json => "application/json",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Json => "json",
            Format::Parquet => "parquet",
        }
    }
}

enum Inner<W: Write + Send> {
    Csv(CsvWriter<W>),
    Ndjson(arrow::json::LineDelimitedWriter<W>),
    Json(arrow::json::ArrayWriter<W>),
    Parquet(ArrowWriter<W>),
}

/// A streaming writer of record batches in one [`Format`].
pub struct BatchWriter<W: Write + Send> {
    inner: Inner<W>,
    wrote_any: bool,
    wrote_batch: bool,
    schema: SchemaRef,
}

impl<W: Write + Send> BatchWriter<W> {
    /// Starts writing batches of `schema` to `out`.
    pub fn new(format: Format, schema: SchemaRef, out: W) -> Result<BatchWriter<W>> {
        let inner = match format {
            Format::Csv => Inner::Csv(CsvWriter::new(out)),
            Format::Ndjson => Inner::Ndjson(
                arrow::json::WriterBuilder::new().with_explicit_nulls(true).build::<_, arrow::json::writer::LineDelimited>(out),
            ),
            Format::Json => Inner::Json(
                arrow::json::WriterBuilder::new().with_explicit_nulls(true).build::<_, arrow::json::writer::JsonArray>(out),
            ),
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
                    .set_max_row_group_row_count(Some(1 << 20))
                    .build();
                Inner::Parquet(ArrowWriter::try_new(out, schema.clone(), Some(props))?)
            }
        };
        Ok(BatchWriter { inner, wrote_any: false, wrote_batch: false, schema })
    }

    /// Writes one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.wrote_any |= batch.num_rows() > 0;
        self.wrote_batch = true;
        match &mut self.inner {
            Inner::Csv(w) => w.write(&lists_as_json(batch)?)?,
            Inner::Ndjson(w) => w.write(batch)?,
            Inner::Json(w) => w.write(batch)?,
            Inner::Parquet(w) => w.write(batch)?,
        }
        Ok(())
    }

    /// Finishes the output (a JSON array's closing bracket, Parquet's footer)
    /// and returns the underlying writer. A CSV output without rows still
    /// gets its header.
    pub fn finish(mut self) -> Result<W> {
        if !self.wrote_batch && matches!(self.inner, Inner::Csv(_)) {
            self.write(&RecordBatch::new_empty(self.schema.clone()))?;
        }
        Ok(match self.inner {
            Inner::Csv(w) => w.into_inner()?,
            Inner::Ndjson(mut w) => {
                w.finish()?;
                w.into_inner()
            }
            Inner::Json(mut w) => {
                if !self.wrote_any {
                    // arrow writes nothing for zero rows; an empty result is still an array.
                    let mut out = w.into_inner();
                    out.write_all(b"[]").map_err(|e| Error::io("output", e))?;
                    return Ok(out);
                }
                w.finish()?;
                w.into_inner()
            }
            Inner::Parquet(w) => w.into_inner()?,
        })
    }
}

/// Writes `batches` to `out` in `format` (an empty CSV still gets its header).
pub fn write_batches<W: Write + Send>(format: Format, schema: SchemaRef, batches: &[RecordBatch], out: W) -> Result<W> {
    let mut w = BatchWriter::new(format, schema, out)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()
}

/// Writes `batches` to a file.
pub fn write_file(path: &Path, format: Format, schema: SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = write_batches(format, schema, batches, std::io::BufWriter::new(file))?;
    out.flush().map_err(|e| Error::io(path, e))
}

/// Reads a Parquet file back into record batches.
pub fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let mut out = Vec::new();
    for b in reader {
        out.push(b?);
    }
    Ok(out)
}

/// CSV output, byte for byte what `arrow::csv::Writer` (header row, `,`,
/// `\n`, fields quoted only when they hold `,` `"` CR or LF, quotes doubled,
/// nulls empty) writes, with strings, integers and booleans copied straight
/// into one output buffer instead of through a formatter and a `csv::Writer`
/// per field (other types still use Arrow's formatter).
struct CsvWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    header: bool,
}

/// Bytes gathered before a write to the output.
const CSV_BUFFER: usize = 1 << 16;

/// A column as the CSV writer reads it.
enum CsvColumn<'a> {
    Str(&'a arrow::array::StringArray),
    Int(&'a arrow::array::Int64Array),
    Bool(&'a arrow::array::BooleanArray),
    Other(arrow::util::display::ArrayFormatter<'a>),
}

impl<W: Write> CsvWriter<W> {
    fn new(out: W) -> CsvWriter<W> {
        CsvWriter { out, buf: Vec::with_capacity(CSV_BUFFER + 4096), header: false }
    }

    /// Appends one field, quoted when it must be.
    #[inline]
    fn field(buf: &mut Vec<u8>, bytes: &[u8]) {
        if needs_quotes(bytes) {
            buf.push(b'"');
            for &b in bytes {
                if b == b'"' {
                    buf.push(b'"');
                }
                buf.push(b);
            }
            buf.push(b'"');
        } else {
            buf.extend_from_slice(bytes);
        }
    }

    /// Ends a record; a record of one empty field is written `""`, as csv does.
    #[inline]
    fn end(buf: &mut Vec<u8>, start: usize) {
        if buf.len() == start {
            buf.extend_from_slice(b"\"\"");
        }
        buf.push(b'\n');
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        use arrow::array::{BooleanArray, Int64Array, StringArray};
        let schema = batch.schema();
        if !self.header {
            let start = self.buf.len();
            for (j, f) in schema.fields().iter().enumerate() {
                if j > 0 {
                    self.buf.push(b',');
                }
                Self::field(&mut self.buf, f.name().as_bytes());
            }
            Self::end(&mut self.buf, start);
            self.header = true;
        }
        let options = arrow::util::display::FormatOptions::default().with_null("");
        let mut cols = Vec::with_capacity(batch.num_columns());
        for c in batch.columns() {
            let any = c.as_any();
            cols.push(if let Some(a) = any.downcast_ref::<StringArray>() {
                CsvColumn::Str(a)
            } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                CsvColumn::Int(a)
            } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
                CsvColumn::Bool(a)
            } else {
                CsvColumn::Other(arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &options)?)
            });
        }
        let mut text = String::new();
        for row in 0..batch.num_rows() {
            let start = self.buf.len();
            for (j, col) in cols.iter().enumerate() {
                if j > 0 {
                    self.buf.push(b',');
                }
                match col {
                    CsvColumn::Str(a) => {
                        if a.is_valid(row) {
                            Self::field(&mut self.buf, a.value(row).as_bytes());
                        }
                    }
                    CsvColumn::Int(a) => {
                        if a.is_valid(row) {
                            push_int(&mut self.buf, a.value(row));
                        }
                    }
                    CsvColumn::Bool(a) => {
                        if a.is_valid(row) {
                            self.buf.extend_from_slice(if a.value(row) { b"true" } else { b"false" });
                        }
                    }
                    CsvColumn::Other(f) => {
                        text.clear();
                        f.value(row).write(&mut text)?;
                        Self::field(&mut self.buf, text.as_bytes());
                    }
                }
            }
            Self::end(&mut self.buf, start);
            if self.buf.len() >= CSV_BUFFER {
                self.flush_buf()?;
            }
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> Result<()> {
        self.out.write_all(&self.buf).map_err(|e| Error::io("output", e))?;
        self.buf.clear();
        Ok(())
    }

    fn into_inner(mut self) -> Result<W> {
        self.flush_buf()?;
        Ok(self.out)
    }
}

/// Whether a CSV field holds `,`, `"`, CR or LF (eight bytes at a time).
#[inline]
fn needs_quotes(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Non-zero exactly when some byte of `w` equals `c`.
    let has = |w: u64, c: u8| {
        let x = w ^ (ONES * c as u64);
        x.wrapping_sub(ONES) & !x & HIGH
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        if has(w, b',') | has(w, b'"') | has(w, b'\r') | has(w, b'\n') != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// Appends the decimal digits of `v`.
#[inline]
fn push_int(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// CSV has no lists: list columns become JSON array text.
fn lists_as_json(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| matches!(f.data_type(), DataType::List(_))) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (f, col) in schema.fields().iter().zip(batch.columns()) {
        if let DataType::List(_) = f.data_type() {
            let list = col.as_any().downcast_ref::<ListArray>().expect("invariant: List type is a ListArray");
            let mut b = StringBuilder::new();
            for i in 0..list.len() {
                if list.is_null(i) {
                    b.append_null();
                    continue;
                }
                let arr = array_json(list.value(i).as_ref());
                b.append_value(serde_json::Value::Array(arr).to_string());
            }
            fields.push(Field::new(f.name(), DataType::Utf8, true));
            cols.push(Arc::new(b.finish()));
        } else {
            fields.push(f.as_ref().clone());
            cols.push(col.clone());
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

/// The values of a (scalar) Arrow array as JSON.
fn array_json(a: &dyn Array) -> Vec<serde_json::Value> {
    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
    use serde_json::Value;
    let any = a.as_any();
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                Value::Null
            } else if let Some(x) = any.downcast_ref::<StringArray>() {
                Value::from(x.value(i))
            } else if let Some(x) = any.downcast_ref::<Int64Array>() {
                Value::from(x.value(i))
            } else if let Some(x) = any.downcast_ref::<Float64Array>() {
                Value::from(x.value(i))
            } else if let Some(x) = any.downcast_ref::<BooleanArray>() {
                Value::from(x.value(i))
            } else {
                Value::Null
            }
        })
        .collect()
}

#[cfg(test)]
mod empty_output_tests {
    use super::*;

    #[test]
    fn quoting_is_found_at_every_position() {
        for len in 0..20 {
            assert!(!needs_quotes(&vec![b'a'; len]));
            assert!(!needs_quotes("日本語のテキスト;:'\t".repeat(len).as_bytes()));
            for at in 0..len {
                for c in [b',', b'"', b'\r', b'\n'] {
                    let mut v = vec![b'x'; len];
                    v[at] = c;
                    assert!(needs_quotes(&v), "{c:?} at {at} of {len}");
                }
                // Neighbouring byte values never count.
                for c in [b'+', b'-', b'!', b'#', 0x0b, 0x0c, 0x0e, 0x8c, 0xa2, 0xac] {
                    let mut v = vec![b'x'; len];
                    v[at] = c;
                    assert!(!needs_quotes(&v), "{c:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn csv_is_byte_for_byte_what_arrow_writes() {
        use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
        let texts = [
            Some("plain"), None, Some(""), Some("a,b"), Some("say \"hi\""), Some("line\nbreak"), Some("cr\rx"), Some(" spaced "),
            Some("日本語"), Some("\""), Some("#x"), Some("tab\there"), Some("'q'"), Some("=1"),
        ];
        let n = texts.len();
        let ints: Vec<Option<i64>> = (0..n).map(|i| if i % 4 == 1 { None } else { Some([0, -1, i64::MIN, i64::MAX, 42][i % 5]) }).collect();
        let floats: Vec<Option<f64>> =
            (0..n).map(|i| if i % 3 == 2 { None } else { Some([0.1, -2.5, 1e20, 1e-7, 3.0, f64::MAX][i % 6]) }).collect();
        let bools: Vec<Option<bool>> = (0..n).map(|i| if i % 5 == 3 { None } else { Some(i % 2 == 0) }).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("na,me", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("b", DataType::Boolean, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(texts.to_vec())),
                Arc::new(Int64Array::from(ints)),
                Arc::new(Float64Array::from(floats)),
                Arc::new(BooleanArray::from(bools)),
            ],
        )
        .expect("batch");
        let arrow_csv = |b: &[RecordBatch]| {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(Vec::new());
            for x in b {
                w.write(x).expect("arrow csv");
            }
            String::from_utf8(w.into_inner()).expect("utf8")
        };
        let ours = |b: &[RecordBatch]| {
            let mut w = CsvWriter::new(Vec::new());
            for x in b {
                w.write(x).expect("csv");
            }
            String::from_utf8(w.into_inner().expect("finish")).expect("utf8")
        };
        let two = [batch.slice(0, 5), batch.slice(5, n - 5)];
        assert_eq!(ours(&two), arrow_csv(&two));
        // One column: an empty field is a record of its own, `""`.
        let one = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)])),
            vec![Arc::new(StringArray::from(texts.to_vec()))],
        )
        .expect("batch");
        assert_eq!(ours(std::slice::from_ref(&one)), arrow_csv(std::slice::from_ref(&one)));
        assert!(ours(&[one]).contains("\n\"\"\n"));
    }

    #[test]
    fn a_streamed_csv_without_rows_still_has_its_header() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, true), Field::new("n", DataType::Int64, true)]));
        let w = BatchWriter::new(Format::Csv, schema.clone(), Vec::new()).expect("writer");
        assert_eq!(String::from_utf8(w.finish().expect("finish")).expect("utf8"), "id,n\n");
        let json = BatchWriter::new(Format::Json, schema, Vec::new()).expect("writer").finish().expect("finish");
        assert_eq!(json, b"[]");
    }
}
