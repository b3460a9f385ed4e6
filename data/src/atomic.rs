//! Files that appear whole or not at all.
//!
//! Output goes to a hidden temporary file in the destination's own directory (so the final
//! `rename` never crosses a filesystem), is flushed to disk, and is renamed over the
//! destination only when complete. A process killed midway leaves at most a `.*.tmp` file,
//! never a truncated artifact under the real name; dropping an unfinished `AtomicFile`
//! removes its temporary file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{DataError, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A file being written under a temporary name.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file next to `dest`; returns the guard and the open file.
    pub fn create(dest: impl AsRef<Path>) -> Result<(Self, File)> {
        let dest = dest.as_ref().to_path_buf();
        let tmp = temp_sibling(&dest);
        let file = File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        Ok((
            AtomicFile {
                tmp,
                dest,
                committed: false,
            },
            file,
        ))
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Syncs `file` and renames it over the destination.
    pub fn commit(mut self, file: File) -> Result<()> {
        file.sync_all().map_err(|e| DataError::io(&self.tmp, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| DataError::io(&self.dest, e))?;
        self.committed = true;
        // Make the rename itself durable; failure here is not worth failing the write for.
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let (guard, mut file) = AtomicFile::create(dest)?;
    file.write_all(bytes)
        .map_err(|e| DataError::io(&guard.tmp, e))?;
    guard.commit(file)
}

/// `dir/.name.<pid>.<n>.tmp` beside `dest`.
pub fn temp_sibling(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(".{name}.{}.{n}.tmp", std::process::id());
    match dest.parent() {
        Some(dir) => dir.join(tmp_name),
        None => PathBuf::from(tmp_name),
    }
}
