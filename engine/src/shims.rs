//! The shims a session knows, by name, each with the artifact's bytes it came from.
//!
//! A shim travels by content: the bytes of its artifact and their version hash (the same
//! FNV-1a hex that `shimkit serve` reports), never a path, because an executor of a cluster
//! cannot read the client's files. Whoever receives a shim checks the hash before using it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use shimkit_trainer::{Shim, artifact, hash::fnv1a};

use crate::error::{EngineError, Result};

/// One registered shim.
#[derive(Debug)]
pub struct NamedShim {
    pub name: String,
    pub shim: Shim,
    /// FNV-1a of the artifact's bytes, in hex.
    pub version: String,
    /// The artifact itself, as it travels to executors.
    pub bytes: Vec<u8>,
    /// Whether outputs are L2-normalised (`project`'s default; `--no-normalize` clears it).
    pub normalize: bool,
}

/// An immutable set of named shims, cheap to clone into every function that needs it.
#[derive(Debug, Clone, Default)]
pub struct ShimSet {
    shims: Arc<BTreeMap<String, Arc<NamedShim>>>,
}

/// A shim's version: the hash its artifact's bytes must have.
pub fn version_of(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a(bytes))
}

impl ShimSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// This set and the shim in `bytes` under `name` (replacing one of that name).
    pub fn with_bytes(&self, name: &str, bytes: Vec<u8>, normalize: bool) -> Result<ShimSet> {
        if name.is_empty() {
            return Err(EngineError::Invalid {
                what: "shim name",
                message: "a shim's name is not empty".into(),
            });
        }
        let shim = artifact::from_bytes(&bytes).map_err(|message| EngineError::Shim {
            name: name.to_owned(),
            message,
        })?;
        let mut shims = (*self.shims).clone();
        shims.insert(
            name.to_owned(),
            Arc::new(NamedShim {
                name: name.to_owned(),
                version: version_of(&bytes),
                shim,
                bytes,
                normalize,
            }),
        );
        Ok(ShimSet {
            shims: Arc::new(shims),
        })
    }

    /// This set and the artifact at `path` under `name`.
    pub fn with_file(&self, name: &str, path: &Path, normalize: bool) -> Result<ShimSet> {
        let bytes = shimkit_data::read_regular(path)?;
        self.with_bytes(name, bytes, normalize)
            .map_err(|e| match e {
                EngineError::Shim { name, message } => EngineError::Shim {
                    name,
                    message: format!("{}: {message}", path.display()),
                },
                other => other,
            })
    }

    /// The shim of that name, or an error listing the names there are.
    pub fn get(&self, name: &str) -> Result<&Arc<NamedShim>> {
        self.shims
            .get(name)
            .ok_or_else(|| EngineError::UnknownShim {
                name: name.to_owned(),
                known: if self.shims.is_empty() {
                    "none".into()
                } else {
                    self.names().join(", ")
                },
            })
    }

    pub fn names(&self) -> Vec<String> {
        self.shims.keys().cloned().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<NamedShim>> {
        self.shims.values()
    }

    pub fn is_empty(&self) -> bool {
        self.shims.is_empty()
    }
}
