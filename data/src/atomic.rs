//! Files and directories that appear whole or not at all, and the temporaries they leave.
//!
//! Output goes to a hidden temporary beside the destination (so the final `rename` never
//! crosses a filesystem), is flushed to disk, and is renamed over the destination only
//! when complete. Dropping an unfinished [`AtomicFile`] removes its temporary.
//!
//! Every temporary is also recorded in a process-wide list, so that a signal handler can
//! remove them all before the process exits ([`remove_pending`]): Ctrl-C or SIGTERM in the
//! middle of a 10 GB projection leaves nothing behind. A process killed outright (SIGKILL,
//! a power cut) cannot clean up; its temporaries carry its process id
//! (`.NAME.PID.N.tmp`, `.NAME.tmp-PID`), and the next run that writes the same destination
//! removes those whose process no longer runs ([`remove_stale`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{DataError, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Temporaries this process has made and not yet committed or removed.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Forgets a temporary that was committed or removed.
pub(crate) fn untrack(list: &mut Vec<PathBuf>, path: &Path) {
    list.retain(|p| p != path);
}

/// Runs `f` with the list locked: a commit that renames a temporary into place holds the
/// lock, so a signal handler never removes a file that is being renamed.
pub(crate) fn with_pending<T>(f: impl FnOnce(&mut Vec<PathBuf>) -> T) -> T {
    f(&mut pending())
}

/// Removes every temporary this process still has (files and staging directories) and
/// returns them. For signal handlers: call it, then exit. The list stays locked afterwards,
/// so no commit can start between the cleanup and the exit.
pub fn remove_pending() -> Vec<PathBuf> {
    let mut list = pending();
    let removed: Vec<PathBuf> = list.drain(..).collect();
    for path in &removed {
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        };
    }
    // Keep the lock until the process exits.
    std::mem::forget(list);
    removed
}

/// A file being written under a temporary name.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file next to `dest`; returns the guard and the open file.
    /// Stale temporaries of `dest` left by dead processes are removed first.
    pub fn create(dest: impl AsRef<Path>) -> Result<(Self, File)> {
        let dest = dest.as_ref().to_path_buf();
        check_parent(&dest)?;
        remove_stale(&dest);
        let tmp = temp_sibling(&dest);
        let file = with_pending(|list| {
            let file = File::create(&tmp);
            if file.is_ok() {
                list.push(tmp.clone());
            }
            file
        })
        .map_err(|e| DataError::io(&dest, e))?;
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
        file.sync_all().map_err(|e| DataError::io(&self.dest, e))?;
        drop(file);
        with_pending(|list| {
            std::fs::rename(&self.tmp, &self.dest).map_err(|e| DataError::io(&self.dest, e))?;
            untrack(list, &self.tmp);
            Ok::<_, DataError>(())
        })?;
        self.committed = true;
        sync_dir(&self.dest);
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            with_pending(|list| {
                let _ = std::fs::remove_file(&self.tmp);
                untrack(list, &self.tmp);
            });
        }
    }
}

/// Makes a rename in `path`'s directory durable; a failure is not worth failing the write.
pub(crate) fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let (guard, mut file) = AtomicFile::create(dest)?;
    file.write_all(bytes)
        .map_err(|e| DataError::io(&guard.dest, e))?;
    guard.commit(file)
}

/// `dir/.name.<pid>.<n>.tmp` beside `dest`.
pub fn temp_sibling(dest: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(".{}.{}.{n}.tmp", file_name(dest), std::process::id());
    match dest.parent() {
        Some(dir) => dir.join(tmp_name),
        None => PathBuf::from(tmp_name),
    }
}

fn file_name(dest: &Path) -> String {
    dest.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into())
}

/// The destination's directory must exist: the error names the user's path, not the
/// hidden temporary's.
pub(crate) fn check_parent(dest: &Path) -> Result<()> {
    let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(DataError::Invalid {
            what: "output",
            message: format!(
                "cannot write {}: {} is not a directory",
                dest.display(),
                dir.display()
            ),
        }),
        Err(_) => Err(DataError::Invalid {
            what: "output",
            message: format!(
                "cannot write {}: the directory {} does not exist",
                dest.display(),
                dir.display()
            ),
        }),
    }
}

/// A hidden sibling directory that replaces `out` whole on [`commit`](StagingDir::commit),
/// or disappears: the staging area of outputs made of several files (`shimkit gen`).
#[derive(Debug)]
pub struct StagingDir {
    path: PathBuf,
    out: PathBuf,
    committed: bool,
}

impl StagingDir {
    /// Creates `.NAME.tmp-PID` beside `out` (and `out`'s parent directories). Deciding
    /// whether `out` may be replaced is the caller's business.
    pub fn create(out: &Path) -> Result<Self> {
        let name = file_name(out);
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
        remove_stale(out);
        let path = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| DataError::io(&path, e))?;
        }
        with_pending(|list| {
            std::fs::create_dir(&path)?;
            list.push(path.clone());
            Ok(())
        })
        .map_err(|e: std::io::Error| DataError::io(out, e))?;
        Ok(StagingDir {
            path,
            out: out.to_path_buf(),
            committed: false,
        })
    }

    /// Where to write the files.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Puts the staged directory in `out`'s place. On Linux an existing `out` is swapped
    /// with it in one `renameat2(RENAME_EXCHANGE)`, so there is no moment at which `out`
    /// is missing; the old contents are then removed. Elsewhere the old `out` is moved
    /// aside first.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.clone();
        with_pending(|list| {
            if std::fs::symlink_metadata(&out).is_ok() {
                if !exchange(&self.path, &out)? {
                    let aside = self.path.with_file_name(format!(
                        "{}.old",
                        self.path.file_name().unwrap_or_default().to_string_lossy()
                    ));
                    std::fs::rename(&out, &aside).map_err(|e| DataError::io(&out, e))?;
                    std::fs::rename(&self.path, &out).map_err(|e| DataError::io(&out, e))?;
                    let _ = std::fs::remove_dir_all(&aside);
                    untrack(list, &self.path);
                    return Ok(());
                }
                // `self.path` now holds the old contents.
                let _ = std::fs::remove_dir_all(&self.path);
            } else {
                std::fs::rename(&self.path, &out).map_err(|e| DataError::io(&out, e))?;
            }
            untrack(list, &self.path);
            Ok::<_, DataError>(())
        })?;
        self.committed = true;
        sync_dir(&out);
        Ok(())
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.committed {
            with_pending(|list| {
                let _ = std::fs::remove_dir_all(&self.path);
                untrack(list, &self.path);
            });
        }
    }
}

