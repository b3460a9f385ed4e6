//! Evaluation sets: the layout of `shared/data/<set>/`.
//!
//! ```text
//! DIR/MANIFEST.json              optional: source, licence, counts, models
//! DIR/corpus.<model>.parquet     id + embedding of every document, one file a model
//! DIR/queries.<model>.parquet    id + embedding of the test queries
//! DIR/qrels.tsv                  query-id, corpus-id, graded score
//! DIR/corpus.jsonl, queries.jsonl   the texts (BEIR), optional here
//! ```
//! A model is usable when it has both a corpus and a queries file. Every usable model must
//! embed the same document ids and the same query ids; [`EvalSet::check_coverage`] says
//! which ids one model lacks against another.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{DataError, Result};
use crate::qrels::Qrels;
use crate::reader::{ReadOptions, read_ids, read_table};
use crate::source::{Columns, TableSource};
use crate::table::EmbeddingTable;

/// The two embedded sides of an evaluation set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Corpus,
    Queries,
}

impl Split {
    pub fn file_name(self, model: &str) -> String {
        match self {
            Split::Corpus => format!("corpus.{model}.parquet"),
            Split::Queries => format!("queries.{model}.parquet"),
        }
    }
}

/// The files of one model in a set.
#[derive(Debug, Clone, Serialize)]
pub struct ModelFiles {
    pub name: String,
    pub corpus: Option<PathBuf>,
    pub queries: Option<PathBuf>,
}

/// An evaluation set on disk, its files located but not yet read.
#[derive(Debug, Clone)]
pub struct EvalSet {
    pub dir: PathBuf,
    /// Every model with at least one file, sorted by name.
    pub files: Vec<ModelFiles>,
    pub manifest: Option<serde_json::Value>,
    pub qrels_path: PathBuf,
    /// Layout problems that do not stop the usable models from being used.
    pub problems: Vec<String>,
}

/// What [`EvalSet::check_coverage`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub docs: usize,
    pub queries: usize,
    /// Judged query ids with no query embedding, and judged doc ids with no document.
    pub qrels_unknown_queries: usize,
    pub qrels_unknown_docs: usize,
    /// Queries that have an embedding but no judgement of grade ≥ 1.
    pub queries_without_relevant: usize,
}

