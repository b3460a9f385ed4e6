//! What a Parquet file's footer says about an embedding table, before any row is read.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;

use crate::convert::{check_id_type, check_vector_type, ids_to_strings};
use crate::error::{DataError, Result};
use crate::source::Columns;

/// The footer facts of one file of an embedding table.
#[derive(Debug, Clone)]
pub struct FileLayout {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    /// Rows in each row group.
    pub row_group_rows: Vec<u64>,
    pub id_type: DataType,
    pub vector_type: DataType,
    /// The list width when the vector column is a FixedSizeList.
    pub fixed_dim: Option<usize>,
    /// Compression codecs used by the two columns, as Parquet names them.
    pub compression: Vec<String>,
    id_index: usize,
    vector_index: usize,
}

impl FileLayout {
    /// Reads and checks the footer of `path`.
    pub fn open(path: &Path, columns: &Columns) -> Result<Self> {
        crate::contain::contain(path, || Self::read_footer(path, columns))
    }

    fn read_footer(path: &Path, columns: &Columns) -> Result<Self> {
        let builder = open_builder(path)?;
        let schema = builder.schema();
        let find = |name: &str| {
            schema.index_of(name).map_err(|_| DataError::MissingColumn {
                path: path.to_path_buf(),
                column: name.to_owned(),
                available: schema
                    .fields()
                    .iter()
                    .map(|f| format!("{} ({})", f.name(), f.data_type()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        };
        let id_index = find(&columns.id)?;
        let vector_index = find(&columns.vector)?;
        let id_type = schema.field(id_index).data_type().clone();
        let vector_type = schema.field(vector_index).data_type().clone();
        check_id_type(path, &columns.id, &id_type)?;
        let fixed_dim = check_vector_type(path, &columns.vector, &vector_type)?;
        let meta = builder.metadata();
        let row_group_rows: Vec<u64> = meta
            .row_groups()
            .iter()
            .map(|rg| rg.num_rows().max(0) as u64)
            .collect();
        let rows = meta.file_metadata().num_rows().max(0) as u64;
        let in_groups = row_group_rows
            .iter()
            .try_fold(0u64, |sum, &r| sum.checked_add(r));
        if in_groups != Some(rows) {
            return Err(DataError::Invalid {
                what: "Parquet footer",
                message: format!(
                    "{}: the footer counts {rows} rows, but its row groups hold {}",
                    path.display(),
                    in_groups.map_or("more than 2^64".to_owned(), |n| n.to_string())
                ),
            });
        }
        let mut compression = Vec::new();
        for rg in meta.row_groups() {
            for col in rg.columns() {
                let top = col
                    .column_path()
                    .parts()
                    .first()
                    .cloned()
                    .unwrap_or_default();
                let codec = match col.compression() {
                    Compression::ZSTD(level) => format!("ZSTD({})", level.compression_level()),
                    Compression::GZIP(level) => format!("GZIP({})", level.compression_level()),
                    Compression::BROTLI(level) => format!("BROTLI({})", level.compression_level()),
                    other => other.to_string(),
                };
                if (top == columns.id || top == columns.vector) && !compression.contains(&codec) {
                    compression.push(codec);
                }
            }
        }
        let bytes = std::fs::metadata(path)
            .map_err(|e| DataError::io(path, e))?
            .len();
        Ok(FileLayout {
            path: path.to_path_buf(),
            rows,
            bytes,
            row_group_rows,
            id_type,
            vector_type,
            fixed_dim,
            compression,
            id_index,
            vector_index,
        })
    }

    /// A record-batch reader over the two columns (or only the id column), optionally
    /// restricted to some row groups.
    pub(crate) fn reader(
        &self,
        batch_rows: usize,
        row_groups: Option<Vec<usize>>,
        ids_only: bool,
    ) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
        let builder = open_builder(&self.path)?;
        let roots = if ids_only {
            vec![self.id_index]
        } else {
            vec![self.id_index, self.vector_index]
        };
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let mut builder = builder
            .with_projection(mask)
            .with_batch_size(batch_rows.max(1));
        if let Some(rgs) = row_groups {
            builder = builder.with_row_groups(rgs);
        }
        builder
            .build()
            .map_err(|e| DataError::parquet(&self.path, e))
    }

    /// Streams the id column as strings, batch by batch, over some row groups or all;
    /// `each` gets the file row of the batch's first id (`first_row` for the first batch).
    pub(crate) fn for_each_id_batch(
        &self,
        column: &str,
        row_groups: Option<Vec<usize>>,
        first_row: u64,
        mut each: impl FnMut(u64, Vec<String>) -> Result<()>,
    ) -> Result<()> {
        let mut row = first_row;
        for batch in self.reader(8192, row_groups, true)? {
            let batch = batch.map_err(|e| DataError::parquet(&self.path, e.into()))?;
            let mut ids = Vec::with_capacity(batch.num_rows());
            ids_to_strings(&self.path, column, batch.column(0), row, &mut ids)?;
            let n = ids.len() as u64;
            each(row, ids)?;
            row += n;
        }
        Ok(())
    }

    /// A reader over both columns of one row group, from its row `skip` on.
    pub(crate) fn reader_from_row(
        &self,
        batch_rows: usize,
        row_group: usize,
        skip: usize,
    ) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
        use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
        let rows = self.row_group_rows.get(row_group).copied().unwrap_or(0) as usize;
        let builder = open_builder(&self.path)?;
        let mask = ProjectionMask::roots(
            builder.parquet_schema(),
            vec![self.id_index, self.vector_index],
        );
        let selection = RowSelection::from(vec![
            RowSelector::skip(skip),
            RowSelector::select(rows.saturating_sub(skip)),
        ]);
        builder
            .with_projection(mask)
            .with_batch_size(batch_rows.max(1))
            .with_row_groups(vec![row_group])
            .with_row_selection(selection)
            .build()
            .map_err(|e| DataError::parquet(&self.path, e))
    }

    /// Whether the vectors are float32 (the element type the direct leaf path reads).
    pub(crate) fn float32_elements(&self) -> bool {
        matches!(&self.vector_type, DataType::FixedSizeList(f, _) if f.data_type() == &DataType::Float32)
    }

    /// Position of the id and vector columns in a projected batch.
    pub(crate) fn projected_positions(&self) -> (usize, usize) {
        // Projection keeps the file's column order.
        if self.id_index < self.vector_index {
            (0, 1)
        } else {
            (1, 0)
        }
    }
}

/// The Arrow schema a writer embeds in the footer (`ARROW:schema`) is read: a
/// FixedSizeList's width lives only there. Decoding it is where a malformed footer made
/// arrow-ipc panic, so callers run under `contain` (see `FileLayout::open`).
fn open_builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| DataError::parquet(path, e))
}
