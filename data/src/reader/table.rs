//! Reading a whole table into one matrix, row groups decoded in parallel.

use ndarray::Array2;
use rayon::prelude::*;

use super::{ReadOptions, float_buffer, layouts};
use crate::contain::{contain, contained_here};
use crate::convert::{VectorCheck, ids_to_strings, validate_rows, vectors_to_f32};
use crate::dupes::ExactCheck;
use crate::error::{DataError, Result};
use crate::schema::FileLayout;
use crate::source::TableSource;
use crate::table::EmbeddingTable;

/// One row group of one file, read by one worker into its own slice of the matrix.
struct Unit {
    file: usize,
    row_group: usize,
    rows: usize,
}

/// Reads a whole table into memory as one contiguous row-major matrix, validating every
/// row and rejecting duplicate ids.
///
/// Row groups are decoded in parallel (rayon), each straight into its own slice of the
/// preallocated matrix, so peak memory is the matrix plus one batch per worker.
pub fn read_table(source: &TableSource, options: &ReadOptions) -> Result<EmbeddingTable> {
    contain(source.label(), || read_table_unguarded(source, options))
}

fn read_table_unguarded(source: &TableSource, options: &ReadOptions) -> Result<EmbeddingTable> {
    let layouts = layouts(source, &options.columns)?;
    let total = layouts
        .iter()
        .try_fold(0u64, |sum, l| sum.checked_add(l.rows))
        .unwrap_or(u64::MAX);
    if total == 0 {
        return Err(DataError::EmptyTable {
            path: source.label().to_path_buf(),
        });
    }
    let (dim, why, dim_file) = probe_dim(&layouts, options)?;
    for layout in &layouts {
        if let Some(width) = layout.fixed_dim
            && width != dim
        {
            return Err(DataError::FileDimMismatch {
                path: layout.path.clone(),
                first_path: layouts[dim_file].path.clone(),
                found: width,
                expected: dim,
            });
        }
    }
    let mut data = float_buffer(source.label(), total, dim)?;
    let total = total as usize;
    let units: Vec<Unit> = layouts
        .iter()
        .enumerate()
        .flat_map(|(file, l)| {
            l.row_group_rows
                .iter()
                .enumerate()
                .filter(|(_, r)| **r > 0)
                .map(move |(row_group, &rows)| Unit {
                    file,
                    row_group,
                    rows: rows as usize,
                })
        })
        .collect();
    data.resize(total * dim, 0.0);
    let mut slices = Vec::with_capacity(units.len());
    let mut rest: &mut [f32] = &mut data;
    for unit in &units {
        let (head, tail) = rest.split_at_mut(unit.rows * dim);
        slices.push(head);
        rest = tail;
    }
    let results: Vec<Result<Vec<String>>> = units
        .par_iter()
        .zip(slices.into_par_iter())
        .map(|(unit, slice)| {
            contained_here(|| read_unit(&layouts[unit.file], unit, slice, dim, &why, options))
        })
        .collect();
    let mut ids = Vec::new();
    for r in results {
        ids.extend(r?);
    }
    if ids.len() != total {
        return Err(DataError::Invalid {
            what: "table",
            message: format!(
                "{}: the footers count {total} rows but {} were read",
                source.label().display(),
                ids.len()
            ),
        });
    }
    tracing::info!(
        table = %source.label().display(),
        files = layouts.len(),
        row_groups = units.len(),
        rows = total,
        dim,
        "read table"
    );
    if options.check_duplicates {
        let mut exact = ExactCheck::new(layouts.iter().map(|l| l.path.clone()).collect());
        let mut i = 0;
        for (f, layout) in layouts.iter().enumerate() {
            for row in 0..layout.rows {
                exact.check(f, row, &ids[i])?;
                i += 1;
            }
        }
    }
    let vectors = Array2::from_shape_vec((total, dim), data).map_err(|e| DataError::Invalid {
        what: "table shape",
        message: e.to_string(),
    })?;
    Ok(EmbeddingTable {
        ids,
        vectors,
        source: source.label().to_path_buf(),
    })
}

