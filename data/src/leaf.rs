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
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::FloatType;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::error::{DataError, Result};
use crate::schema::FileLayout;

/// Records decoded per call: bounds the reused buffers to a few MiB.
const RECORDS_PER_READ: usize = 2048;

/// The float leaf of one row group's vector column, read record by record.
pub(crate) struct LeafStream {
    reader: ColumnReaderImpl<FloatType>,
    max_def: i16,
    defs: Vec<i16>,
    reps: Vec<i16>,
}

impl LeafStream {
    /// `None` when the column is not one FLOAT leaf under a single list level.
    pub(crate) fn open(
        layout: &FileLayout,
        column: &str,
        row_group: usize,
    ) -> Result<Option<Self>> {
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
            return Ok(None);
        };
        let descr = schema.column(*leaf);
        if descr.physical_type() != PhysicalType::FLOAT || descr.max_rep_level() != 1 {
            return Ok(None);
        }
        let rg = reader
            .get_row_group(row_group)
            .map_err(|e| DataError::parquet(&layout.path, e))?;
        match rg
            .get_column_reader(*leaf)
            .map_err(|e| DataError::parquet(&layout.path, e))?
        {
            ColumnReader::FloatColumnReader(reader) => Ok(Some(LeafStream {
                reader,
                max_def: descr.max_def_level(),
                defs: Vec::new(),
                reps: Vec::new(),
            })),
            _ => Ok(None),
        }
    }

    /// Appends the next `rows` records to `out`, each exactly `dim` non-null values.
    /// `Ok(false)` (and `out` as it was) when they are not: the caller re-reads those rows
    /// through Arrow, whose checks name the offending row.
    pub(crate) fn read(
        &mut self,
        path: &std::path::Path,
        rows: usize,
        dim: usize,
        out: &mut Vec<f32>,
    ) -> Result<bool> {
        let start = out.len();
        let mut got = 0;
        while got < rows {
            self.defs.clear();
            self.reps.clear();
            let before = out.len();
            let (records, n_values, n_levels) = self
                .reader
                .read_records(rows - got, Some(&mut self.defs), Some(&mut self.reps), out)
                .map_err(|e| DataError::parquet(path, e))?;
            let complete = records > 0
                && n_values == n_levels
                && n_values == records * dim
                && out.len() - before == n_values
                && all_equal(&self.defs, self.max_def)
                && self
                    .reps
                    .chunks_exact(dim.max(1))
                    .all(|row| row[0] == 0 && all_equal(&row[1..], 1));
            if !complete {
                out.truncate(start);
                return Ok(false);
            }
            got += records;
        }
        Ok(true)
    }
}

/// Fills `out` (the row group's rows × `dim` values) from the vector column's leaf.
/// Returns `Ok(false)` when the column is not of the simple form this path handles.
pub(crate) fn read_float_leaf(
    layout: &FileLayout,
    column: &str,
    row_group: usize,
    dim: usize,
    out: &mut [f32],
) -> Result<bool> {
    let Some(mut stream) = LeafStream::open(layout, column, row_group)? else {
        return Ok(false);
    };
    let rows = out.len() / dim.max(1);
    let mut values = Vec::with_capacity(RECORDS_PER_READ.min(rows) * dim);
    let mut filled = 0;
    while filled < out.len() {
        let n = RECORDS_PER_READ.min((out.len() - filled) / dim.max(1));
        values.clear();
        if n == 0 || !stream.read(&layout.path, n, dim, &mut values)? {
            return Ok(false);
        }
        out[filled..filled + values.len()].copy_from_slice(&values);
        filled += values.len();
    }
    Ok(true)
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
