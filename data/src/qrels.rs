//! Graded relevance judgements in the BEIR `qrels.tsv` layout.
//!
//! `query-id<TAB>corpus-id<TAB>score`, one judgement a line, after a header line. Scores
//! are integers (graded gains); rows with score 0 are kept as judged-not-relevant, as
//! pytrec_eval does.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// Judgements grouped by query, in the order queries first appear in the file.
#[derive(Debug, Clone, Default)]
pub struct Qrels {
    pub path: PathBuf,
    /// (query id, [(doc id, grade)]) in file order.
    pub queries: Vec<(String, Vec<(String, i32)>)>,
}

impl Qrels {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let err = |line: usize, message: String| DataError::Qrels {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut order: Vec<(String, Vec<(String, i32)>)> = Vec::new();
        let mut position: std::collections::HashMap<String, usize> = Default::default();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        for (n, raw) in text.lines().enumerate() {
            let line_no = n + 1;
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            if n == 0 && fields.first().is_some_and(|f| f.trim() == "query-id") {
                continue;
            }
            // TREC files carry an unused iteration column: query, 0, doc, score.
            let (q, d, s) = match fields.as_slice() {
                [q, d, s] => (*q, *d, *s),
                [q, _, d, s] => (*q, *d, *s),
                _ => {
                    return Err(err(
                        line_no,
                        format!(
                            "expected 3 tab-separated fields (query-id, corpus-id, score), found {}",
                            fields.len()
                        ),
                    ));
                }
            };
            let (q, d) = (q.trim(), d.trim());
            if q.is_empty() || d.is_empty() {
                return Err(err(line_no, "empty query-id or corpus-id".into()));
            }
            let score: i32 = s.trim().parse().map_err(|_| {
                err(
                    line_no,
                    format!("score {:?} is not an integer grade", s.trim()),
                )
            })?;
            if !seen.insert((q.to_owned(), d.to_owned())) {
                return Err(err(
                    line_no,
                    format!("query {q:?} judges document {d:?} twice"),
                ));
            }
            let slot = *position.entry(q.to_owned()).or_insert_with(|| {
                order.push((q.to_owned(), Vec::new()));
                order.len() - 1
            });
            order[slot].1.push((d.to_owned(), score));
        }
        if order.is_empty() {
            return Err(err(0, "no judgements".into()));
        }
        Ok(Qrels {
            path: path.to_path_buf(),
            queries: order,
        })
    }

    /// Number of judgement rows.
    pub fn rows(&self) -> usize {
        self.queries.iter().map(|(_, d)| d.len()).sum()
    }

    /// Judgement rows per grade.
    pub fn grade_counts(&self) -> BTreeMap<i32, usize> {
        let mut counts = BTreeMap::new();
        for (_, docs) in &self.queries {
            for (_, g) in docs {
                *counts.entry(*g).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Queries with at least one judgement of grade ≥ 1.
    pub fn queries_with_relevant(&self) -> usize {
        self.queries
            .iter()
            .filter(|(_, d)| d.iter().any(|(_, g)| *g > 0))
            .count()
    }
}
