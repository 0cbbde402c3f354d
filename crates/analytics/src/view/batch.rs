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
        let schema = self.schema();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (j, c) in self.columns.iter().enumerate() {
            let cells = rows.iter().map(|r| &r[j]);
            arrays.push(if c.collection { list_array(c.kind, cells) } else { scalar_array(c.kind, cells) });
        }
        Ok(RecordBatch::try_new(schema, arrays)?)
    }
}

fn scalar_array<'a>(kind: ValueKind, cells: impl ExactSizeIterator<Item = &'a Cell>) -> ArrayRef {
    let n = cells.len();
    match kind {
        ValueKind::Boolean => {
            let mut b = BooleanBuilder::with_capacity(n);
            cells.for_each(|c| b.append_option(if let Cell::Bool(v) = c { Some(*v) } else { None }));
            Arc::new(b.finish())
        }
        ValueKind::Integer => {
            let mut b = Int64Builder::with_capacity(n);
            cells.for_each(|c| b.append_option(if let Cell::Int(v) = c { Some(*v) } else { None }));
            Arc::new(b.finish())
        }
        ValueKind::Decimal => {
            let mut b = Float64Builder::with_capacity(n);
            cells.for_each(|c| b.append_option(if let Cell::Float(v) = c { Some(*v) } else { None }));
            Arc::new(b.finish())
        }
        ValueKind::String => {
            let mut b = StringBuilder::with_capacity(n, n * 16);
            cells.for_each(|c| b.append_option(if let Cell::Str(v) = c { Some(v.as_str()) } else { None }));
            Arc::new(b.finish())
        }
    }
}

fn list_array<'a>(kind: ValueKind, cells: impl Iterator<Item = &'a Cell>) -> ArrayRef {
    fn items(c: &Cell) -> Option<&[Cell]> {
        match c {
            Cell::List(v) => Some(v),
            _ => None,
        }
    }
    macro_rules! build {
        ($builder:expr, $pat:pat => $val:expr) => {{
            let mut b = ListBuilder::new($builder);
            for c in cells {
                match items(c) {
                    Some(list) => {
                        for x in list {
                            b.values().append_option(match x {
                                $pat => Some($val),
                                _ => None,
                            });
                        }
                        b.append(true);
                    }
                    None => b.append(false),
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    match kind {
        ValueKind::Boolean => build!(BooleanBuilder::new(), Cell::Bool(v) => *v),
        ValueKind::Integer => build!(Int64Builder::new(), Cell::Int(v) => *v),
        ValueKind::Decimal => build!(Float64Builder::new(), Cell::Float(v) => *v),
        ValueKind::String => build!(StringBuilder::new(), Cell::Str(v) => v.as_str()),
    }
}