impl EvalSet {
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let fail = |message: String| DataError::Dataset {
            path: dir.clone(),
            message,
        };
        if !dir.is_dir() {
            return Err(fail("not a directory (an evaluation set is a directory of corpus.<model>.parquet, queries.<model>.parquet and qrels.tsv)".into()));
        }
        let mut files: Vec<ModelFiles> = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| DataError::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| DataError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".parquet") else {
                continue;
            };
            let (split, model) = if let Some(m) = stem.strip_prefix("corpus.") {
                (Split::Corpus, m)
            } else if let Some(m) = stem.strip_prefix("queries.") {
                (Split::Queries, m)
            } else {
                continue;
            };
            if model.is_empty() {
                continue;
            }
            let slot = match files.iter().position(|f| f.name == model) {
                Some(i) => i,
                None => {
                    files.push(ModelFiles {
                        name: model.to_owned(),
                        corpus: None,
                        queries: None,
                    });
                    files.len() - 1
                }
            };
            match split {
                Split::Corpus => files[slot].corpus = Some(entry.path()),
                Split::Queries => files[slot].queries = Some(entry.path()),
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        if files.is_empty() {
            return Err(fail(
                "no corpus.<model>.parquet or queries.<model>.parquet files".into(),
            ));
        }
        let qrels_path = dir.join("qrels.tsv");
        if std::fs::symlink_metadata(&qrels_path).is_ok() {
            crate::regular::require_regular_file(&qrels_path)?;
        } else {
            return Err(fail(
                "no qrels.tsv: an evaluation set needs relevance judgements".into(),
            ));
        }
        let mut problems = Vec::new();
        for f in &files {
            for (split, have) in [(Split::Corpus, &f.corpus), (Split::Queries, &f.queries)] {
                if have.is_none() {
                    problems.push(format!(
                        "model {:?} has no {} (it is left out)",
                        f.name,
                        split.file_name(&f.name)
                    ));
                }
            }
        }
        let manifest_path = dir.join("MANIFEST.json");
        let manifest = if std::fs::symlink_metadata(&manifest_path).is_ok() {
            let text = crate::regular::read_regular_text(&manifest_path)?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| DataError::Json {
                    path: manifest_path.clone(),
                    source: e,
                })?;
            if let Some(models) = value.get("models").and_then(|m| m.as_object()) {
                for name in models.keys() {
                    if !files
                        .iter()
                        .any(|f| &f.name == name && f.corpus.is_some() && f.queries.is_some())
                    {
                        problems.push(format!(
                            "MANIFEST.json lists model {name:?} but {} or {} is missing",
                            Split::Corpus.file_name(name),
                            Split::Queries.file_name(name)
                        ));
                    }
                }
            }
            Some(value)
        } else {
            None
        };
        if !files
            .iter()
            .any(|f| f.corpus.is_some() && f.queries.is_some())
        {
            return Err(fail(format!(
                "no model has both a corpus and a queries file: {}",
                problems.join("; ")
            )));
        }
        Ok(EvalSet {
            dir,
            files,
            manifest,
            qrels_path,
            problems,
        })
    }

    /// Names of the models that have both a corpus and a queries file.
    pub fn models(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| f.corpus.is_some() && f.queries.is_some())
            .map(|f| f.name.clone())
            .collect()
    }

    /// The path of one model's corpus or queries file, or an error naming what exists.
    pub fn path(&self, model: &str, split: Split) -> Result<PathBuf> {
        let found = self.files.iter().find(|f| f.name == model);
        let path = found.and_then(|f| match split {
            Split::Corpus => f.corpus.clone(),
            Split::Queries => f.queries.clone(),
        });
        path.ok_or_else(|| DataError::Dataset {
            path: self.dir.clone(),
            message: match found {
                Some(_) => format!("model {model:?} has no {}", split.file_name(model)),
                None => format!(
                    "no model {model:?}; the set has: {}",
                    self.models().join(", ")
                ),
            },
        })
    }

    /// Reads one model's corpus or queries into memory.
    pub fn load(&self, model: &str, split: Split, options: &ReadOptions) -> Result<EmbeddingTable> {
        let path = self.path(model, split)?;
        read_table(&TableSource::new(&path)?, options)
    }

    pub fn qrels(&self) -> Result<Qrels> {
        Qrels::read(&self.qrels_path)
    }

    /// Checks that every usable model embeds the same documents and queries, and how the
    /// judgements match them. Reads ids only.
    pub fn check_coverage(&self, columns: &Columns) -> Result<Coverage> {
        let models = self.models();
        let mut reference: [Option<(String, HashSet<String>)>; 2] = [None, None];
        for model in &models {
            for (k, split) in [Split::Corpus, Split::Queries].into_iter().enumerate() {
                let path = self.path(model, split)?;
                let ids: HashSet<String> = read_ids(&TableSource::new(&path)?, columns)?
                    .into_iter()
                    .collect();
                match &reference[k] {
                    None => reference[k] = Some((model.clone(), ids)),
                    Some((ref_model, ref_ids)) => {
                        compare_ids(self, split, ref_model, ref_ids, model, &ids)?
                    }
                }
            }
        }
        let [Some((_, docs)), Some((_, queries))] = reference else {
            return Err(DataError::Dataset {
                path: self.dir.clone(),
                message: "no usable model".into(),
            });
        };
        let qrels = self.qrels()?;
        let mut unknown_docs = HashSet::new();
        let mut unknown_queries = 0;
        let mut with_relevant = HashSet::new();
        for (q, judged) in &qrels.queries {
            if !queries.contains(q) {
                unknown_queries += 1;
            }
            for (d, g) in judged {
                if !docs.contains(d) {
                    unknown_docs.insert(d.as_str());
                }
                if *g > 0 {
                    with_relevant.insert(q.as_str());
                }
            }
        }
        Ok(Coverage {
            docs: docs.len(),
            queries: queries.len(),
            qrels_unknown_queries: unknown_queries,
            qrels_unknown_docs: unknown_docs.len(),
            queries_without_relevant: queries
                .iter()
                .filter(|q| !with_relevant.contains(q.as_str()))
                .count(),
        })
    }
}

fn compare_ids(
    set: &EvalSet,
    split: Split,
    ref_model: &str,
    ref_ids: &HashSet<String>,
    model: &str,
    ids: &HashSet<String>,
) -> Result<()> {
    if ids == ref_ids {
        return Ok(());
    }
    let mut missing: Vec<&String> = ref_ids.difference(ids).collect();
    let mut extra: Vec<&String> = ids.difference(ref_ids).collect();
    missing.sort();
    extra.sort();
    let show = |v: &[&String]| {
        v.iter()
            .take(5)
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "lacks {} id(s) that {} has (e.g. {})",
            missing.len(),
            split.file_name(ref_model),
            show(&missing)
        ));
    }
    if !extra.is_empty() {
        parts.push(format!(
            "has {} id(s) that {} lacks (e.g. {})",
            extra.len(),
            split.file_name(ref_model),
            show(&extra)
        ));
    }
    Err(DataError::Dataset {
        path: set.dir.join(split.file_name(model)),
        message: format!(
            "model {model:?} does not cover the same ids: it {}",
            parts.join(" and ")
        ),
    })
}