/// The table's dimension: the first file's FixedSizeList width, or the length of the first
/// row of a List column.
fn probe_dim(layouts: &[FileLayout], options: &ReadOptions) -> Result<(usize, String, usize)> {
    for (f, layout) in layouts.iter().enumerate() {
        if let Some(width) = layout.fixed_dim {
            return Ok((
                width,
                format!("the list width of {}", layout.path.display()),
                f,
            ));
        }
        if layout.rows == 0 {
            continue;
        }
        let mut reader = layout.reader(1, None, false)?;
        if let Some(batch) = reader.next() {
            let batch = batch.map_err(|e| DataError::parquet(&layout.path, e.into()))?;
            let (id_pos, vec_pos) = layout.projected_positions();
            let mut ids = Vec::new();
            ids_to_strings(
                &layout.path,
                &options.columns.id,
                batch.column(id_pos),
                0,
                &mut ids,
            )?;
            let mut dim = None;
            let mut scratch = Vec::new();
            vectors_to_f32(
                batch.column(vec_pos),
                &mut VectorCheck {
                    path: &layout.path,
                    column: &options.columns.vector,
                    first_row: 0,
                    ids: &ids,
                    dim: &mut dim,
                },
                &mut scratch,
            )?;
            if let Some((d, _)) = dim {
                return Ok((
                    d,
                    format!("the length of row 0 of {}", layout.path.display()),
                    f,
                ));
            }
        }
    }
    Err(DataError::EmptyTable {
        path: layouts.first().map(|l| l.path.clone()).unwrap_or_default(),
    })
}

fn read_unit(
    layout: &FileLayout,
    unit: &Unit,
    slice: &mut [f32],
    dim: usize,
    why: &str,
    options: &ReadOptions,
) -> Result<Vec<String>> {
    let first_row: u64 = layout.row_group_rows[..unit.row_group].iter().sum();
    if crate::leaf::read_float_leaf(layout, &options.columns.vector, unit.row_group, dim, slice)? {
        let mut ids = Vec::with_capacity(unit.rows);
        layout.for_each_id_batch(
            &options.columns.id,
            Some(vec![unit.row_group]),
            first_row,
            |_, batch| {
                ids.extend(batch);
                Ok(())
            },
        )?;
        if ids.len() == unit.rows {
            let mut dim_state = Some((dim, why.to_owned()));
            let check = VectorCheck {
                path: &layout.path,
                column: &options.columns.vector,
                first_row,
                ids: &ids,
                dim: &mut dim_state,
            };
            validate_rows(slice, dim, &check)?;
            return Ok(ids);
        }
    }
    tracing::debug!(file = %layout.path.display(), row_group = unit.row_group, "vector column read through Arrow");
    let (id_pos, vec_pos) = layout.projected_positions();
    let mut ids = Vec::with_capacity(unit.rows);
    let mut buffer = Vec::new();
    let mut filled = 0usize;
    let mut dim_state = Some((dim, why.to_owned()));
    for batch in layout.reader(options.batch_rows, Some(vec![unit.row_group]), false)? {
        let batch = batch.map_err(|e| DataError::parquet(&layout.path, e.into()))?;
        let row = first_row + ids.len() as u64;
        let start = ids.len();
        ids_to_strings(
            &layout.path,
            &options.columns.id,
            batch.column(id_pos),
            row,
            &mut ids,
        )?;
        buffer.clear();
        vectors_to_f32(
            batch.column(vec_pos),
            &mut VectorCheck {
                path: &layout.path,
                column: &options.columns.vector,
                first_row: row,
                ids: &ids[start..],
                dim: &mut dim_state,
            },
            &mut buffer,
        )?;
        let end = filled + buffer.len();
        if end > slice.len() {
            return Err(DataError::Invalid {
                what: "row group",
                message: format!(
                    "{}: row group {} holds more rows than its footer says",
                    layout.path.display(),
                    unit.row_group
                ),
            });
        }
        slice[filled..end].copy_from_slice(&buffer);
        filled = end;
    }
    if filled != slice.len() {
        return Err(DataError::Invalid {
            what: "row group",
            message: format!(
                "{}: row group {} holds fewer rows than its footer says",
                layout.path.display(),
                unit.row_group
            ),
        });
    }
    Ok(ids)
}
