//! Joining an old-model and a new-model table into training pairs.

use std::collections::HashMap;

use ndarray::Array2;

use crate::error::{DataError, Result};
use crate::table::EmbeddingTable;

/// Rows of two tables matched by id: `old.row(i)` and `new.row(i)` embed `ids[i]`.
#[derive(Debug, Clone)]
pub struct PairedEmbeddings {
    pub ids: Vec<String>,
    pub old: Array2<f32>,
    pub new: Array2<f32>,
    /// Ids found only in the old table, and only in the new one.
    pub only_old: usize,
    pub only_new: usize,
}

impl PairedEmbeddings {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Inner join on id, whatever the two tables' row orders; pairs come in the old table's order.
///
/// Both tables are expected to have unique ids (the readers enforce it). An empty
/// intersection is an error that shows an id from each side, since the usual cause is ids
/// written differently (`"42"` against `"doc-42"`).
pub fn pair_tables(old: &EmbeddingTable, new: &EmbeddingTable) -> Result<PairedEmbeddings> {
    let pairs = pair_tables_where(old, new, |_| true);
    if pairs.is_empty() {
        return Err(DataError::EmptyIntersection {
            old: old.source.clone(),
            new: new.source.clone(),
            old_rows: old.len(),
            new_rows: new.len(),
            old_example: old.ids.first().cloned().unwrap_or_default(),
            new_example: new.ids.first().cloned().unwrap_or_default(),
        });
    }
    Ok(pairs)
}

/// [`pair_tables`], keeping only the ids that pass `keep` (the counts of ids on one side
/// only are of all ids); an empty result is the caller's to judge.
pub fn pair_tables_where(
    old: &EmbeddingTable,
    new: &EmbeddingTable,
    keep: impl Fn(&str) -> bool,
) -> PairedEmbeddings {
    let index: HashMap<&str, usize> = new
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut both = 0;
    let mut matched: Vec<(usize, usize)> = Vec::new();
    for (i, id) in old.ids.iter().enumerate() {
        if let Some(&j) = index.get(id.as_str()) {
            both += 1;
            if keep(id) {
                matched.push((i, j));
            }
        }
    }
    let (d_old, d_new) = (old.dim(), new.dim());
    let mut old_rows = Array2::zeros((matched.len(), d_old));
    let mut new_rows = Array2::zeros((matched.len(), d_new));
    let mut ids = Vec::with_capacity(matched.len());
    for (k, &(i, j)) in matched.iter().enumerate() {
        old_rows.row_mut(k).assign(&old.vectors.row(i));
        new_rows.row_mut(k).assign(&new.vectors.row(j));
        ids.push(old.ids[i].clone());
    }
    PairedEmbeddings {
        only_old: old.len() - both,
        only_new: new.len() - both,
        ids,
        old: old_rows,
        new: new_rows,
    }
}
