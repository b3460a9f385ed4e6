//! Writing embedding tables as Parquet, streamed and atomic.
//!
//! The output schema is the one every shimkit reader and pyarrow agree on: `id` (utf8) and
//! `embedding` (FixedSizeList<float32>), zstd-compressed. Row groups are sized to about
//! 64 MiB of vectors so the writer's buffer, and so its memory, stays bounded whatever the
//! table's length.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use ndarray::ArrayView2;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::atomic::AtomicFile;
use crate::error::{DataError, Result};

const ROW_GROUP_BYTES: usize = 64 << 20;

/// The Arrow schema shimkit writes for a table of `dim`-dimensional vectors.
pub fn embedding_schema(dim: usize) -> SchemaRef {
    let item = Arc::new(Field::new("element", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item, dim as i32),
            false,
        ),
    ]))
}

/// Streams rows into a Parquet file that appears under its name only on [`finish`].
///
/// [`finish`]: EmbeddingWriter::finish
pub struct EmbeddingWriter {
    writer: ArrowWriter<File>,
    guard: AtomicFile,
    schema: SchemaRef,
    dim: usize,
    rows: u64,
}

impl EmbeddingWriter {
    pub fn create(dest: impl AsRef<Path>, dim: usize) -> Result<Self> {
        let dest = dest.as_ref();
        if dim == 0 || dim > i32::MAX as usize {
            return Err(DataError::Invalid {
                what: "dimension",
                message: format!(
                    "cannot write {}: dimension {dim} is out of range",
                    dest.display()
                ),
            });
        }
        let schema = embedding_schema(dim);
        let rows_per_group = (ROW_GROUP_BYTES / (dim * 4)).clamp(1024, 1 << 20);
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            // Ids are unique and vectors are noise to a dictionary or min/max statistics:
            // both would only cost time.
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::None)
            .set_max_row_group_row_count(Some(rows_per_group))
            .set_created_by(format!("shimkit {}", env!("CARGO_PKG_VERSION")))
            .build();
        let (guard, file) = AtomicFile::create(dest)?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| {
            DataError::Write {
                path: dest.to_path_buf(),
                source: e,
            }
        })?;
        Ok(EmbeddingWriter {
            writer,
            guard,
            schema,
            dim,
            rows: 0,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends rows; `vectors` must have `ids.len()` rows of the writer's dimension.
    pub fn write<S: AsRef<str>>(&mut self, ids: &[S], vectors: ArrayView2<'_, f32>) -> Result<()> {
        if vectors.nrows() != ids.len() || vectors.ncols() != self.dim {
            return Err(DataError::Invalid {
                what: "rows to write",
                message: format!(
                    "{}: {} ids with a {}x{} matrix, but the file holds {}-dimensional vectors",
                    self.guard.dest().display(),
                    ids.len(),
                    vectors.nrows(),
                    vectors.ncols(),
                    self.dim
                ),
            });
        }
        if ids.is_empty() {
            return Ok(());
        }
        let values: Vec<f32> = match vectors.as_slice() {
            Some(s) => s.to_vec(),
            None => vectors.iter().copied().collect(),
        };
        let item = Arc::new(Field::new("element", DataType::Float32, false));
        let list = FixedSizeListArray::try_new(
            item,
            self.dim as i32,
            Arc::new(Float32Array::from(values)),
            None,
        )
        .map_err(|e| self.write_error(e.into()))?;
        let id_array = StringArray::from_iter_values(ids.iter().map(|s| s.as_ref()));
        let columns: Vec<ArrayRef> = vec![Arc::new(id_array), Arc::new(list)];
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| self.write_error(e.into()))?;
        self.writer.write(&batch).map_err(|e| self.write_error(e))?;
        self.rows += ids.len() as u64;
        Ok(())
    }

    /// Closes the file and renames it into place. Without this call nothing is left behind.
    pub fn finish(self) -> Result<u64> {
        let EmbeddingWriter {
            writer,
            guard,
            rows,
            ..
        } = self;
        let file = writer.into_inner().map_err(|e| DataError::Write {
            path: guard.dest().to_path_buf(),
            source: e,
        })?;
        guard.commit(file)?;
        Ok(rows)
    }

    fn write_error(&self, e: parquet::errors::ParquetError) -> DataError {
        DataError::Write {
            path: self.guard.dest().to_path_buf(),
            source: e,
        }
    }
}

enum Message {
    Rows(Vec<String>, ndarray::Array2<f32>),
    Finish,
}

/// An [`EmbeddingWriter`] on its own thread, so encoding, compression and the write to
/// disk overlap the caller's work instead of following it.
///
/// Dropped without [`finish`](BackgroundWriter::finish) (an error upstream), the writer is
/// dropped unfinished too, and its temporary file removed: nothing appears under the name.
pub struct BackgroundWriter {
    tx: Option<std::sync::mpsc::SyncSender<Message>>,
    handle: Option<std::thread::JoinHandle<Result<u64>>>,
}

impl BackgroundWriter {
    /// Takes over `writer`, with up to `depth` batches queued.
    pub fn new(mut writer: EmbeddingWriter, depth: usize) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Message>(depth.max(1));
        let handle = std::thread::spawn(move || {
            for message in rx {
                match message {
                    Message::Rows(ids, vectors) => writer.write(&ids, vectors.view())?,
                    Message::Finish => return writer.finish(),
                }
            }
            // The sender went away without Finish: drop the writer, and its temporary file.
            Err(DataError::Invalid {
                what: "output",
                message: "abandoned before it was complete".into(),
            })
        });
        BackgroundWriter {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    /// Queues rows; blocks while the queue is full. An error from the writer thread (a
    /// full disk, say) surfaces here or at `finish`.
    pub fn write(&mut self, ids: Vec<String>, vectors: ndarray::Array2<f32>) -> Result<()> {
        let sent = self
            .tx
            .as_ref()
            .map(|tx| tx.send(Message::Rows(ids, vectors)).is_ok());
        if sent == Some(true) {
            return Ok(());
        }
        // The thread has stopped: its result says why.
        Err(self.join().err().unwrap_or(DataError::Invalid {
            what: "output",
            message: "the writer thread stopped".into(),
        }))
    }

    /// Writes the footer and renames the file into place; returns the rows written.
    pub fn finish(mut self) -> Result<u64> {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Message::Finish);
        }
        self.join()
    }

    fn join(&mut self) -> Result<u64> {
        self.tx.take();
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(DataError::Invalid {
                what: "output",
                message: "the writer thread panicked".into(),
            }),
            None => Err(DataError::Invalid {
                what: "output",
                message: "already finished".into(),
            }),
        }
    }
}

impl Drop for BackgroundWriter {
    fn drop(&mut self) {
        // Closing the channel without Finish makes the thread drop its writer unfinished.
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
