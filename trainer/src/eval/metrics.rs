//! Retrieval metrics, as BEIR computes them with pytrec_eval.
//!
//! - nDCG@k: gain = the judged grade (linear, not 2^g − 1), discount log2(rank + 1); the
//!   ideal DCG sorts *every* judged document of the query, found in the corpus or not.
//! - Recall@k: relevant documents (grade ≥ 1) in the top k over all relevant judged ones.
//! - MRR@k: 1 / rank of the first relevant document in the top k, 0 if none.
//! - overlap@k: shared documents between a ranking's top k and a reference's top k, over k.
//!
//! A judged document missing from the corpus still counts in the ideal DCG and in the
//! recall denominator, as in pytrec_eval, so a corpus that lacks relevant documents scores
//! lower rather than being flattered.

use std::collections::HashMap;

use crate::eval::search::Hit;

/// One query's judgements, resolved against the corpus.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    /// Grade of each judged document that is in the corpus, by document index.
    pub grades: HashMap<u32, i32>,
    /// Every judged grade ≥ 1, in the corpus or not, best first.
    pub relevant_grades: Vec<i32>,
}

impl Judged {
    /// `judgements` are (document index if the corpus has it, grade).
    pub fn new(judgements: impl IntoIterator<Item = (Option<u32>, i32)>) -> Self {
        let mut grades = HashMap::new();
        let mut relevant_grades = Vec::new();
        for (doc, grade) in judgements {
            if let Some(doc) = doc {
                grades.insert(doc, grade);
            }
            if grade >= 1 {
                relevant_grades.push(grade);
            }
        }
        relevant_grades.sort_unstable_by(|a, b| b.cmp(a));
        Judged {
            grades,
            relevant_grades,
        }
    }

    /// Whether the query can be scored: it has at least one relevant document.
    pub fn has_relevant(&self) -> bool {
        !self.relevant_grades.is_empty()
    }

    fn grade(&self, doc: u32) -> i32 {
        self.grades.get(&doc).copied().unwrap_or(0)
    }
}

/// A query's scores on one ranking.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueryScores {
    pub ndcg: f64,
    pub recall: f64,
    pub recall_100: f64,
    pub mrr: f64,
    pub overlap: f64,
}

fn discount(rank0: usize) -> f64 {
    ((rank0 + 2) as f64).log2()
}

pub fn ndcg_at(ranking: &[Hit], judged: &Judged, k: usize) -> f64 {
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, h)| judged.grade(h.doc).max(0) as f64 / discount(r))
        .sum();
    let ideal: f64 = judged
        .relevant_grades
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, &g)| g as f64 / discount(r))
        .sum();
    if ideal > 0.0 { dcg / ideal } else { 0.0 }
}

pub fn recall_at(ranking: &[Hit], judged: &Judged, k: usize) -> f64 {
    if judged.relevant_grades.is_empty() {
        return 0.0;
    }
    let found = ranking
        .iter()
        .take(k)
        .filter(|h| judged.grade(h.doc) >= 1)
        .count();
    found as f64 / judged.relevant_grades.len() as f64
}

pub fn mrr_at(ranking: &[Hit], judged: &Judged, k: usize) -> f64 {
    ranking
        .iter()
        .take(k)
        .position(|h| judged.grade(h.doc) >= 1)
        .map_or(0.0, |r| 1.0 / (r + 1) as f64)
}

pub fn overlap_at(ranking: &[Hit], reference: &[Hit], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    let top: Vec<u32> = reference.iter().take(k).map(|h| h.doc).collect();
    let shared = ranking
        .iter()
        .take(k)
        .filter(|h| top.contains(&h.doc))
        .count();
    shared as f64 / k as f64
}

