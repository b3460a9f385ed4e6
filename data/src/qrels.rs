//! Graded relevance judgements in the BEIR `qrels.tsv` layout.
//!
//! `query-id<TAB>corpus-id<TAB>score`, one judgement a line, after a header line. Scores
//! are integers (graded gains); rows with score 0 are kept as judged-not-relevant, as
//! pytrec_eval does. A negative grade is refused: some TREC tracks use -1 or -2 for spam,
//! and as a gain it would lower nDCG below what ranking the document last would give, so
//! the file must say what it means by mapping it to 0 or dropping the line. A UTF-8
//! byte-order mark at the start is skipped.

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
        let text = crate::regular::read_regular_text(path)?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let err = |line: usize, message: String| DataError::Line {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut order: Vec<(String, Vec<(String, i32)>)> = Vec::new();
        let mut position: std::collections::HashMap<String, usize> = Default::default();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        // Editors on Windows start UTF-8 files with a byte-order mark; it is not part of
        // the first query id (or of the header).
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
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
            if score < 0 {
                return Err(err(
                    line_no,
                    format!(
                        "score {score} is negative; grades are 0 (judged not relevant) or more"
                    ),
                ));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Qrels> {
        Qrels::parse(Path::new("qrels.tsv"), text)
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_an_id() {
        let q = parse("\u{feff}q1\td1\t2\nq2\td2\t1\n").unwrap();
        assert_eq!(q.queries[0].0, "q1");
        let q = parse("\u{feff}query-id\tcorpus-id\tscore\nq1\td1\t2\n").unwrap();
        assert_eq!(
            q.queries.len(),
            1,
            "the header is recognised behind the mark"
        );
        assert_eq!(q.queries[0].1, vec![("d1".to_owned(), 2)]);
    }

    #[test]
    fn a_negative_grade_is_refused_with_its_line() {
        let e = parse("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t-1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("negative"), "{e}");
        assert_eq!(parse("q1\td1\t0\n").unwrap().rows(), 1, "0 is a judgement");
    }
}
