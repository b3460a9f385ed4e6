//! Reading embedding tables: streamed in bounded batches, or whole into one matrix.

use std::collections::HashSet;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use ndarray::Array2;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use rayon::prelude::*;

use crate::contain::{contain, contained_here};
use crate::convert::{VectorCheck, ids_to_strings, validate_rows, vectors_to_f32};
use crate::dupes::{ExactCheck, HashLog, id_hash};
use crate::error::{DataError, Result};
use crate::leaf::LeafStream;
use crate::schema::FileLayout;
use crate::source::{Columns, TableSource};
use crate::table::{EmbeddingBatch, EmbeddingTable};

/// How to read a table.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub columns: Columns,
    /// Upper bound on the rows of one streamed batch.
    pub batch_rows: usize,
    /// Whether to reject duplicate ids (on by default; costs 8 bytes a row when streaming).
    pub check_duplicates: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            columns: Columns::default(),
            batch_rows: 4096,
            check_duplicates: true,
        }
    }
}

impl ReadOptions {
    pub fn with_columns(columns: Columns) -> Self {
        ReadOptions {
            columns,
            ..Default::default()
        }
    }
}

/// Reads every file's footer, checking columns and types before any row is decoded.
pub fn layouts(source: &TableSource, columns: &Columns) -> Result<Vec<FileLayout>> {
    source
        .files()
        .iter()
        .map(|p| FileLayout::open(p, columns))
        .collect()
}

/// Streams a table as batches of at most `batch_rows` rows, validating each row.
///
/// Memory stays bounded by one batch (plus 8 bytes a row for the duplicate check), so tables
/// larger than RAM can be folded into statistics or projected. Validation errors arrive as
/// an `Err` item, after which the iterator ends. A duplicate id can only be known once every
/// row has been seen: it arrives as the last item, so a consumer that must not act on a
/// table with duplicates reads to the end before committing anything.
pub struct BatchReader {
    layouts: Vec<FileLayout>,
    options: ReadOptions,
    label: PathBuf,
    file: usize,
    file_started: bool,
    /// The list width, when this file's vectors go through the direct float-leaf path.
    leaf_dim: Option<usize>,
    next_row_group: usize,
    current: Option<Cursor>,
    row_in_file: u64,
    rows_seen: u64,
    dim: Option<(usize, String)>,
    dim_file: usize,
    hashes: Option<HashLog>,
    done: bool,
}

impl BatchReader {
    pub fn open(source: &TableSource, options: ReadOptions) -> Result<Self> {
        let layouts = layouts(source, &options.columns)?;
        let hashes = options.check_duplicates.then(HashLog::default);
        Ok(BatchReader {
            layouts,
            options,
            label: source.label().to_path_buf(),
            file: 0,
            file_started: false,
            leaf_dim: None,
            next_row_group: 0,
            current: None,
            row_in_file: 0,
            rows_seen: 0,
            dim: None,
            dim_file: 0,
            hashes,
            done: false,
        })
    }

    /// Footer facts of every file, known before the first batch.
    pub fn layouts(&self) -> &[FileLayout] {
        &self.layouts
    }

    /// Total rows, from the footers.
    pub fn total_rows(&self) -> u64 {
        self.layouts.iter().map(|l| l.rows).sum()
    }

    /// The dimension, once known (from a FixedSizeList type, or after the first batch).
    pub fn dim(&self) -> Option<usize> {
        self.dim
            .as_ref()
            .map(|(d, _)| *d)
            .or_else(|| self.layouts.first().and_then(|l| l.fixed_dim))
    }

    fn start_file(&mut self) -> Result<()> {
        let layout = &self.layouts[self.file];
        if let (Some(width), Some((d, _))) = (layout.fixed_dim, &self.dim)
            && width != *d
        {
            return Err(DataError::FileDimMismatch {
                path: layout.path.clone(),
                first_path: self.layouts[self.dim_file].path.clone(),
                found: width,
                expected: *d,
            });
        }
        self.row_in_file = 0;
        self.next_row_group = 0;
        self.file_started = true;
        // Fixed-width float lists go through the direct leaf path, one row group at a time;
        // anything else through Arrow, the whole file at once.
        self.leaf_dim = layout.fixed_dim.filter(|_| layout.float32_elements());
        if self.leaf_dim.is_none() {
            self.current = Some(Cursor::Arrow(layout.reader(
                self.options.batch_rows,
                None,
                false,
            )?));
        }
        Ok(())
    }

