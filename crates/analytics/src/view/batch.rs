//! Arrow output: the schema of a view (column types from the view's `type`,
//! else inferred from the FHIR path, FHIR type kept in field metadata) and
//! conversion of rows into a [`RecordBatch`].

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::definition::{ColumnSpec, ValueKind, ViewDefinition};
use super::error::Result;
use super::eval::{Cell, Row};

/// Field metadata key holding the column's FHIR type.
pub const FHIR_TYPE_KEY: &str = "fhir_type";

fn scalar_type(kind: ValueKind) -> DataType {
    match kind {
        ValueKind::Boolean => DataType::Boolean,
        ValueKind::Integer => DataType::Int64,
        ValueKind::Decimal => DataType::Float64,
        ValueKind::String => DataType::Utf8,
    }
}

fn field(c: &ColumnSpec) -> Field {
    let dt = if c.collection {
        DataType::List(Arc::new(Field::new("item", scalar_type(c.kind), true)))
    } else {
        scalar_type(c.kind)
    };
    let mut meta = HashMap::new();
    if let Some(t) = &c.fhir_type {
        meta.insert(FHIR_TYPE_KEY.to_string(), t.clone());
    }
    if let Some(d) = &c.description {
        meta.insert("description".to_string(), d.clone());
    }
    Field::new(&c.name, dt, true).with_metadata(meta)
}

impl ViewDefinition {
    /// The Arrow schema of the view's output.
    pub fn schema(&self) -> SchemaRef {
        let mut meta = HashMap::new();
        meta.insert("fhir_resource".to_string(), self.resource.clone());
        if let Some(n) = &self.name {
            meta.insert("view".to_string(), n.clone());
        }
        Arc::new(Schema::new_with_metadata(self.columns.iter().map(field).collect::<Vec<_>>(), meta))
    }

    /// Converts rows (as yielded by [`ViewDefinition::rows`]) into a record batch.
    pub fn to_batch(&self, rows: &[Row]) -> Result<RecordBatch> {
        let mut b = Builders::new(self);
        for r in rows {
            b.append_row(r);
        }
        b.finish(self)
    }
}

/// A cell as the column builders read it (owned [`Cell`]s of the general
/// path, borrowed cells of the fast path).
pub(crate) trait CellValue: Sized {
    fn as_bool(&self) -> Option<bool>;
    fn as_int(&self) -> Option<i64>;
    fn as_float(&self) -> Option<f64>;
    fn as_text(&self) -> Option<&str>;
    fn as_list(&self) -> Option<&[Self]>;
}

impl CellValue for Cell {
    fn as_bool(&self) -> Option<bool> {
        if let Cell::Bool(v) = self { Some(*v) } else { None }
    }
    fn as_int(&self) -> Option<i64> {
        if let Cell::Int(v) = self { Some(*v) } else { None }
    }
    fn as_float(&self) -> Option<f64> {
        if let Cell::Float(v) = self { Some(*v) } else { None }
    }
    fn as_text(&self) -> Option<&str> {
        if let Cell::Str(v) = self { Some(v) } else { None }
    }
    fn as_list(&self) -> Option<&[Cell]> {
        if let Cell::List(v) = self { Some(v) } else { None }
    }
}

/// One column's Arrow builder.
enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Str(StringBuilder),
    BoolList(ListBuilder<BooleanBuilder>),
    IntList(ListBuilder<Int64Builder>),
    FloatList(ListBuilder<Float64Builder>),
    StrList(ListBuilder<StringBuilder>),
}

