//! The vectors and judgements of one evaluation, aligned by id.

use std::collections::HashMap;

use ndarray::Array2;
use serde::Serialize;
use shimkit_data::{EmbeddingTable, Qrels, normalize_rows, pair_tables_where};

use crate::error::{Result, TrainError};
use crate::eval::metrics::Judged;

/// Both models' corpora and queries, row `i` of each pair of matrices being the same item,
/// restricted to the queries that can be scored. Rows are unit length.
#[derive(Debug, Clone)]
pub struct EvalData {
    pub doc_ids: Vec<String>,
    pub old_docs: Array2<f32>,
    pub new_docs: Array2<f32>,
    pub query_ids: Vec<String>,
    pub old_queries: Array2<f32>,
    pub new_queries: Array2<f32>,
    /// The judgements of `query_ids[i]`.
    pub judged: Vec<Judged>,
}

/// What aligning the two models and the judgements left out, for the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlignNotes {
    pub docs: usize,
    pub docs_only_old: usize,
    pub docs_only_new: usize,
    pub queries_scored: usize,
    pub queries_only_old: usize,
    pub queries_only_new: usize,
    /// Embedded queries in both models with no judgement of grade ≥ 1 (not scored).
    pub queries_without_relevant: usize,
    /// Judged queries that neither model embedded (not scored).
    pub judged_queries_missing: usize,
    /// Relevant judgements whose document is not in the corpus (still counted as relevant).
    pub relevant_docs_missing: usize,
}

impl EvalData {
    /// Joins the old and new tables by id (old order), keeps the queries with at least one
    /// relevant judgement, and resolves judgements to document rows.
    pub fn align(
        old_docs: &EmbeddingTable,
        new_docs: &EmbeddingTable,
        old_queries: &EmbeddingTable,
        new_queries: &EmbeddingTable,
        qrels: &Qrels,
    ) -> Result<(EvalData, AlignNotes)> {
        // A model's queries are searched against its own corpus.
        for (docs, queries) in [(old_docs, old_queries), (new_docs, new_queries)] {
            if docs.dim() != queries.dim() {
                return Err(invalid(format!(
                    "{} holds {}-dimensional vectors but {} holds {}-dimensional ones; a model's queries and documents must share a dimension",
                    queries.source.display(),
                    queries.dim(),
                    docs.source.display(),
                    docs.dim()
                )));
            }
        }
        let docs = pair_tables_where(old_docs, new_docs, |_| true);
        let (doc_ids, od, nd, only_old, only_new) =
            (docs.ids, docs.old, docs.new, docs.only_old, docs.only_new);
        if doc_ids.is_empty() {
            return Err(invalid(format!(
                "{} and {} share no document ids",
                old_docs.source.display(),
                new_docs.source.display()
            )));
        }
        let doc_row: HashMap<&str, u32> = doc_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i as u32))
            .collect();
        let judgements: HashMap<&str, &Vec<(String, i32)>> =
            qrels.queries.iter().map(|(q, j)| (q.as_str(), j)).collect();
        let relevant = |id: &str| {
            judgements
                .get(id)
                .is_some_and(|j| j.iter().any(|(_, g)| *g >= 1))
        };
        let queries = pair_tables_where(old_queries, new_queries, relevant);
        let (query_ids, oq, nq, q_only_old, q_only_new) = (
            queries.ids,
            queries.old,
            queries.new,
            queries.only_old,
            queries.only_new,
        );
        let both_queries: usize = {
            let new: std::collections::HashSet<&str> =
                new_queries.ids.iter().map(String::as_str).collect();
            old_queries
                .ids
                .iter()
                .filter(|id| new.contains(id.as_str()))
                .count()
        };
        if query_ids.is_empty() {
            return Err(invalid(format!(
                "no query embedded by both models has a relevance judgement of grade >= 1 in {}",
                qrels.path.display()
            )));
        }
        let embedded: std::collections::HashSet<&str> = old_queries
            .ids
            .iter()
            .chain(&new_queries.ids)
            .map(String::as_str)
            .collect();
        let mut relevant_docs_missing = 0;
        let judged = query_ids
            .iter()
            .map(|q| {
                let list = judgements[q.as_str()];
                Judged::new(list.iter().map(|(d, g)| {
                    let row = doc_row.get(d.as_str()).copied();
                    if row.is_none() && *g >= 1 {
                        relevant_docs_missing += 1;
                    }
                    (row, *g)
                }))
            })
            .collect();
        let notes = AlignNotes {
            docs: doc_ids.len(),
            docs_only_old: only_old,
            docs_only_new: only_new,
            queries_scored: query_ids.len(),
            queries_only_old: q_only_old,
            queries_only_new: q_only_new,
            queries_without_relevant: both_queries - query_ids.len(),
            judged_queries_missing: qrels
                .queries
                .iter()
                .filter(|(q, _)| !embedded.contains(q.as_str()))
                .count(),
            relevant_docs_missing,
        };
        let data = EvalData {
            doc_ids,
            old_docs: normalize_rows(od),
            new_docs: normalize_rows(nd),
            query_ids,
            old_queries: normalize_rows(oq),
            new_queries: normalize_rows(nq),
            judged,
        };
        Ok((data, notes))
    }
}