    /// Sets up the next cursor; `false` when every file is done.
    fn advance(&mut self) -> Result<bool> {
        loop {
            if !self.file_started {
                if self.file >= self.layouts.len() {
                    return Ok(false);
                }
                self.start_file()?;
                if self.current.is_some() {
                    return Ok(true);
                }
            }
            let layout = &self.layouts[self.file];
            if self.leaf_dim.is_some() && self.next_row_group < layout.row_group_rows.len() {
                let rg = self.next_row_group;
                self.next_row_group += 1;
                let batch = self.options.batch_rows;
                self.current = Some(
                    match LeafStream::open(layout, &self.options.columns.vector, rg)? {
                        Some(values) => Cursor::Leaf {
                            values: Box::new(values),
                            ids: layout.reader(batch, Some(vec![rg]), true)?,
                            row_group: rg,
                            rows_read: 0,
                        },
                        None => Cursor::Arrow(layout.reader(batch, Some(vec![rg]), false)?),
                    },
                );
                return Ok(true);
            }
            self.file += 1;
            self.file_started = false;
        }
    }

    /// A batch read by the leaf path: ids from Arrow, vectors decoded straight into `values`.
    fn convert_leaf(
        &mut self,
        ids_batch: RecordBatch,
        values: Vec<f32>,
        dim: usize,
    ) -> Result<EmbeddingBatch> {
        let layout = &self.layouts[self.file];
        let mut ids = Vec::with_capacity(ids_batch.num_rows());
        ids_to_strings(
            &layout.path,
            &self.options.columns.id,
            ids_batch.column(0),
            self.row_in_file,
            &mut ids,
        )?;
        if self.dim.is_none() {
            self.dim = Some((dim, format!("the list width of {}", layout.path.display())));
            self.dim_file = self.file;
        }
        let check = VectorCheck {
            path: &layout.path,
            column: &self.options.columns.vector,
            first_row: self.row_in_file,
            ids: &ids,
            dim: &mut self.dim,
        };
        validate_rows(&values, dim, &check)?;
        self.finish_batch(ids, values, dim)
    }

    fn finish_batch(
        &mut self,
        ids: Vec<String>,
        values: Vec<f32>,
        dim: usize,
    ) -> Result<EmbeddingBatch> {
        if let Some(log) = &mut self.hashes {
            ids.iter().for_each(|id| log.push(id));
        }
        let rows = ids.len();
        let vectors =
            Array2::from_shape_vec((rows, dim), values).map_err(|e| DataError::Invalid {
                what: "batch shape",
                message: e.to_string(),
            })?;
        let out = EmbeddingBatch {
            ids,
            vectors,
            file: self.layouts[self.file].path.clone(),
            first_row: self.row_in_file,
        };
        self.row_in_file += rows as u64;
        self.rows_seen += rows as u64;
        Ok(out)
    }

    fn convert(&mut self, batch: RecordBatch) -> Result<EmbeddingBatch> {
        let layout = &self.layouts[self.file];
        let (id_pos, vec_pos) = layout.projected_positions();
        let mut ids = Vec::new();
        ids_to_strings(
            &layout.path,
            &self.options.columns.id,
            batch.column(id_pos),
            self.row_in_file,
            &mut ids,
        )?;
        let had_dim = self.dim.is_some();
        let mut values = Vec::new();
        let dim = vectors_to_f32(
            batch.column(vec_pos),
            &mut VectorCheck {
                path: &layout.path,
                column: &self.options.columns.vector,
                first_row: self.row_in_file,
                ids: &ids,
                dim: &mut self.dim,
            },
            &mut values,
        )?;
        if !had_dim && self.dim.is_some() {
            self.dim_file = self.file;
        }
        self.finish_batch(ids, values, dim)
    }

