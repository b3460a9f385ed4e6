//! Cross-domain similarity local scaling (CSLS; Conneau et al. 2018), the standard
//! hubness correction for mapped vectors.
//!
//! Mapped vectors crowd together, and a few index vectors ("hubs") end up near most of
//! them. CSLS scores a pair by 2·cos(q, d) − r(q) − r(d), where r(v) is v's mean cosine to
//! its K nearest neighbours on the other side of the map. r(q) is the same for every
//! document of one query, so a ranking needs only the per-document penalty r(d), given to
//! the search as an offset: rank by cos(q, d) − r(d)/2.

use ndarray::ArrayView2;

use crate::eval::search::search;

/// Neighbours averaged for r(d), the value of the CSLS paper.
pub const CSLS_K: usize = 10;

/// The search offset −r(d)/2 of every row of `index`, r(d) being its mean cosine to its
/// `k` nearest rows of `other` (the other side of the map; unit rows throughout).
/// `same(i, j)` says that index row i and other row j are one item seen from both sides
/// (a training document is both in the index and among the mapped points): that pair is
/// skipped, or every training document would look like a hub of itself.
pub fn csls_offsets(
    index: ArrayView2<'_, f32>,
    other: ArrayView2<'_, f32>,
    k: usize,
    same: impl Fn(usize, usize) -> bool,
) -> Vec<f32> {
    search(index, other, k + 1)
        .into_iter()
        .enumerate()
        .map(|(i, hits)| {
            let kept: Vec<f64> = hits
                .iter()
                .filter(|h| !same(i, h.doc as usize))
                .take(k)
                .map(|h| h.score as f64)
                .collect();
            let mean = kept.iter().sum::<f64>() / kept.len().max(1) as f64;
            (-mean / 2.0) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::search::search_offset;
    use ndarray::array;

    #[test]
    fn the_same_item_on_both_sides_is_skipped() {
        let docs = array![[1.0f32, 0.0]];
        let mapped = array![[1.0f32, 0.0], [0.0, 1.0], [0.6, 0.8]];
        // Without row 0 (the same item), the two best are 0.6 and 0.0.
        let off = csls_offsets(docs.view(), mapped.view(), 2, |i, j| i == 0 && j == 0);
        assert!((off[0] + 0.15).abs() < 1e-6, "{off:?}");
    }

    #[test]
    fn a_hub_loses_its_lead_by_hand() {
        // Document 0 sits between every mapped point (a hub); document 1 is close to one.
        let docs = array![[0.8f32, 0.6], [1.0, 0.0]];
        let mapped = array![[0.6f32, 0.8], [0.8, 0.6], [1.0, 0.0]];
        let off = csls_offsets(docs.view(), mapped.view(), 2, |_, _| false);
        // r(0) = mean of its two best cosines: (1.0 + 0.96) / 2 = 0.98; r(1) = (1.0 + 0.8)/2.
        assert!(
            (off[0] + 0.49).abs() < 1e-6 && (off[1] + 0.45).abs() < 1e-6,
            "{off:?}"
        );
        let q = array![[0.9f32, 0.435_889_9]];
        // Plain cosine: 0.9815 for the hub, 0.9 for doc 1; CSLS: 0.4915 vs 0.45.
        let plain = search(q.view(), docs.view(), 2);
        assert_eq!(plain[0][0].doc, 0);
        let corrected = search_offset(q.view(), docs.view(), Some(&off), 2);
        assert!((corrected[0][0].score - (0.98154 - 0.49)).abs() < 1e-4);
        // A query 20° from document 1 and 17° from the hub: the hub wins on cosine
        // (0.957 vs 0.940), document 1 once the hub is penalised (0.467 vs 0.490).
        let q2 = array![[0.9396926f32, 0.34202015]];
        assert_eq!(search(q2.view(), docs.view(), 1)[0][0].doc, 0);
        assert_eq!(
            search_offset(q2.view(), docs.view(), Some(&off), 1)[0][0].doc,
            1
        );
    }
}
