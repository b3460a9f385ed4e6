//! Where a table's rows come from: one Parquet file, several, or a directory of them.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::regular::require_regular_file;

/// The names of the two columns an embedding table is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub id: String,
    pub vector: String,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            id: "id".to_owned(),
            vector: "embedding".to_owned(),
        }
    }
}

impl Columns {
    pub fn new(id: impl Into<String>, vector: impl Into<String>) -> Self {
        Columns {
            id: id.into(),
            vector: vector.into(),
        }
    }
}

/// The ordered list of Parquet files read as one table.
///
/// A directory contributes its `*.parquet` files (not recursively) in name order, the way
/// pyarrow's dataset reader and Spark order a partition's files, so row numbers are stable.
/// Names starting with `.` or `_` are skipped (temporary files, `_SUCCESS`, `_metadata`);
/// any other `*.parquet` entry that is not a regular file after following links (a
/// dangling link, a link loop, a FIFO, a subdirectory) is an error that names it.
#[derive(Debug, Clone)]
pub struct TableSource {
    files: Vec<PathBuf>,
    /// What the user named, for messages about the table as a whole.
    label: PathBuf,
}

impl TableSource {
    /// Resolves one path: a Parquet file, or a directory of them.
    pub fn new(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_paths(&[path.as_ref().to_path_buf()])
    }

    /// Resolves several paths, each a file or a directory, into one table.
    pub fn from_paths(paths: &[PathBuf]) -> Result<Self> {
        let mut files = Vec::new();
        for path in paths {
            if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
                let mut found = Vec::new();
                for entry in std::fs::read_dir(path).map_err(|e| DataError::io(path, e))? {
                    let entry = entry.map_err(|e| DataError::io(path, e))?;
                    let p = entry.path();
                    let hidden = p
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.') || n.starts_with('_'));
                    // Every entry that looks like part of the table is read, or is an error
                    // naming it: skipping a dangling link would silently shrink the table.
                    if !hidden && p.extension().is_some_and(|e| e == "parquet") {
                        require_regular_file(&p)?;
                        found.push(p);
                    }
                }
                if found.is_empty() {
                    return Err(DataError::NoFiles { path: path.clone() });
                }
                found.sort();
                files.extend(found);
            } else {
                require_regular_file(path)?;
                files.push(path.clone());
            }
        }
        let label = match paths {
            [one] => one.clone(),
            _ => PathBuf::from(
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        if files.is_empty() {
            return Err(DataError::NoFiles { path: label });
        }
        Ok(TableSource { files, label })
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The path(s) as the user gave them.
    pub fn label(&self) -> &Path {
        &self.label
    }
}