/// Swaps two paths atomically; `Ok(false)` where the platform cannot.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| DataError::Invalid {
            what: "path",
            message: format!("{} holds a NUL byte", p.display()),
        })
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them as `rename` does.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    // Filesystems without the flag answer EINVAL; old kernels ENOSYS.
    if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
        return Ok(false);
    }
    Err(DataError::io(b, e))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_: &Path, _: &Path) -> Result<bool> {
    Ok(false)
}

/// Removes the temporaries of `dest` (`.NAME.PID.N.tmp` files, `.NAME.tmp-PID` staging
/// directories and their `.old` leftovers) whose process no longer runs, saying so in a
/// warning. Temporaries of live processes, and anything else, are left alone.
pub fn remove_stale(dest: &Path) -> Vec<PathBuf> {
    let name = file_name(dest);
    let dir = match dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = stale_pid(&entry_name, &name) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) != Some(false) {
            continue;
        }
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let result = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if result.is_ok() {
            tracing::warn!(
                "removed {}: a temporary left by process {pid}, which no longer runs (an interrupted run writing {})",
                path.display(),
                dest.display()
            );
            removed.push(path);
        }
    }
    removed
}

/// The process id in a temporary's name for destination `name`, if it is one.
fn stale_pid(entry: &str, name: &str) -> Option<u32> {
    let rest = entry.strip_prefix('.')?.strip_prefix(name)?;
    // `.NAME.PID.N.tmp`
    if let Some(inner) = rest.strip_prefix('.').and_then(|r| r.strip_suffix(".tmp")) {
        let (pid, n) = inner.split_once('.')?;
        n.parse::<u64>().ok()?;
        return pid.parse().ok();
    }
    // `.NAME.tmp-PID` and `.NAME.tmp-PID.old`
    let pid = rest.strip_prefix(".tmp-")?;
    let pid = pid.strip_suffix(".old").unwrap_or(pid);
    pid.parse().ok()
}

/// Whether a process runs: `None` where this platform cannot tell (nothing is removed).
fn process_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        Some(Path::new("/proc").join(pid.to_string()).exists())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_are_recognised_by_name() {
        assert_eq!(
            stale_pid(".out.parquet.123.0.tmp", "out.parquet"),
            Some(123)
        );
        assert_eq!(stale_pid(".set.tmp-77", "set"), Some(77));
        assert_eq!(stale_pid(".set.tmp-77.old", "set"), Some(77));
        assert_eq!(stale_pid(".out.parquet.x.0.tmp", "out.parquet"), None);
        assert_eq!(stale_pid(".other.parquet.123.0.tmp", "out.parquet"), None);
        assert_eq!(stale_pid("out.parquet", "out.parquet"), None);
        assert_eq!(stale_pid(".out.parquet.123.0.tmp", "out"), None);
    }

    #[test]
    fn stale_temporaries_of_dead_processes_go_and_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.parquet");
        // A pid above the kernel's limit never runs; our own pid does.
        let dead = dir.path().join(".out.parquet.4194305.0.tmp");
        let live = dir
            .path()
            .join(format!(".out.parquet.{}.99.tmp", std::process::id()));
        let other = dir.path().join(".notes.4194305.0.tmp");
        let staging = dir.path().join(".out.parquet.tmp-4194305");
        for f in [&dead, &live, &other] {
            std::fs::write(f, b"x").unwrap();
        }
        std::fs::create_dir(&staging).unwrap();
        std::fs::write(staging.join("qrels.tsv"), b"x").unwrap();
        let removed = remove_stale(&dest);
        if process_alive(1).is_none() {
            assert!(removed.is_empty(), "no removal where liveness is unknown");
            return;
        }
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(!dead.exists() && !staging.exists());
        assert!(live.exists() && other.exists());
    }

    #[test]
    fn a_missing_directory_is_named_by_the_users_path() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("missing").join("out.parquet");
        let e = write_atomic(&dest, b"x").unwrap_err().to_string();
        assert!(
            e.contains(&dest.display().to_string()) && e.contains("does not exist"),
            "{e}"
        );
        assert!(
            !e.contains(".out.parquet."),
            "the hidden temporary is named: {e}"
        );
    }

    #[test]
    fn committed_and_dropped_temporaries_leave_the_list() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.bin");
        let (guard, file) = AtomicFile::create(&dest).unwrap();
        let tmp = guard.tmp.clone();
        assert!(with_pending(|l| l.contains(&tmp)));
        guard.commit(file).unwrap();
        assert!(!with_pending(|l| l.contains(&tmp)));
        let (guard, _file) = AtomicFile::create(dir.path().join("b.bin")).unwrap();
        let tmp = guard.tmp.clone();
        drop(guard);
        assert!(!tmp.exists() && !with_pending(|l| l.contains(&tmp)));
    }
}
