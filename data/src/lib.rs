//! Embedding data for shimkit: Parquet in and out, validated, and evaluation sets.
//!
//! This crate's one concern is getting vectors between disk and memory without losing or
//! inventing anything. It reads embedding tables (an id column and a vector column) from
//! one Parquet file, several, or a directory, in whatever encoding real files use (utf8 or
//! integer ids; FixedSizeList, List or LargeList of float16, float32 or float64), and hands
//! them over as a contiguous row-major `f32` matrix, either whole ([`read_table`]) or as a
//! stream of bounded batches ([`BatchReader`]) for tables larger than memory.
//!
//! Every row is validated on the way in: null ids or vectors, rows of the wrong length,
//! NaN or infinite values, all-zero vectors, duplicate ids, empty tables, files that are not
//! Parquet. Each problem is a [`DataError`] naming the file, column, row and id.
//!
//! Around that sit: [`pair_tables`] (joining old- and new-model tables by id),
//! [`EmbeddingWriter`] (streamed, zstd, atomic Parquet output), [`EvalSet`] and [`Qrels`]
//! (the evaluation-set layout of `shared/data`), [`read_texts`] (its BEIR JSONL texts),
//! [`summarize`] (what `shimkit inspect` shows) and [`synth::generate`] (synthetic sets of
//! any size, in constant memory).
//!
//! It does no linear algebra and knows nothing of shims, fitting or evaluation (that is
//! `shimkit-trainer`), nor of HTTP (that is `shimkit-server`): the other crates depend on
//! it, never the reverse.
//!
//! ```no_run
//! use shimkit_data::{read_table, ReadOptions, TableSource};
//!
//! let table = read_table(&TableSource::new("corpus.mpnet.parquet")?, &ReadOptions::default())?;
//! println!("{} vectors of {} dimensions", table.len(), table.dim());
//! # Ok::<(), shimkit_data::DataError>(())
//! ```

mod aligned;
mod atomic;
mod contain;
mod convert;
mod dataset;
mod dupes;
mod error;
mod leaf;
mod pairs;
mod prefetch;
mod qrels;
mod reader;
mod regular;
mod schema;
mod source;
mod summary;
pub mod synth;
mod table;
mod texts;
mod vector;
mod writer;

pub use aligned::{AlignedItem, AlignedReader};
pub use atomic::{
    AtomicFile, StagingDir, remove_pending, remove_stale, temp_sibling, write_atomic,
};
pub use contain::{catch_decoder_panic, contain, install_panic_filter};
pub use convert::{MAX_DIM, ids_from_arrow, vectors_from_arrow, vectors_view_from_arrow};
pub use dataset::{Coverage, EvalSet, ModelFiles, Split};
pub use error::{DataError, Result};
pub use pairs::{PairedEmbeddings, pair_tables, pair_tables_where};
pub use prefetch::{FromPanic, Prefetch};
pub use qrels::Qrels;
pub use reader::{BatchReader, ReadOptions, layouts, read_ids, read_table};
pub use regular::{read_regular, read_regular_text, require_regular_file};
pub use schema::FileLayout;
pub use source::{Columns, TableSource};
pub use summary::{FileSummary, NormStats, TableSummary, summarize, type_name};
pub use table::{EmbeddingBatch, EmbeddingTable};
pub use texts::{TextReader, TextRecord, parse_texts, read_texts};
pub use vector::{normalize_rows, squared_norm};
pub use writer::{BackgroundWriter, EmbeddingWriter, embedding_schema};
