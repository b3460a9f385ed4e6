//! One shim file's version: read and hashed when it changed, skipped when it did not.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use shimkit_trainer::{artifact, hash::fnv1a};

use super::LoadedShim;

/// Size, modification time and inode: a reload that finds all three as they were skips
/// reading and hashing the file (reading and hashing every file on every reload showed in
/// the tail latency of requests during reloads, BENCHMARKS.md). File times are coarse, so,
/// as git does with its index, a stamp is only trusted for a file last modified well
/// before it was read: a write within the same tick could otherwise go unseen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileStamp {
    len: u64,
    modified: SystemTime,
    inode: u64,
}

/// How much older than the read a file's modification time must be for its stamp to count.
const STAMP_SETTLED: Duration = Duration::from_secs(2);

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> Option<FileStamp> {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            len: meta.len(),
            modified: meta.modified().ok()?,
            inode,
        })
    }

    /// The stamp of a file read at `read_at`, if it can vouch for the file later.
    fn settled(self, read_at: SystemTime) -> Option<FileStamp> {
        let age = read_at.duration_since(self.modified).ok()?;
        (age >= STAMP_SETTLED).then_some(self)
    }
}

pub(super) enum Change {
    New,
    Changed,
    Same,
}

pub(super) fn load_version(
    name: &str,
    file: &Path,
    current: Option<&Arc<LoadedShim>>,
) -> Result<(Arc<LoadedShim>, Change), String> {
    // A FIFO would block the reload; a dangling link is reported, not skipped.
    shimkit_data::require_regular_file(file).map_err(|e| e.to_string())?;
    let meta = std::fs::metadata(file).map_err(|e| e.to_string())?;
    let stamp = FileStamp::of(&meta);
    if let Some(c) = current {
        let known = c.stamp.lock().unwrap_or_else(|p| p.into_inner());
        if known.is_some() && *known == stamp {
            return Ok((c.clone(), Change::Same));
        }
    }
    // Stat before the read: a write landing between the two leaves an older stamp, so the
    // next reload reads the file again rather than missing that write.
    let read_at = SystemTime::now();
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    let version = format!("{:016x}", fnv1a(&bytes));
    let stamp = stamp.and_then(|s| s.settled(read_at));
    if let Some(c) = current
        && c.version == version
    {
        *c.stamp.lock().unwrap_or_else(|p| p.into_inner()) = stamp;
        return Ok((c.clone(), Change::Same));
    }
    let shim = artifact::from_bytes(&bytes)?;
    let loaded = LoadedShim {
        name: name.to_owned(),
        shim,
        version,
        file: file.to_path_buf(),
        file_bytes: bytes.len() as u64,
        loaded_at: shimkit_trainer::now_rfc3339(),
        stamp: Mutex::new(stamp),
    };
    let change = if current.is_some() {
        Change::Changed
    } else {
        Change::New
    };
    Ok((Arc::new(loaded), change))
}
