//! Which documents to re-embed first: a sample chosen from the old vectors alone, before
//! any new vector exists, that a shim fitted on it generalises from better than from a
//! random sample of the same size.
//!
//! The sample covers the old space: spherical k-means with one cluster per document to
//! choose, and from each cluster the document nearest its centroid (a medoid), so every
//! region of the corpus is represented once and no outlier is spent on. The medoids come in
//! the order of their clusters' sizes, largest first, so that any prefix of the sample is
//! itself a good sample of that size: a backfill that re-embeds them in this order covers
//! the densest regions first, and a training-size curve can take prefixes.
//!
//! k-means costs rows × clusters per iteration, so it runs on a seeded pool of the corpus
//! and with at most [`MAX_CLUSTERS`] clusters, and the documents are chosen from a seeded
//! pool of candidates (the whole corpus up to 262,144 documents); past that many documents the rest of the
//! sample is stratified: each cluster gives documents in proportion to its size, drawn in
//! the seeded hash order.
//!
//! ```
//! use ndarray::Array2;
//! use shimkit_trainer::sample::choose_documents;
//!
//! // Two tight groups of 60 and 40 documents: a sample of two takes one from each, the
//! // larger group's first.
//! let x = Array2::from_shape_fn((100, 2), |(i, j)| {
//!     let group = if i < 60 { [1.0, 0.0] } else { [0.0, 1.0] };
//!     group[j] + 0.001 * (i % 7) as f32
//! });
//! let ids: Vec<String> = (0..100).map(|i| format!("doc{i}")).collect();
//! let chosen = choose_documents(x.view(), &ids, 2, 0);
//! assert!(chosen[0] < 60 && chosen[1] >= 60);
//! ```

use ndarray::{ArrayView2, Axis};

use crate::eval::sample_order;
use crate::fit::kmeans::spherical_kmeans;
use crate::gemm::project;

/// Clusters of the k-means at most: its cost grows with pool × clusters.
pub const MAX_CLUSTERS: usize = 2048;
/// Pool rows per cluster that k-means runs on.
const KMEANS_POOL_PER_CLUSTER: usize = 16;
/// Candidate documents per document to choose, when the corpus is larger than that and
/// than [`MIN_CANDIDATES`].
const CANDIDATES_PER_CHOICE: usize = 4;
/// Candidates at least: every document of a corpus up to this size is a candidate.
const MIN_CANDIDATES: usize = 1 << 18;
/// Rows assigned to centroids at once (bounds the similarity matrix).
const ASSIGN_CHUNK: usize = 8192;

/// How an evaluation chooses its training documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleStrategy {
    /// A seeded random sample (by hash of id).
    #[default]
    Random,
    /// [`choose_documents`]: coverage of the old space.
    Shimkit,
}

impl std::str::FromStr for SampleStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "random" => Ok(SampleStrategy::Random),
            "shimkit" => Ok(SampleStrategy::Shimkit),
            other => Err(format!("unknown sample {other:?}: random or shimkit")),
        }
    }
}

impl std::fmt::Display for SampleStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SampleStrategy::Random => "random",
            SampleStrategy::Shimkit => "shimkit",
        })
    }
}

/// Rows of `old` (one a document, `ids` theirs) to re-embed first, `n` of them (all when
/// `n` is at least the corpus), in priority order. Rows need not be normalised. The same
/// seed and the same documents give the same sample whatever the row order.
pub fn choose_documents(
    old: ArrayView2<'_, f32>,
    ids: &[String],
    n: usize,
    seed: u64,
) -> Vec<usize> {
    choose_with_clusters(old, ids, n, seed, MAX_CLUSTERS)
}

fn choose_with_clusters(
    old: ArrayView2<'_, f32>,
    ids: &[String],
    n: usize,
    seed: u64,
    max_clusters: usize,
) -> Vec<usize> {
    let rows = old.nrows();
    let hashed = sample_order(ids, seed);
    if n >= rows {
        return hashed;
    }
    if n == 0 {
        return Vec::new();
    }
    let clusters = n.min(max_clusters);
    let unit = |rows: &[usize]| crate::normalize_rows(old.select(Axis(0), rows));
    let pool = &hashed[..rows.min(clusters * KMEANS_POOL_PER_CLUSTER)];
    let centroids = spherical_kmeans(unit(pool).view(), clusters, seed);
    let candidates =
        &hashed[..rows.min((n.saturating_mul(CANDIDATES_PER_CHOICE)).max(MIN_CANDIDATES))];

    // Each candidate's cluster and its similarity to the centroid.
    let mut members: Vec<Vec<(f32, usize)>> = vec![Vec::new(); centroids.nrows()];
    for (chunk_at, chunk) in candidates.chunks(ASSIGN_CHUNK).enumerate() {
        let sims = project(unit(chunk).view(), centroids.t(), None);
        for (r, row) in sims.rows().into_iter().enumerate() {
            let (c, s) = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (c, &s)| if s > b.1 { (c, s) } else { b },
                );
            // The candidate's place in hash order breaks ties and orders the strata.
            members[c].push((s, chunk_at * ASSIGN_CHUNK + r));
        }
    }
    let mut by_size: Vec<usize> = (0..members.len())
        .filter(|&c| !members[c].is_empty())
        .collect();
    by_size.sort_by_key(|&c| (std::cmp::Reverse(members[c].len()), c));

    // The medoids, largest cluster first.
    let mut chosen: Vec<usize> = Vec::with_capacity(n);
    for &c in &by_size {
        let medoid = members[c]
            .iter()
            .copied()
            .fold((f32::NEG_INFINITY, usize::MAX), |b, m| {
                if m.0 > b.0 || (m.0 == b.0 && m.1 < b.1) {
                    m
                } else {
                    b
                }
            })
            .1;
        chosen.push(medoid);
        members[c].retain(|m| m.1 != medoid);
    }
    chosen.truncate(n);
    if chosen.len() < n {
        let strata = stratified(&members, n - chosen.len());
        chosen.extend(strata);
    }
    chosen.into_iter().map(|p| candidates[p]).collect()
}