/// Every metric of one query's ranking; `reference` is the full re-embed's ranking.
pub fn score_query(ranking: &[Hit], reference: &[Hit], judged: &Judged, k: usize) -> QueryScores {
    QueryScores {
        ndcg: ndcg_at(ranking, judged, k),
        recall: recall_at(ranking, judged, k),
        recall_100: recall_at(ranking, judged, 100),
        mrr: mrr_at(ranking, judged, k),
        overlap: overlap_at(ranking, reference, k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking(docs: &[u32]) -> Vec<Hit> {
        docs.iter()
            .enumerate()
            .map(|(i, &doc)| Hit {
                doc,
                score: 1.0 - i as f32 * 0.01,
            })
            .collect()
    }

    #[test]
    fn ndcg_with_graded_linear_gains_by_hand() {
        // Judged: doc 1 grade 3, doc 2 grade 1, doc 9 grade 2 (not in the corpus).
        let judged = Judged::new([(Some(1), 3), (Some(2), 1), (None, 2)]);
        // Ranking 5, 2, 1: DCG = 0 + 1/log2(3) + 3/log2(4) = 0.630930 + 1.5.
        // Ideal 3, 2, 1:   3/1 + 2/log2(3) + 1/log2(4) = 3 + 1.261860 + 0.5.
        let got = ndcg_at(&ranking(&[5, 2, 1]), &judged, 10);
        let want = (1.0 / 3f64.log2() + 1.5) / (3.0 + 2.0 / 3f64.log2() + 0.5);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // The cut: at k = 2 only doc 2 counts, and the ideal is cut at 2 too.
        let got2 = ndcg_at(&ranking(&[5, 2, 1]), &judged, 2);
        let want2 = (1.0 / 3f64.log2()) / (3.0 + 2.0 / 3f64.log2());
        assert!((got2 - want2).abs() < 1e-12);
    }

    #[test]
    fn recall_counts_relevant_documents_missing_from_the_corpus() {
        let judged = Judged::new([(Some(1), 3), (Some(2), 0), (None, 2)]);
        assert_eq!(recall_at(&ranking(&[2, 1]), &judged, 10), 0.5);
        assert_eq!(recall_at(&ranking(&[2, 1]), &judged, 1), 0.0);
    }

    #[test]
    fn mrr_takes_the_first_relevant_within_the_cut() {
        let judged = Judged::new([(Some(4), 1), (Some(2), 0)]);
        assert_eq!(mrr_at(&ranking(&[2, 7, 4]), &judged, 10), 1.0 / 3.0);
        assert_eq!(mrr_at(&ranking(&[2, 7, 4]), &judged, 2), 0.0);
    }

    #[test]
    fn a_query_without_relevant_documents_scores_zero_everywhere() {
        let judged = Judged::new([(Some(2), 0)]);
        assert!(!judged.has_relevant());
        let s = score_query(&ranking(&[2]), &ranking(&[2]), &judged, 10);
        assert_eq!((s.ndcg, s.recall, s.mrr), (0.0, 0.0, 0.0));
        assert_eq!(s.overlap, 0.1);
    }

    #[test]
    fn tied_scores_rank_the_lower_document_first_by_hand() {
        // Two documents with the same vector: doc 0 (not relevant) and doc 1 (grade 1).
        let docs = ndarray::array![[1.0f32, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let hits = crate::eval::search(ndarray::array![[1.0f32, 0.0]].view(), docs.view(), 3);
        let judged = Judged::new([(Some(1), 1)]);
        // Doc 1 comes second: DCG = 1/log2(3), ideal = 1.
        let got = ndcg_at(&hits[0], &judged, 10);
        assert!((got - 1.0 / 3f64.log2()).abs() < 1e-12, "{got}");
        assert_eq!(mrr_at(&hits[0], &judged, 10), 0.5);
    }

    #[test]
    fn overlap_is_shared_documents_over_k() {
        let got = overlap_at(&ranking(&[1, 2, 3, 4]), &ranking(&[4, 3, 9, 8]), 4);
        assert_eq!(got, 0.5);
    }
}