impl ColumnBuilder {
    /// A builder with room for `rows` values (strings of 16 bytes on average).
    fn new(c: &ColumnSpec, rows: usize) -> ColumnBuilder {
        match (c.collection, c.kind) {
            (false, ValueKind::Boolean) => ColumnBuilder::Bool(BooleanBuilder::with_capacity(rows)),
            (false, ValueKind::Integer) => ColumnBuilder::Int(Int64Builder::with_capacity(rows)),
            (false, ValueKind::Decimal) => ColumnBuilder::Float(Float64Builder::with_capacity(rows)),
            (false, ValueKind::String) => ColumnBuilder::Str(StringBuilder::with_capacity(rows, rows * 16)),
            (true, ValueKind::Boolean) => ColumnBuilder::BoolList(ListBuilder::new(BooleanBuilder::new())),
            (true, ValueKind::Integer) => ColumnBuilder::IntList(ListBuilder::new(Int64Builder::new())),
            (true, ValueKind::Decimal) => ColumnBuilder::FloatList(ListBuilder::new(Float64Builder::new())),
            (true, ValueKind::String) => ColumnBuilder::StrList(ListBuilder::new(StringBuilder::new())),
        }
    }

    /// Appends one cell: a value of another kind is null, as is a
    /// non-list cell in a list column.
    #[inline]
    fn append<C: CellValue>(&mut self, c: &C) {
        macro_rules! list {
            ($b:expr, $get:ident) => {{
                match c.as_list() {
                    Some(items) => {
                        for x in items {
                            $b.values().append_option(x.$get());
                        }
                        $b.append(true);
                    }
                    None => $b.append(false),
                }
            }};
        }
        match self {
            ColumnBuilder::Bool(b) => b.append_option(c.as_bool()),
            ColumnBuilder::Int(b) => b.append_option(c.as_int()),
            ColumnBuilder::Float(b) => b.append_option(c.as_float()),
            ColumnBuilder::Str(b) => b.append_option(c.as_text()),
            ColumnBuilder::BoolList(b) => list!(b, as_bool),
            ColumnBuilder::IntList(b) => list!(b, as_int),
            ColumnBuilder::FloatList(b) => list!(b, as_float),
            ColumnBuilder::StrList(b) => list!(b, as_text),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Float(b) => Arc::new(b.finish()),
            ColumnBuilder::Str(b) => Arc::new(b.finish()),
            ColumnBuilder::BoolList(b) => Arc::new(b.finish()),
            ColumnBuilder::IntList(b) => Arc::new(b.finish()),
            ColumnBuilder::FloatList(b) => Arc::new(b.finish()),
            ColumnBuilder::StrList(b) => Arc::new(b.finish()),
        }
    }
}

/// Arrow builders for a view's columns: rows are appended cell by cell,
/// straight from evaluation, without collecting row vectors first.
pub(crate) struct Builders {
    columns: Vec<ColumnBuilder>,
    rows: usize,
}

impl Builders {
    pub(crate) fn new(view: &ViewDefinition) -> Builders {
        Builders::with_capacity(view, 0)
    }

    /// Builders with room for about `rows` rows.
    pub(crate) fn with_capacity(view: &ViewDefinition, rows: usize) -> Builders {
        Builders { columns: view.columns.iter().map(|c| ColumnBuilder::new(c, rows)).collect(), rows: 0 }
    }

    /// Appends a row of owned cells.
    pub(crate) fn append_row(&mut self, row: &[Cell]) {
        for (b, c) in self.columns.iter_mut().zip(row) {
            b.append(c);
        }
        self.rows += 1;
    }

    /// Appends a row given as indices into `cells`, one per column.
    #[inline]
    pub(crate) fn append_indexed<C: CellValue>(&mut self, cells: &[C], row: &[u32]) {
        for (b, &k) in self.columns.iter_mut().zip(row) {
            b.append(&cells[k as usize]);
        }
        self.rows += 1;
    }

    /// The record batch of the rows appended so far.
    pub(crate) fn finish(self, view: &ViewDefinition) -> Result<RecordBatch> {
        self.finish_with(view.schema())
    }

    /// Like [`Builders::finish`], with the view's schema already built.
    pub(crate) fn finish_with(mut self, schema: SchemaRef) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        Ok(RecordBatch::try_new_with_options(
            schema,
            arrays,
            &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(self.rows)),
        )?)
    }
}