    /// Called once after the last batch: the checks that need every row.
    fn finish(&mut self) -> Result<()> {
        if self.rows_seen == 0 {
            return Err(DataError::EmptyTable {
                path: self.label.clone(),
            });
        }
        if let Some(log) = self.hashes.take() {
            let suspects = log.suspects();
            if !suspects.is_empty() {
                confirm_duplicates(&self.layouts, &self.options, &suspects)?;
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Option<Result<EmbeddingBatch>> {
        loop {
            if self.current.is_none() {
                match self.advance() {
                    Ok(true) => {}
                    Ok(false) => return self.finish().err().map(Err),
                    Err(e) => return Some(Err(e)),
                }
            }
            let path = &self.layouts[self.file].path;
            let parquet_error = |e: arrow_schema::ArrowError| DataError::Parquet {
                path: path.clone(),
                source: parquet::errors::ParquetError::General(e.to_string()),
            };
            match self.current.as_mut()? {
                Cursor::Arrow(reader) => match reader.next() {
                    Some(Ok(batch)) if batch.num_rows() == 0 => continue,
                    Some(Ok(batch)) => return Some(self.convert(batch)),
                    Some(Err(e)) => return Some(Err(parquet_error(e))),
                    None => self.current = None,
                },
                Cursor::Leaf {
                    values,
                    ids,
                    row_group,
                    rows_read,
                } => match ids.next() {
                    None => self.current = None,
                    Some(Err(e)) => return Some(Err(parquet_error(e))),
                    Some(Ok(batch)) => {
                        let (n, dim) = (batch.num_rows(), self.leaf_dim.unwrap_or(0));
                        let mut buffer = match float_buffer(path, n as u64, dim) {
                            Ok(b) => b,
                            Err(e) => return Some(Err(e)),
                        };
                        match values.read(path, n, dim, &mut buffer) {
                            Err(e) => return Some(Err(e)),
                            Ok(true) => {
                                *rows_read += n;
                                return Some(self.convert_leaf(batch, buffer, dim));
                            }
                            Ok(false) => {
                                // Re-read this row group from here through Arrow, which names
                                // the row that the leaf path could not take.
                                let (rg, skip) = (*row_group, *rows_read);
                                let layout = &self.layouts[self.file];
                                match layout.reader_from_row(self.options.batch_rows, rg, skip) {
                                    Ok(r) => self.current = Some(Cursor::Arrow(r)),
                                    Err(e) => return Some(Err(e)),
                                }
                            }
                        }
                    }
                },
            }
        }
    }
}

/// Where the stream is reading now.
enum Cursor {
    /// Arrow over the whole file, or over the rest of one row group.
    Arrow(ParquetRecordBatchReader),
    /// The direct float-leaf path over one row group, with its ids read through Arrow.
    Leaf {
        values: Box<LeafStream>,
        ids: ParquetRecordBatchReader,
        row_group: usize,
        rows_read: usize,
    },
}

impl Iterator for BatchReader {
    type Item = Result<EmbeddingBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let path = self
            .layouts
            .get(self.file)
            .map_or_else(|| self.label.clone(), |l| l.path.clone());
        let item = match contain(&path, || Ok(self.step())) {
            Ok(item) => item,
            Err(e) => Some(Err(e)),
        };
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

/// Second pass over the id column only, to turn equal hashes into a named duplicate (or
/// clear them as a hash collision).
fn confirm_duplicates(
    layouts: &[FileLayout],
    options: &ReadOptions,
    suspects: &HashSet<u64>,
) -> Result<()> {
    let mut exact = ExactCheck::new(layouts.iter().map(|l| l.path.clone()).collect());
    for (f, layout) in layouts.iter().enumerate() {
        layout.for_each_id_batch(&options.columns.id, None, 0, |first, ids| {
            for (k, id) in ids.iter().enumerate() {
                if suspects.contains(&id_hash(id)) {
                    exact.check(f, first + k as u64, id)?;
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Reads only the ids of a table, in row order (nulls are errors; vectors are not decoded).
pub fn read_ids(source: &TableSource, columns: &Columns) -> Result<Vec<String>> {
    contain(source.label(), || read_ids_unguarded(source, columns))
}

fn read_ids_unguarded(source: &TableSource, columns: &Columns) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for layout in layouts(source, columns)? {
        layout.for_each_id_batch(&columns.id, None, 0, |_, batch| {
            ids.extend(batch);
            Ok(())
        })?;
    }
    Ok(ids)
}

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

/// An empty buffer with room for `rows` vectors of `dim` floats, or an error when that
/// is more than this process can have: the sizes come from a file's footer, which may lie,
/// and an allocation that fails would abort the process.
fn float_buffer(path: &std::path::Path, rows: u64, dim: usize) -> Result<Vec<f32>> {
    let too_big = || DataError::Invalid {
        what: "table size",
        message: format!(
            "{}: {rows} rows of {dim} values do not fit in memory",
            path.display()
        ),
    };
    let len = usize::try_from(rows)
        .ok()
        .and_then(|r| r.checked_mul(dim))
        .filter(|&n| n.checked_mul(4).is_some())
        .ok_or_else(too_big)?;
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(len).map_err(|_| too_big())?;
    Ok(buffer)
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

#[cfg(test)]
mod tests {
    use super::float_buffer;

    #[test]
    fn a_footer_cannot_make_the_reader_allocate_what_does_not_fit() {
        let p = std::path::Path::new("t.parquet");
        for (rows, dim) in [(u64::MAX, 1), (1 << 40, 1 << 24), (1 << 62, 4)] {
            let e = float_buffer(p, rows, dim).unwrap_err().to_string();
            assert!(
                e.contains("t.parquet") && e.contains("do not fit in memory"),
                "{e}"
            );
        }
        assert_eq!(float_buffer(p, 3, 4).unwrap().capacity(), 12);
    }
}