fn invalid(message: String) -> TrainError {
    TrainError::Invalid {
        what: "evaluation set",
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use std::path::PathBuf;

    fn table(ids: &[&str], v: Array2<f32>) -> EmbeddingTable {
        EmbeddingTable {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            vectors: v,
            source: PathBuf::from("t.parquet"),
        }
    }

    #[test]
    fn aligns_by_id_and_scores_only_queries_with_a_relevant_judgement() {
        let old_docs = table(&["a", "b", "c"], array![[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]);
        // The new table lists the documents in another order and lacks "c", has "z".
        let new_docs = table(&["b", "a", "z"], array![[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]);
        let old_q = table(
            &["q1", "q2", "q3"],
            array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        );
        let new_q = table(
            &["q3", "q1", "q2"],
            array![[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]],
        );
        let qrels = Qrels::parse(
            std::path::Path::new("qrels.tsv"),
            "query-id\tcorpus-id\tscore\nq1\ta\t2\nq1\tgone\t1\nq2\tb\t0\nq9\ta\t1\n",
        )
        .unwrap();
        let (data, notes) = EvalData::align(&old_docs, &new_docs, &old_q, &new_q, &qrels).unwrap();
        assert_eq!(data.doc_ids, vec!["a", "b"]);
        assert_eq!(
            data.new_docs.row(1).to_vec(),
            vec![0.0, 1.0],
            "joined by id"
        );
        assert_eq!(data.old_docs.row(1).to_vec(), vec![0.0, 1.0], "normalised");
        // q2 has only a grade-0 judgement and q3 none: neither is scored.
        assert_eq!(data.query_ids, vec!["q1"]);
        assert_eq!(
            data.judged[0].relevant_grades,
            vec![2, 1],
            "the missing doc still counts"
        );
        assert_eq!((notes.docs_only_old, notes.docs_only_new), (1, 1));
        assert_eq!(notes.queries_without_relevant, 2);
        assert_eq!(notes.judged_queries_missing, 1);
        assert_eq!(notes.relevant_docs_missing, 1);
    }

    #[test]
    fn no_scorable_query_is_an_error() {
        let d = table(&["a"], array![[1.0f32]]);
        let q = table(&["q1"], array![[1.0f32]]);
        let qrels = Qrels::parse(
            std::path::Path::new("qrels.tsv"),
            "query-id\tcorpus-id\tscore\nq1\ta\t0\n",
        )
        .unwrap();
        let err = EvalData::align(&d, &d, &q, &q, &qrels)
            .unwrap_err()
            .to_string();
        assert!(err.contains("grade >= 1"), "{err}");
    }
}
