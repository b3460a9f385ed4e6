//! Aliases: `aliases.json` on disk, switches and rollbacks.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::{
    ALIASES_FILE, Alias, AliasChange, LoadedShim, ReloadReport, ShimStore, Snapshot, StoreError,
    check_name, failure,
};

impl ShimStore {
    /// Points `alias` at the shim `target`, remembering the old target for a rollback.
    pub fn set_alias(&self, alias: &str, target: &str) -> Result<AliasChange, StoreError> {
        check_name("alias", alias)?;
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        if old.shims.contains_key(alias) {
            return Err(StoreError::ShadowsShim {
                alias: alias.to_owned(),
            });
        }
        if !old.shims.contains_key(target) {
            return Err(StoreError::NoSuchShim {
                name: target.to_owned(),
            });
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
    pub fn rollback(&self, alias: &str) -> Result<AliasChange, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current.load_full();
        let current = old
            .aliases
            .get(alias)
            .ok_or_else(|| StoreError::NoSuchAlias {
                name: alias.to_owned(),
            })?;
        let previous = current
            .previous
            .clone()
            .ok_or_else(|| StoreError::NothingToRollBack {
                alias: alias.to_owned(),
            })?;
        if !old.shims.contains_key(&previous) {
            return Err(StoreError::PreviousNotLoaded {
                alias: alias.to_owned(),
                previous,
            });
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
    ) -> Result<AliasChange, StoreError> {
        let mut aliases = old.aliases.clone();
        aliases.insert(alias.to_owned(), next.clone());
        let bytes = aliases_to_json(&aliases);
        shimkit_data::write_atomic(self.dir.join(ALIASES_FILE), bytes.as_bytes()).map_err(|e| {
            StoreError::Persist {
                file: ALIASES_FILE.to_owned(),
                message: e.to_string(),
            }
        })?;
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
    pub(super) fn aliases_on_disk(&self) -> Result<BTreeMap<String, Alias>, String> {
        let path = self.dir.join(ALIASES_FILE);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(BTreeMap::new());
        }
        let bytes = shimkit_data::read_regular(&path).map_err(|e| e.to_string())?;
        aliases_from_json(&bytes)
    }

    /// The aliases of `aliases.json` that point at loaded shims. When the file cannot be
    /// read or parsed, the current aliases stay.
    pub(super) fn read_aliases(
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