/// `want` more candidates, each cluster giving in proportion to what it has left (largest
/// remainder), each in hash order; returned in hash order.
fn stratified(members: &[Vec<(f32, usize)>], want: usize) -> Vec<usize> {
    let left: usize = members.iter().map(Vec::len).sum();
    let want = want.min(left);
    let quota: Vec<f64> = members
        .iter()
        .map(|m| m.len() as f64 * want as f64 / left.max(1) as f64)
        .collect();
    let mut take: Vec<usize> = quota.iter().map(|q| q.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..members.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let (ra, rb) = (quota[a] - take[a] as f64, quota[b] - take[b] as f64);
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let short = want - take.iter().sum::<usize>();
    for &c in by_remainder.iter().take(short) {
        take[c] += 1;
    }
    let mut out: Vec<usize> = members
        .iter()
        .zip(&take)
        .flat_map(|(m, &t)| {
            let mut positions: Vec<usize> = m.iter().map(|x| x.1).collect();
            positions.sort_unstable();
            positions.truncate(t);
            positions
        })
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("d{i}")).collect()
    }

    /// Points on the unit circle in `groups` tight groups.
    fn groups(n: usize, groups: usize) -> Array2<f32> {
        Array2::from_shape_fn((n, 2), |(i, j)| {
            let angle = (i % groups) as f32 * std::f32::consts::TAU / groups as f32
                + 1e-3 * (i / groups) as f32;
            if j == 0 { angle.cos() } else { angle.sin() }
        })
    }

    #[test]
    fn one_document_from_each_group() {
        let x = groups(400, 8);
        let chosen = choose_documents(x.view(), &ids(400), 8, 3);
        let mut seen: Vec<usize> = chosen.iter().map(|&r| r % 8).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn distinct_rows_every_size_and_independent_of_row_order() {
        let x = groups(300, 5);
        let names = ids(300);
        for n in [0, 1, 5, 37, 150, 299, 300, 500] {
            let chosen = choose_documents(x.view(), &names, n, 1);
            assert_eq!(chosen.len(), n.min(300), "n = {n}");
            let mut sorted = chosen.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), chosen.len(), "n = {n}: a row chosen twice");
        }
        // Reversed rows: the same documents by id.
        let reversed = x.slice(ndarray::s![..;-1, ..]).to_owned();
        let reversed_ids: Vec<String> = names.iter().rev().cloned().collect();
        let a: Vec<&String> = choose_documents(x.view(), &names, 37, 1)
            .iter()
            .map(|&r| &names[r])
            .collect();
        let b: Vec<&String> = choose_documents(reversed.view(), &reversed_ids, 37, 1)
            .iter()
            .map(|&r| &reversed_ids[r])
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn an_evaluation_trains_on_the_sample_then_takes_the_rest_in_hash_order() {
        let x = groups(200, 4);
        let names = ids(200);
        let order = crate::eval::training_order(x.view(), &names, 30, SampleStrategy::Shimkit, 5);
        assert_eq!(&order[..30], &choose_documents(x.view(), &names, 30, 5)[..]);
        let mut all = order.clone();
        all.sort_unstable();
        assert_eq!(all, (0..200).collect::<Vec<_>>());
        let hashed = sample_order(&names, 5);
        let rest: Vec<usize> = hashed
            .into_iter()
            .filter(|i| !order[..30].contains(i))
            .collect();
        assert_eq!(&order[30..], &rest[..]);
        let random = crate::eval::training_order(x.view(), &names, 30, SampleStrategy::Random, 5);
        assert_eq!(random, sample_order(&names, 5));
    }

    #[test]
    fn past_the_cluster_cap_each_cluster_gives_in_proportion_to_its_size() {
        // Four tight groups of 400, 200, 100 and 100 documents at right angles, 4 clusters
        // at most, 40 documents: 20, 10, 5 and 5, give or take the one medoid each.
        let group = |i: usize| match i {
            0..400 => 0,
            400..600 => 1,
            600..700 => 2,
            _ => 3,
        };
        let x = Array2::from_shape_fn((800, 2), |(i, j)| {
            let angle = group(i) as f32 * std::f32::consts::FRAC_PI_2 + 1e-3 * (i % 13) as f32;
            if j == 0 { angle.cos() } else { angle.sin() }
        });
        let chosen = choose_with_clusters(x.view(), &ids(800), 40, 2, 4);
        let mut per = [0usize; 4];
        for &r in &chosen {
            per[group(r)] += 1;
        }
        for (got, want) in per.iter().zip([20, 10, 5, 5]) {
            assert!(got.abs_diff(want) <= 1, "{per:?}");
        }
        let mut sorted = chosen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 40);
    }

    #[test]
    fn strata_follow_cluster_sizes() {
        let members = vec![
            (0..60).map(|p| (0.0, p)).collect::<Vec<_>>(),
            (60..90).map(|p| (0.0, p)).collect(),
            (90..100).map(|p| (0.0, p)).collect(),
        ];
        let out = stratified(&members, 10);
        let per: Vec<usize> = [0..60, 60..90, 90..100]
            .iter()
            .map(|r| out.iter().filter(|&&p| r.contains(&p)).count())
            .collect();
        assert_eq!(per, vec![6, 3, 1]);
        assert_eq!(stratified(&members, 1000).len(), 100);
    }
}
