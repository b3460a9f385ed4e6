//! The shims a server holds: every artifact in one directory, the aliases over them, and
//! the swaps between versions.
//!
//! Shims and aliases share one namespace, and a name keeps the meaning it has: a new shim
//! file named like a live alias is not loaded (and is reported), and a new alias may not
//! take a loaded shim's name. When the server starts, files load before `aliases.json`, so
//! there a file wins.
//!
//! The whole state is one immutable [`Snapshot`] behind an [`ArcSwap`]. A request loads the
//! snapshot once and keeps an `Arc` to the one shim it resolved, so a swap in the middle of
//! a request cannot mix two versions, and readers never wait on a writer. Writers (reload,
//! alias switch, rollback) take one mutex, build the next snapshot beside the current one,
//! persist what must survive a restart, and only then publish it with a single store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Serialize;
use shimkit_trainer::Shim;

mod aliases;
mod version;

use version::{Change, FileStamp, load_version};

/// The file in the shim directory that maps alias names to shim names.
pub const ALIASES_FILE: &str = "aliases.json";
const SHIM_EXTENSION: &str = "safetensors";

/// One loaded version of one shim file.
#[derive(Debug)]
pub struct LoadedShim {
    /// The file stem.
    pub name: String,
    pub shim: Shim,
    /// A hash of the file's bytes: the same bytes are the same version.
    pub version: String,
    pub file: PathBuf,
    pub file_bytes: u64,
    /// RFC 3339, UTC.
    pub loaded_at: String,
    /// The file as it was last read, when that is enough to know it unchanged later
    /// (updated by reloads that find the same bytes).
    stamp: Mutex<Option<FileStamp>>,
}

/// An alias and the target it had before its last switch (what a rollback returns to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alias {
    pub target: String,
    pub previous: Option<String>,
}

/// A file that did not load, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadFailure {
    pub file: String,
    pub error: String,
}

/// Everything being served, as one value.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub shims: BTreeMap<String, Arc<LoadedShim>>,
    pub aliases: BTreeMap<String, Alias>,
    /// Bumped by every published change.
    pub generation: u64,
    /// What the latest reload could not load (the old versions of those files keep serving).
    pub failures: Vec<LoadFailure>,
}

/// A request's shim, resolved from a shim name or an alias.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub shim: Arc<LoadedShim>,
    /// The alias the request named, if it named one.
    pub alias: Option<String>,
}

impl Snapshot {
    pub fn resolve(&self, name: &str) -> Result<Resolved, StoreError> {
        if let Some(shim) = self.shims.get(name) {
            return Ok(Resolved {
                shim: shim.clone(),
                alias: None,
            });
        }
        let alias = self
            .aliases
            .get(name)
            .ok_or_else(|| StoreError::NoSuchName {
                name: name.to_owned(),
            })?;
        let shim = self
            .shims
            .get(&alias.target)
            .ok_or_else(|| StoreError::TargetNotLoaded {
                alias: name.to_owned(),
                target: alias.target.clone(),
            })?;
        Ok(Resolved {
            shim: shim.clone(),
            alias: Some(name.to_owned()),
        })
    }

    /// The aliases that point at `shim`.
    pub fn aliases_of(&self, shim: &str) -> Vec<String> {
        self.aliases
            .iter()
            .filter(|(_, a)| a.target == shim)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// What a reload did, file by file.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReloadReport {
    pub generation: u64,
    /// Files seen for the first time.
    pub loaded: Vec<String>,
    /// Files whose bytes changed: the new version now serves.
    pub reloaded: Vec<String>,
    pub unchanged: Vec<String>,
    /// Shims whose file is gone and that no alias points to: no longer served.
    pub removed: Vec<String>,
    /// Shims whose file is gone but that an alias still points to: still served from
    /// memory until the alias moves.
    pub kept: Vec<String>,
    /// Files (or `aliases.json` entries) that failed; what they replace keeps serving.
    pub failed: Vec<LoadFailure>,
}

/// An alias after a switch or a rollback.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AliasChange {
    pub alias: String,
    pub target: String,
    pub previous: Option<String>,
    pub generation: u64,
}

/// What the store could not do. Free of HTTP: the API maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The shim directory cannot be read: the server cannot start or reload.
    #[error("shim directory {}: {source}", path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no shim or alias named {name:?}")]
    NoSuchName { name: String },
    #[error("alias {alias:?} points to {target:?}, which is not loaded")]
    TargetNotLoaded { alias: String, target: String },
    #[error("no shim named {name:?} (an alias points at a shim, not at another alias)")]
    NoSuchShim { name: String },
    #[error("no alias named {name:?}")]
    NoSuchAlias { name: String },
    #[error("{alias:?} is a shim's name; an alias may not shadow it")]
    ShadowsShim { alias: String },
    #[error("alias {alias:?} has never been switched: there is nothing to roll back to")]
    NothingToRollBack { alias: String },
    #[error("alias {alias:?} would go back to {previous:?}, which is no longer loaded")]
    PreviousNotLoaded { alias: String, previous: String },
    #[error(
        "{what} name {name:?} is not valid: use 1 to 128 of A-Z a-z 0-9 . _ -, not starting with a dot"
    )]
    InvalidName { what: &'static str, name: String },
    /// `aliases.json` could not be written; nothing changed.
    #[error("could not save {file}: {message}")]
    Persist { file: String, message: String },
}

