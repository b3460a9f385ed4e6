//! Reading a table as a stream of bounded batches, for tables larger than memory.

use std::collections::HashSet;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use ndarray::Array2;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;

use super::{ReadOptions, float_buffer, layouts};
use crate::contain::contain;
use crate::convert::{VectorCheck, ids_to_strings, validate_rows, vectors_to_f32};
use crate::dupes::{ExactCheck, HashLog, id_hash};
use crate::error::{DataError, Result};
use crate::leaf::LeafStream;
use crate::schema::FileLayout;
use crate::source::TableSource;
use crate::table::EmbeddingBatch;

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
