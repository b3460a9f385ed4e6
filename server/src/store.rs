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
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use shimkit_trainer::{Shim, artifact, hash::fnv1a};
use utoipa::ToSchema;

use crate::error::ApiError;

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

/// Size, modification time and inode: a reload that finds all three as they were skips
/// reading and hashing the file (which, for every file on every reload, made the p99 of
/// requests during reload churn 2.5 ms). File times are coarse (a few ms on ext4), so,
/// as git does with its index, a stamp is only trusted for a file last modified well
/// before it was read: a write within the same tick could otherwise go unseen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
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

/// An alias and the target it had before its last switch (what a rollback returns to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alias {
    pub target: String,
    pub previous: Option<String>,
}

/// A file that did not load, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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
    pub fn resolve(&self, name: &str) -> Result<Resolved, ApiError> {
        if let Some(shim) = self.shims.get(name) {
            return Ok(Resolved {
                shim: shim.clone(),
                alias: None,
            });
        }
        let alias = self
            .aliases
            .get(name)
            .ok_or_else(|| ApiError::NotFound(format!("no shim or alias named {name:?}")))?;
        let shim = self.shims.get(&alias.target).ok_or_else(|| {
            ApiError::NotFound(format!(
                "alias {name:?} points to {:?}, which is not loaded",
                alias.target
            ))
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
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, ToSchema)]
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
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct AliasChange {
    pub alias: String,
    pub target: String,
    pub previous: Option<String>,
    pub generation: u64,
}

/// Errors that stop a server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("shim directory {}: {source}", path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
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

    pub fn resolve(&self, name: &str) -> Result<Resolved, ApiError> {
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

    /// Points `alias` at the shim `target`, remembering the old target for a rollback.
    pub fn set_alias(&self, alias: &str, target: &str) -> Result<AliasChange, ApiError> {
        check_name("alias", alias)?;
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        if old.shims.contains_key(alias) {
            return Err(ApiError::Conflict(format!(
                "{alias:?} is a shim's name; an alias may not shadow it"
            )));
        }
        if !old.shims.contains_key(target) {
            return Err(ApiError::NotFound(format!(
                "no shim named {target:?} (an alias points at a shim, not at another alias)"
            )));
        }
        let next = match old.aliases.get(alias) {
            Some(a) if a.target == target => a.clone(),
            Some(a) => Alias {
                target: target.to_owned(),
                previous: Some(a.target.clone()),
            },
            None => Alias {
                target: target.to_owned(),
                previous: None,
            },
        };
        self.publish_alias(&old, alias, next)
    }

    /// Points `alias` back at its previous target (a second rollback undoes the first).
    pub fn rollback(&self, alias: &str) -> Result<AliasChange, ApiError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        let current = old
            .aliases
            .get(alias)
            .ok_or_else(|| ApiError::NotFound(format!("no alias named {alias:?}")))?;
        let previous = current.previous.clone().ok_or_else(|| {
            ApiError::Conflict(format!(
                "alias {alias:?} has never been switched: there is nothing to roll back to"
            ))
        })?;
        if !old.shims.contains_key(&previous) {
            return Err(ApiError::Conflict(format!(
                "alias {alias:?} would go back to {previous:?}, which is no longer loaded"
            )));
        }
        let next = Alias {
            target: previous,
            previous: Some(current.target.clone()),
        };
        self.publish_alias(&old, alias, next)
    }

    /// Persists the aliases with `alias` set to `next`, then publishes them. The file is
    /// written first, so a failed write changes nothing.
    fn publish_alias(
        &self,
        old: &Snapshot,
        alias: &str,
        next: Alias,
    ) -> Result<AliasChange, ApiError> {
        let mut aliases = old.aliases.clone();
        aliases.insert(alias.to_owned(), next.clone());
        let bytes = aliases_to_json(&aliases);
        shimkit_data::write_atomic(self.dir.join(ALIASES_FILE), bytes.as_bytes())
            .map_err(|e| ApiError::Internal(format!("could not save {ALIASES_FILE}: {e}")))?;
        let generation = old.generation + 1;
        self.current.store(Arc::new(Snapshot {
            shims: old.shims.clone(),
            aliases,
            generation,
            failures: old.failures.clone(),
        }));
        Ok(AliasChange {
            alias: alias.to_owned(),
            target: next.target,
            previous: next.previous,
            generation,
        })
    }

    /// `aliases.json` as it is on disk; none when it does not exist.
    fn aliases_on_disk(&self) -> Result<BTreeMap<String, Alias>, String> {
        let path = self.dir.join(ALIASES_FILE);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(BTreeMap::new());
        }
        let bytes = shimkit_data::read_regular(&path).map_err(|e| e.to_string())?;
        aliases_from_json(&bytes)
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

    /// The aliases of `aliases.json` that point at loaded shims. When the file cannot be
    /// read or parsed, the current aliases stay.
    fn read_aliases(
        &self,
        old: &Snapshot,
        shims: &BTreeMap<String, Arc<LoadedShim>>,
        report: &mut ReloadReport,
    ) -> BTreeMap<String, Alias> {
        let path = self.dir.join(ALIASES_FILE);
        let wanted = match self.aliases_on_disk() {
            Ok(a) => a,
            Err(error) => {
                report.failed.push(failure(&path, error));
                old.aliases.clone()
            }
        };
        let mut aliases = BTreeMap::new();
        for (name, alias) in wanted {
            let problem = if let Err(e) = check_name("alias", &name) {
                Some(e.to_string())
            } else if shims.contains_key(&name) {
                Some(format!("alias {name:?} has the name of a shim"))
            } else if !shims.contains_key(&alias.target) && !old.shims.contains_key(&alias.target) {
                Some(format!(
                    "alias {name:?} points to {:?}, which is not loaded",
                    alias.target
                ))
            } else {
                None
            };
            match problem {
                Some(error) => {
                    report.failed.push(failure(&path, error));
                    if let Some(a) = old.aliases.get(&name) {
                        aliases.insert(name, a.clone());
                    }
                }
                None => {
                    aliases.insert(name, alias);
                }
            }
        }
        aliases
    }
}

