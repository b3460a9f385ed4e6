//! Reading embedding tables: streamed in bounded batches ([`BatchReader`]), or whole into
//! one matrix ([`read_table`]).

use crate::contain::contain;
use crate::error::{DataError, Result};
use crate::schema::FileLayout;
use crate::source::{Columns, TableSource};

mod stream;
mod table;

pub use stream::BatchReader;
pub use table::read_table;

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

/// An empty buffer with room for `rows` vectors of `dim` floats, or an error when that
/// is more than this process can have: the sizes come from a file's footer, which may lie,
/// and an allocation that fails would abort the process.
pub(crate) fn float_buffer(path: &std::path::Path, rows: u64, dim: usize) -> Result<Vec<f32>> {
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
