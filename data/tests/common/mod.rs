//! Builders for the Parquet files the tests feed the readers, good and bad.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::{Float16Type, Float32Type, Float64Type};
use arrow_array::{
    ArrayRef, FixedSizeListArray, Int32Array, Int64Array, LargeListArray, LargeStringArray,
    ListArray, RecordBatch, StringArray,
};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

pub type Rows = Vec<Option<Vec<Option<f32>>>>;

/// Rows from plain vectors (no nulls).
pub fn rows(v: &[Vec<f32>]) -> Rows {
    v.iter()
        .map(|r| Some(r.iter().map(|x| Some(*x)).collect()))
        .collect()
}

pub fn fsl_f32(dim: i32, rows: Rows) -> ArrayRef {
    Arc::new(FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(rows, dim))
}

pub fn fsl_f16(dim: i32, rows: Rows) -> ArrayRef {
    let rows = rows.into_iter().map(|r| {
        r.map(|v| {
            v.into_iter()
                .map(|x| x.map(half::f16::from_f32))
                .collect::<Vec<_>>()
        })
    });
    Arc::new(FixedSizeListArray::from_iter_primitive::<Float16Type, _, _>(rows, dim))
}

pub fn list_f32(rows: Rows) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(rows))
}

pub fn list_f64(rows: Vec<Option<Vec<Option<f64>>>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(rows))
}

pub fn large_list_f64(rows: Vec<Option<Vec<Option<f64>>>>) -> ArrayRef {
    Arc::new(LargeListArray::from_iter_primitive::<Float64Type, _, _>(
        rows,
    ))
}

pub fn utf8(ids: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(ids.to_vec()))
}

pub fn str_ids(ids: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(ids.to_vec()))
}

pub fn large_utf8(ids: &[&str]) -> ArrayRef {
    Arc::new(LargeStringArray::from(ids.to_vec()))
}

pub fn int32(ids: &[i32]) -> ArrayRef {
    Arc::new(Int32Array::from(ids.to_vec()))
}

pub fn int64(ids: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(ids.to_vec()))
}

/// Writes named columns as one Parquet file; `row_group_rows` splits it into row groups.
pub fn write_columns(path: &Path, columns: Vec<(&str, ArrayRef)>, row_group_rows: Option<usize>) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let mut props = WriterProperties::builder();
    if let Some(n) = row_group_rows {
        props = props.set_max_row_group_row_count(Some(n));
    }
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, schema, Some(props.build())).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// A standard `id` + `embedding` table.
pub fn write_table(path: &Path, ids: ArrayRef, vectors: ArrayRef) {
    write_columns(path, vec![("id", ids), ("embedding", vectors)], None);
}

/// A small deterministic matrix with no zero rows.
pub fn matrix(rows: usize, dim: usize, salt: u32) -> Vec<Vec<f32>> {
    (0..rows)
        .map(|i| {
            (0..dim)
                .map(|j| {
                    let x =
                        (i as u32).wrapping_mul(2654435761) ^ (j as u32).wrapping_mul(40503) ^ salt;
                    ((x % 2001) as f32 - 1000.0) / 1000.0 + 0.0005
                })
                .collect()
        })
        .collect()
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn p(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}