/// The served shims and aliases of one directory.
#[derive(Debug)]
pub struct ShimStore {
    dir: PathBuf,
    current: ArcSwap<Snapshot>,
    /// Serialises the writers; readers never take it.
    writer: Mutex<()>,
}

impl ShimStore {
    /// Loads every shim in `dir`. Files that fail are in the report, not an error: a server
    /// with one broken file still serves the others.
    pub fn open(dir: impl Into<PathBuf>) -> Result<(Self, ReloadReport), StoreError> {
        let dir = dir.into();
        let meta = std::fs::metadata(&dir).map_err(|source| StoreError::Dir {
            path: dir.clone(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(StoreError::Dir {
                path: dir,
                source: std::io::Error::other("not a directory"),
            });
        }
        let store = ShimStore {
            dir,
            current: ArcSwap::from_pointee(Snapshot::default()),
            writer: Mutex::new(()),
        };
        let report = store.reload()?;
        Ok((store, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current state; cheap, and consistent for as long as it is held.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn resolve(&self, name: &str) -> Result<Resolved, StoreError> {
        self.current.load().resolve(name)
    }

    /// Rescans the directory: new files load, changed files reload, files that fail keep
    /// their old version serving, and `aliases.json` is read again.
    pub fn reload(&self) -> Result<ReloadReport, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        let mut report = ReloadReport::default();
        let mut shims = BTreeMap::new();
        // The aliases `aliases.json` keeps (all of the current ones if it cannot be read).
        let staying_aliases: Vec<String> = match self.aliases_on_disk() {
            Ok(a) => a.into_keys().collect(),
            Err(_) => old.aliases.keys().cloned().collect(),
        };
        for file in self.shim_files()? {
            let name = match file_name(&file) {
                Ok(name) => name,
                Err(error) => {
                    report.failed.push(failure(&file, error));
                    continue;
                }
            };
            // A name is a shim's or an alias's, and keeps the meaning it has: a new file
            // named like a live alias would silently take that alias's traffic.
            if old.aliases.contains_key(&name)
                && staying_aliases.contains(&name)
                && !old.shims.contains_key(&name)
            {
                report.failed.push(failure(
                    &file,
                    format!(
                        "alias {name:?} already has this name; the file is not served (rename it, or remove the alias first)"
                    ),
                ));
                continue;
            }
            match load_version(&name, &file, old.shims.get(&name)) {
                Ok((shim, change)) => {
                    match change {
                        Change::New => report.loaded.push(name.clone()),
                        Change::Changed => report.reloaded.push(name.clone()),
                        Change::Same => report.unchanged.push(name.clone()),
                    }
                    shims.insert(name, shim);
                }
                Err(error) => {
                    report.failed.push(failure(&file, error));
                    if let Some(previous) = old.shims.get(&name) {
                        shims.insert(name, previous.clone());
                    }
                }
            }
        }
        let aliases = self.read_aliases(&old, &shims, &mut report);
        // A removed file's shim stays while an alias points to it, so deleting a file never
        // breaks a live alias.
        for (name, shim) in &old.shims {
            if !shims.contains_key(name) {
                if aliases.values().any(|a| &a.target == name) {
                    report.kept.push(name.clone());
                    shims.insert(name.clone(), shim.clone());
                } else {
                    report.removed.push(name.clone());
                }
            }
        }
        report.generation = old.generation + 1;
        self.current.store(Arc::new(Snapshot {
            shims,
            aliases,
            generation: report.generation,
            failures: report.failed.clone(),
        }));
        Ok(report)
    }

    fn shim_files(&self) -> Result<Vec<PathBuf>, StoreError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| StoreError::Dir {
            path: self.dir.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|e| e == SHIM_EXTENSION)
                    // Hidden files are other tools' temporaries (shimkit writes `.name.tmp`).
                    && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        Ok(files)
    }
}

pub(super) fn file_name(file: &Path) -> Result<String, String> {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| "the file name is not UTF-8".to_owned())?;
    check_name("shim", stem).map_err(|e| e.to_string())?;
    Ok(stem.to_owned())
}

pub(super) fn failure(file: &Path, error: String) -> LoadFailure {
    LoadFailure {
        file: file.display().to_string(),
        error,
    }
}

/// Shim and alias names: 1 to 128 of `A-Z a-z 0-9 . _ -`, not starting with a dot. No name
/// can hold a path separator or be `..`, so no name reaches outside the directory.
pub fn check_name(what: &'static str, name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName {
            what,
            name: name.to_owned(),
        })
    }
}