enum Change {
    New,
    Changed,
    Same,
}

fn load_version(
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
        loaded_at: artifact::now_rfc3339(),
        stamp: Mutex::new(stamp),
    };
    let change = if current.is_some() {
        Change::Changed
    } else {
        Change::New
    };
    Ok((Arc::new(loaded), change))
}

fn file_name(file: &Path) -> Result<String, String> {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| "the file name is not UTF-8".to_owned())?;
    check_name("shim", stem).map_err(|e| e.to_string())?;
    Ok(stem.to_owned())
}

fn failure(file: &Path, error: String) -> LoadFailure {
    LoadFailure {
        file: file.display().to_string(),
        error,
    }
}

/// Shim and alias names: 1 to 128 of `A-Z a-z 0-9 . _ -`, not starting with a dot. No name
/// can hold a path separator or be `..`, so no name reaches outside the directory.
pub fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "{what} name {name:?} is not valid: use 1 to 128 of A-Z a-z 0-9 . _ -, not starting with a dot"
        )))
    }
}

/// `aliases.json`: `{"prod": "bridge-v2"}`, or, once an alias has been switched,
/// `{"prod": {"target": "bridge-v2", "previous": "bridge-v1"}}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum AliasOnDisk {
    Target(String),
    Full {
        target: String,
        #[serde(default)]
        previous: Option<String>,
    },
}

fn aliases_from_json(bytes: &[u8]) -> Result<BTreeMap<String, Alias>, String> {
    let raw: BTreeMap<String, AliasOnDisk> = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "not an alias map ({e}); expected {{\"alias\": \"shim\"}} or {{\"alias\": {{\"target\": \"shim\", \"previous\": \"shim\"}}}}"
        )
    })?;
    Ok(raw
        .into_iter()
        .map(|(name, a)| {
            let alias = match a {
                AliasOnDisk::Target(target) => Alias {
                    target,
                    previous: None,
                },
                AliasOnDisk::Full { target, previous } => Alias { target, previous },
            };
            (name, alias)
        })
        .collect())
}

fn aliases_to_json(aliases: &BTreeMap<String, Alias>) -> String {
    let value: serde_json::Map<String, serde_json::Value> = aliases
        .iter()
        .map(|(name, a)| {
            let v = match &a.previous {
                None => serde_json::Value::String(a.target.clone()),
                Some(p) => serde_json::json!({"target": a.target, "previous": p}),
            };
            (name.clone(), v)
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&value).expect("a map of strings serialises");
    s.push('\n');
    s
}
