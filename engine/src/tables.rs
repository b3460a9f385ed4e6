//! Parquet files as engine tables, and the checks a table of embeddings must pass before a
//! job reads its vectors.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use shimkit_data::{Columns, DataError};

use crate::error::{EngineError, Result};

/// `"name"`, quoted for SQL.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Registers the Parquet files at `paths` (files, or directories read as the *.parquet
/// files in them) as one table, after checking that they exist and hold both columns.
pub async fn register_parquet(
    ctx: &SessionContext,
    table: &str,
    paths: &[PathBuf],
    columns: &Columns,
) -> Result<()> {
    let mut urls = Vec::with_capacity(paths.len());
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
        let absolute = std::fs::canonicalize(path).map_err(|e| DataError::io(path, e))?;
        let mut url = absolute.to_string_lossy().into_owned();
        if meta.is_dir() {
            if !has_parquet(&absolute)? {
                return Err(DataError::NoFiles { path: path.clone() }.into());
            }
            url.push('/');
        }
        urls.push(url);
    }
    let df = ctx
        .read_parquet(urls, ParquetReadOptions::default())
        .await
        .map_err(|e| read_error(paths, e))?;
    let schema = df.schema().clone();
    for column in [&columns.id, &columns.vector] {
        if schema.field_with_unqualified_name(column).is_err() {
            return Err(DataError::MissingColumn {
                path: paths[0].clone(),
                column: column.clone(),
                available: schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
    }
    ctx.register_table(table, df.into_view())?;
    Ok(())
}

fn has_parquet(dir: &Path) -> Result<bool> {
    Ok(!parquet_files(&[dir.to_path_buf()])?.is_empty())
}

fn read_error(paths: &[PathBuf], e: datafusion::error::DataFusionError) -> EngineError {
    EngineError::Invalid {
        what: "input",
        message: format!(
            "{}: cannot read as Parquet: {e}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// How the engine writes Parquet, as shimkit's own writer does: zstd, no dictionary (ids
/// are unique and vectors are noise to one), row groups of about 64 MiB (DataFusion's
/// default of a million rows would hold gigabytes of vectors in memory before writing),
/// and column-chunk statistics only, whose NULL counts let a job check its output
/// without reading it back. `row_bytes` is a row's size, where known.
pub fn writer_options(row_bytes: Option<usize>) -> datafusion::config::TableParquetOptions {
    let mut options = datafusion::config::TableParquetOptions::default();
    let global = &mut options.global;
    global.compression = Some("zstd(1)".into());
    global.dictionary_enabled = Some(false);
    global.statistics_enabled = Some("chunk".into());
    global.max_row_group_size =
        ((64usize << 20) / row_bytes.unwrap_or(4096).max(1)).clamp(1024, 1 << 20);
    global.created_by = format!("shimkit {}", env!("CARGO_PKG_VERSION"));
    global.allow_single_file_parallelism = false;
    options
}

/// Rows, and a check that no id is NULL or repeated (what shimkit's readers refuse), in one
/// aggregate over the id column alone.
pub async fn count_checked_ids(
    ctx: &SessionContext,
    table: &str,
    id: &str,
    label: &str,
) -> Result<u64> {
    let (t, id) = (quote(table), quote(id));
    let batches = ctx
        .sql(&format!(
            "SELECT count(*), count({id}), count(DISTINCT {id}) FROM {t}"
        ))
        .await?
        .collect()
        .await?;
    let value = |col: usize| -> i64 {
        batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .map(|b| b.column(col).as_primitive::<Int64Type>().value(0))
            .unwrap_or(0)
    };
    let (rows, ids, distinct) = (value(0), value(1), value(2));
    if ids < rows {
        return Err(EngineError::Invalid {
            what: "ids",
            message: format!("{label}: {} rows have a NULL id", rows - ids),
        });
    }
    if distinct < ids {
        let example = ctx
            .sql(&format!(
                "SELECT CAST({id} AS VARCHAR) FROM {t} GROUP BY {id} HAVING count(*) > 1 LIMIT 1"
            ))
            .await?
            .collect()
            .await?;
        let example = example
            .iter()
            .find(|b| b.num_rows() > 0)
            .map(|b| {
                datafusion::arrow::util::display::array_value_to_string(b.column(0), 0)
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        return Err(EngineError::Invalid {
            what: "ids",
            message: format!(
                "{label}: {} ids appear more than once (for example {example:?}); every id names one row",
                ids - distinct
            ),
        });
    }
    Ok(rows as u64)
}

/// The rows a set of Parquet files' footers add up to, and the NULLs their statistics
/// count in `column` (`None` where a file has no statistics for it): a table checked
/// without reading its data.
pub fn footer_counts(paths: &[PathBuf], column: &str) -> Result<(u64, Option<u64>)> {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let (mut rows, mut nulls) = (0u64, Some(0u64));
    for path in parquet_files(paths)? {
        let file = std::fs::File::open(&path).map_err(|e| DataError::io(&path, e))?;
        let reader = SerializedFileReader::new(file).map_err(|e| DataError::Parquet {
            path: path.clone(),
            source: e,
        })?;
        for rg in reader.metadata().row_groups() {
            rows += rg.num_rows() as u64;
            // The column's first leaf: a vector column has one.
            let leaf = rg
                .columns()
                .iter()
                .find(|c| c.column_path().parts().first().map(String::as_str) == Some(column));
            let counted = leaf
                .and_then(|c| c.statistics())
                .and_then(|s| s.null_count_opt());
            nulls = match (nulls, counted) {
                (Some(n), Some(c)) => Some(n + c),
                _ => None,
            };
        }
    }
    Ok((rows, nulls))
}

/// Refuses to replace an existing `dir` unless it holds only Parquet files (an earlier
/// output): a job's output replaces its directory whole, and a mistyped `--output` must
/// not take a directory of other things with it.
pub fn check_replaceable(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let parquet = path.extension().is_some_and(|x| x == "parquet")
            && entry.file_type().is_ok_and(|t| t.is_file());
        if !parquet {
            return Err(EngineError::Invalid {
                what: "output",
                message: format!(
                    "{} exists and holds {}, which is not a Parquet file: the output replaces its directory whole, so name a new directory or an earlier output",
                    dir.display(),
                    path.display()
                ),
            });
        }
    }
    Ok(())
}

/// The Parquet files that `paths` name: files as they are, directories' *.parquet files.
pub fn parquet_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| DataError::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}
