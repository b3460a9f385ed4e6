//! A direct path from a Parquet float leaf column into the matrix.
//!
//! Through Arrow, a FixedSizeList<float32> column is decoded into level buffers, assembled
//! into list arrays with validity bitmaps, and copied out again: on a 200k × 768 table most
//! of the read went to that assembly and to page faults on its per-batch buffers. Here the
//! leaf's values are decoded into one reused buffer and copied once into the caller's slice.
//!
//! The path only accepts what it can check completely: one FLOAT leaf under a single list
//! level, every definition level at its maximum (no null list, null element or empty
//! list), and a record boundary exactly every `dim` values. Anything else answers
//! `Ok(false)`, and the caller reads the row group through Arrow, whose checks name the
//! offending row; so both paths accept and reject the same files.

use std::fs::File;

use parquet::basic::Type as PhysicalType;
use parquet::column::reader::ColumnReader;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::error::{DataError, Result};
use crate::schema::FileLayout;

/// Records decoded per call: bounds the reused buffers to a few MiB.
const RECORDS_PER_READ: usize = 2048;

/// Fills `out` (the row group's rows × `dim` values) from the vector column's leaf.
/// Returns `Ok(false)` when the column is not of the simple form this path handles.
pub(crate) fn read_float_leaf(
    layout: &FileLayout,
    column: &str,
    row_group: usize,
    dim: usize,
    out: &mut [f32],
) -> Result<bool> {
    let file = File::open(&layout.path).map_err(|e| DataError::io(&layout.path, e))?;
    let reader =
        SerializedFileReader::new(file).map_err(|e| DataError::parquet(&layout.path, e))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&i| {
            schema
                .column(i)
                .path()
                .parts()
                .first()
                .is_some_and(|p| p == column)
        })
        .collect();
    let [leaf] = leaves.as_slice() else {
        return Ok(false);
    };
    let descr = schema.column(*leaf);
    if descr.physical_type() != PhysicalType::FLOAT || descr.max_rep_level() != 1 {
        return Ok(false);
    }
    let max_def = descr.max_def_level();
    let rg = reader
        .get_row_group(row_group)
        .map_err(|e| DataError::parquet(&layout.path, e))?;
    let ColumnReader::FloatColumnReader(mut values_reader) = rg
        .get_column_reader(*leaf)
        .map_err(|e| DataError::parquet(&layout.path, e))?
    else {
        return Ok(false);
    };
    let rows = out.len() / dim.max(1);
    let (mut defs, mut reps, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let mut filled = 0usize;
    let mut rows_read = 0usize;
    while rows_read < rows {
        defs.clear();
        reps.clear();
        values.clear();
        let (records, n_values, n_levels) = values_reader
            .read_records(
                RECORDS_PER_READ.min(rows - rows_read),
                Some(&mut defs),
                Some(&mut reps),
                &mut values,
            )
            .map_err(|e| DataError::parquet(&layout.path, e))?;
        if records == 0 {
            break;
        }
        let complete = n_values == n_levels
            && n_values == records * dim
            && values.len() == n_values
            && all_equal(&defs, max_def)
            && reps
                .chunks_exact(dim)
                .all(|row| row[0] == 0 && all_equal(&row[1..], 1));
        if !complete || filled + n_values > out.len() {
            return Ok(false);
        }
        out[filled..filled + n_values].copy_from_slice(&values);
        filled += n_values;
        rows_read += records;
    }
    Ok(filled == out.len())
}

/// Branch-free, so it vectorises: these run over every value of the table.
fn all_equal(levels: &[i16], level: i16) -> bool {
    levels.iter().fold(true, |ok, &l| ok & (l == level))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Columns;
    use crate::writer::EmbeddingWriter;

    #[test]
    fn takes_plain_float_lists_and_matches_the_arrow_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let (rows, dim) = (5000, 9);
        let m =
            ndarray::Array2::from_shape_fn((rows, dim), |(i, j)| (i * dim + j) as f32 * 0.5 - 7.0);
        let ids: Vec<String> = (0..rows).map(|i| i.to_string()).collect();
        let mut w = EmbeddingWriter::create(&path, dim).unwrap();
        w.write(&ids, m.view()).unwrap();
        w.finish().unwrap();
        let layout = FileLayout::open(&path, &Columns::default()).unwrap();
        let mut out = vec![0f32; rows * dim];
        assert!(read_float_leaf(&layout, "embedding", 0, dim, &mut out).unwrap());
        assert_eq!(out, m.as_slice().unwrap());
        // A wrong dimension is not this path's to judge: it declines, and the caller's
        // general path reports the error.
        let mut short = vec![0f32; rows * 3];
        assert!(!read_float_leaf(&layout, "embedding", 0, 3, &mut short).unwrap());
    }

    #[test]
    fn declines_other_element_types() {
        use arrow_array::Array;
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f64.parquet");
        let list =
            arrow_array::ListArray::from_iter_primitive::<arrow_array::types::Float64Type, _, _>(
                vec![Some(vec![Some(1.0), Some(2.0)])],
            );
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("id", arrow_schema::DataType::Utf8, false),
            arrow_schema::Field::new("embedding", list.data_type().clone(), true),
        ]));
        let batch = arrow_array::RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(arrow_array::StringArray::from(vec!["a"])),
                Arc::new(list),
            ],
        )
        .unwrap();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(File::create(&path).unwrap(), schema, None)
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let layout = FileLayout::open(&path, &Columns::default()).unwrap();
        let mut out = vec![0f32; 2];
        assert!(!read_float_leaf(&layout, "embedding", 0, 2, &mut out).unwrap());
    }
}
