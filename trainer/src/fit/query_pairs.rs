//! Query pairs: a query-side shim fitted on real queries embedded by both models (from a
//! search log, say), alone or together with document pairs.
//!
//! A query-side shim is applied to queries, which are short and distributed unlike the
//! documents it is usually fitted on, so pairs of queries say most about what it must do;
//! but a team has few of them. Both kinds are fitted together, the queries given a share
//! of the weight chosen on held-out query pairs: for each share of [`QUERY_SHARES`], a
//! ridge map is fitted on the documents and on the query pairs outside one of K folds, and
//! scored by mean cosine on that fold; the share with the best mean over the folds is kept
//! (share 0 is the documents alone, so the choice is never worse than them on held-out
//! queries), and the method asked for is fitted with it on every pair.
//!
//! A share is given by repeating rows, so every method's statistics, tuning and losses see
//! it with no method knowing of weights; a repeated pair keeps its id, and so its fold.
//!
//! ```
//! use ndarray::Array2;
//! use shimkit_trainer::{FitConfig, Method, query_pairs::{Pairs, fit_with_query_pairs}};
//!
//! let f = |i: usize, j: usize| ((i * 31 + j * 17) % 13) as f32 - 6.0;
//! let (docs_new, docs_old) = (Array2::from_shape_fn((300, 8), |(i, j)| f(i, j)), Array2::from_shape_fn((300, 4), |(i, j)| f(i, j + 1)));
//! let (q_new, q_old) = (Array2::from_shape_fn((120, 8), |(i, j)| f(i + 7, j)), Array2::from_shape_fn((120, 4), |(i, j)| f(i + 7, j + 2)));
//! let doc_ids: Vec<String> = (0..300).map(|i| format!("d{i}")).collect();
//! let query_ids: Vec<String> = (0..120).map(|i| format!("q{i}")).collect();
//! let docs = Pairs { x: docs_new.view(), y: docs_old.view(), ids: &doc_ids };
//! let queries = Pairs { x: q_new.view(), y: q_old.view(), ids: &query_ids };
//! let cfg = FitConfig { method: Method::Ridge, ..FitConfig::default() };
//! let (outcome, share) = fit_with_query_pairs(Some(&docs), &queries, &cfg).unwrap();
//! assert_eq!(outcome.map.weight.dim(), (8, 4));
//! assert!(share.scores.len() >= 2 && (0.0..=1.0).contains(&share.share));
//! ```

use ndarray::{Array2, ArrayView2, Axis, concatenate};
use serde::Serialize;

use super::{FitConfig, FitOutcome, fit, score::mean_row_cosine};
use crate::error::{Result, TrainError};
use crate::hash::{fnv1a, mix, stream};
use crate::method::Method;
use crate::normalize_rows;

/// The shares of the fit's weight the query pairs are tried at (0: the documents alone;
/// 1: the queries alone).
pub const QUERY_SHARES: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// Most times one pair is repeated to give its kind its share; a share that would need
/// more is not tried (it would mean a kind of pair hundreds of times rarer than the other).
pub const MAX_REPEAT: usize = 64;

/// Pairs of one kind: row i of `x` (the shim's input) and of `y` (its target) are `ids[i]`.
#[derive(Debug, Clone, Copy)]
pub struct Pairs<'a> {
    pub x: ArrayView2<'a, f32>,
    pub y: ArrayView2<'a, f32>,
    pub ids: &'a [String],
}

impl Pairs<'_> {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn check(&self, what: &'static str) -> Result<()> {
        if self.x.nrows() != self.len() || self.y.nrows() != self.len() {
            return Err(TrainError::Invalid {
                what,
                message: format!(
                    "{} ids for {} inputs and {} targets",
                    self.len(),
                    self.x.nrows(),
                    self.y.nrows()
                ),
            });
        }
        Ok(())
    }
}

/// One share's showing on the held-out query folds.
#[derive(Debug, Clone, Serialize)]
pub struct ShareScore {
    pub share: f64,
    /// Mean over the folds of the mean cosine between the mapped held-out queries and
    /// their true targets.
    pub heldout_cosine: f64,
}

/// The share of the fit's weight given to the query pairs, and how it was chosen.
#[derive(Debug, Clone, Serialize)]
pub struct QueryShare {
    /// The share chosen, of [`QUERY_SHARES`].
    pub share: f64,
    /// The share the repeats give exactly (query rows over all rows fitted).
    pub achieved: f64,
    pub query_pairs: usize,
    pub doc_pairs: usize,
    /// Times each query pair and each document pair is fitted.
    pub query_repeat: usize,
    pub doc_repeat: usize,
    /// Folds of the query pairs the shares were scored on (0 when there was no choice).
    pub folds: usize,
    /// Every share tried, in [`QUERY_SHARES`] order.
    pub scores: Vec<ShareScore>,
}

/// How many times each document pair and each query pair is fitted so that the queries
/// hold `share` of the weight: `None` when that needs more than [`MAX_REPEAT`] repeats.
pub fn repeats(doc_pairs: usize, query_pairs: usize, share: f64) -> Option<(usize, usize)> {
    if share <= 0.0 {
        return (doc_pairs > 0).then_some((1, 0));
    }
    if share >= 1.0 || doc_pairs == 0 {
        return (query_pairs > 0).then_some((0, 1));
    }
    if query_pairs == 0 {
        return None;
    }
    // Per-row weights (1 − s)/n_d and s/n_q, scaled so that the lighter kind counts once.
    let per_doc = (1.0 - share) / doc_pairs as f64;
    let per_query = share / query_pairs as f64;
    let (d, q) = if per_query >= per_doc {
        (1, (per_query / per_doc).round() as usize)
    } else {
        ((per_doc / per_query).round() as usize, 1)
    };
    (d.max(q) <= MAX_REPEAT).then_some((d.max(1), q.max(1)))
}

/// The rows to fit: the documents `doc_repeat` times and the queries `query_repeat` times.
/// Query ids are prefixed (`query:`), so that a query never shares a fold with a document
/// of the same id.
pub fn blend(
    docs: Option<&Pairs<'_>>,
    queries: &Pairs<'_>,
    doc_repeat: usize,
    query_repeat: usize,
) -> (Array2<f32>, Array2<f32>, Vec<String>) {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    let mut ids = Vec::new();
    if let Some(d) = docs {
        for _ in 0..doc_repeat {
            xs.push(d.x);
            ys.push(d.y);
            ids.extend(d.ids.iter().cloned());
        }
    }
    for _ in 0..query_repeat {
        xs.push(queries.x);
        ys.push(queries.y);
        ids.extend(queries.ids.iter().map(|id| format!("query:{id}")));
    }
    let stack = |parts: &[ArrayView2<'_, f32>], cols: usize| {
        if parts.is_empty() {
            Array2::zeros((0, cols))
        } else {
            concatenate(Axis(0), parts).expect("pairs of one side share their width")
        }
    };
    (
        stack(&xs, queries.x.ncols()),
        stack(&ys, queries.y.ncols()),
        ids,
    )
}

/// The fold (of `folds`) a query pair joins when the shares are scored.
fn fold_of(id: &str, seed: u64, folds: usize) -> usize {
    (mix(seed, stream::QUERY_SHARE_FOLD, fnv1a(id.as_bytes())) % folds as u64) as usize
}

/// Chooses the queries' share of the weight on held-out query pairs (see the module).
/// Without document pairs there is nothing to choose: the queries hold it all.
pub fn choose_share(
    docs: Option<&Pairs<'_>>,
    queries: &Pairs<'_>,
    cfg: &FitConfig,
) -> Result<QueryShare> {
    queries.check("query pairs")?;
    if queries.len() == 0 {
        return Err(TrainError::Invalid {
            what: "query pairs",
            message: "there are none".into(),
        });
    }
    if let Some(d) = docs {
        d.check("document pairs")?;
        if d.x.ncols() != queries.x.ncols() || d.y.ncols() != queries.y.ncols() {
            return Err(TrainError::Invalid {
                what: "query pairs",
                message: format!(
                    "the query pairs are {}-d → {}-d but the document pairs {}-d → {}-d",
                    queries.x.ncols(),
                    queries.y.ncols(),
                    d.x.ncols(),
                    d.y.ncols()
                ),
            });
        }
    }
    let doc_pairs = docs.map_or(0, |d| d.len());
    let chosen = |share: f64, folds: usize, scores: Vec<ShareScore>| {
        let (doc_repeat, query_repeat) =
            repeats(doc_pairs, queries.len(), share).expect("a share that was tried");
        let rows = doc_repeat * doc_pairs + query_repeat * queries.len();
        QueryShare {
            share,
            achieved: (query_repeat * queries.len()) as f64 / rows.max(1) as f64,
            query_pairs: queries.len(),
            doc_pairs,
            query_repeat,
            doc_repeat,
            folds,
            scores,
        }
    };
    if docs.is_none() {
        return Ok(chosen(1.0, 0, Vec::new()));
    }
    let folds = cfg.folds.max(2);
    let fold: Vec<usize> = queries
        .ids
        .iter()
        .map(|id| fold_of(id, cfg.seed, folds))
        .collect();
    let ridge = FitConfig {
        method: Method::Ridge,
        ..cfg.clone()
    };
    let mut scores = Vec::new();
    let mut documents_alone: Option<crate::map::LinearMap> = None;
    for share in QUERY_SHARES {
        // A share the whole set of pairs could not be given is not tried on its folds.
        if repeats(doc_pairs, queries.len(), share).is_none() {
            continue;
        }
        let mut total = 0.0;
        let mut scored = 0usize;
        let mut possible = true;
        for k in 0..folds {
            let (train, held): (Vec<usize>, Vec<usize>) =
                (0..queries.len()).partition(|&i| fold[i] != k);
            if held.is_empty() {
                continue;
            }
            let Some((dr, qr)) = repeats(doc_pairs, train.len(), share) else {
                possible = false;
                break;
            };
            // The documents alone (share 0) give the same fit in every fold.
            let map = match (&documents_alone, qr) {
                (Some(map), 0) => map.clone(),
                _ => {
                    let train_x = queries.x.select(Axis(0), &train);
                    let train_y = queries.y.select(Axis(0), &train);
                    let train_ids: Vec<String> =
                        train.iter().map(|&i| queries.ids[i].clone()).collect();
                    let train_queries = Pairs {
                        x: train_x.view(),
                        y: train_y.view(),
                        ids: &train_ids,
                    };
                    let (x, y, ids) = blend(docs, &train_queries, dr, qr);
                    let outcome = match fit(x.view(), y.view(), &ids, &ridge) {
                        Ok(o) => o,
                        // Too few queries left to fit on their own: this share is not tried.
                        Err(TrainError::TooFewPairs { .. }) => {
                            possible = false;
                            break;
                        }
                        Err(e) => return Err(e),
                    };
                    if qr == 0 {
                        documents_alone = Some(outcome.map.clone());
                    }
                    outcome.map
                }
            };
            // The fit maps and scores unit rows.
            let held_x = normalize_rows(queries.x.select(Axis(0), &held));
            let held_y = normalize_rows(queries.y.select(Axis(0), &held));
            let mapped = map.apply(held_x.view());
            total += mean_row_cosine(mapped.view(), held_y.view()) * held.len() as f64;
            scored += held.len();
        }
        if possible && scored > 0 {
            scores.push(ShareScore {
                share,
                heldout_cosine: total / scored as f64,
            });
        }
    }
    // Ties go to the smaller share: fewer repeats, closer to the documents alone.
    let best = scores
        .iter()
        .fold(None::<&ShareScore>, |best, s| match best {
            Some(b) if s.heldout_cosine <= b.heldout_cosine + 1e-9 => Some(b),
            _ => Some(s),
        })
        .map_or(0.0, |s| s.share);
    Ok(chosen(best, folds, scores))
}

/// A shim of `cfg.method` fitted on the document pairs (if any) and the query pairs, the
/// queries given the share [`choose_share`] chooses.
pub fn fit_with_query_pairs(
    docs: Option<&Pairs<'_>>,
    queries: &Pairs<'_>,
    cfg: &FitConfig,
) -> Result<(FitOutcome, QueryShare)> {
    let share = choose_share(docs, queries, cfg)?;
    let (x, y, ids) = blend(docs, queries, share.doc_repeat, share.query_repeat);
    Ok((fit(x.view(), y.view(), &ids, cfg)?, share))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_give_the_share_asked_for() {
        assert_eq!(repeats(700, 112, 0.0), Some((1, 0)));
        assert_eq!(repeats(700, 112, 1.0), Some((0, 1)));
        assert_eq!(repeats(0, 112, 0.5), Some((0, 1)));
        assert_eq!(repeats(700, 0, 0.5), None);
        // 0.25 of the weight on 112 queries against 700 documents: 2 repeats (0.242).
        assert_eq!(repeats(700, 112, 0.25), Some((1, 2)));
        // Many more queries than documents: the documents are the ones repeated.
        assert_eq!(repeats(100, 1000, 0.5), Some((10, 1)));
        // A share that would need a query repeated 3,000 times is not tried.
        assert_eq!(repeats(100_000, 100, 0.75), None);
    }

    /// Rows of `x` mapped by `w`, with a little noise.
    fn mapped(x: &Array2<f32>, w: &Array2<f32>, rng: &mut impl rand::Rng) -> Array2<f32> {
        x.dot(w).mapv(|v| v + rng.random_range(-0.05..0.05))
    }

    #[test]
    fn queries_mapped_unlike_documents_get_weight_and_a_better_fit() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut uniform =
            |r: usize, c: usize| Array2::from_shape_fn((r, c), |_| rng.random_range(-1.0f32..1.0));
        let a = uniform(16, 8);
        let b = &a + &(uniform(16, 8) * 0.8);
        let (xd, xq, xt) = (uniform(400, 16), uniform(150, 16), uniform(200, 16));
        let mut noise = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let (yd, yq, yt) = (
            mapped(&xd, &a, &mut noise),
            mapped(&xq, &b, &mut noise),
            mapped(&xt, &b, &mut noise),
        );
        let doc_ids: Vec<String> = (0..400).map(|i| format!("d{i}")).collect();
        let query_ids: Vec<String> = (0..150).map(|i| format!("q{i}")).collect();
        let docs = Pairs {
            x: xd.view(),
            y: yd.view(),
            ids: &doc_ids,
        };
        let queries = Pairs {
            x: xq.view(),
            y: yq.view(),
            ids: &query_ids,
        };
        let cfg = FitConfig {
            method: Method::Ridge,
            ..FitConfig::default()
        };

        let (outcome, share) = fit_with_query_pairs(Some(&docs), &queries, &cfg).unwrap();
        let score = |s: f64| {
            share
                .scores
                .iter()
                .find(|t| t.share == s)
                .unwrap()
                .heldout_cosine
        };
        assert_eq!(share.scores.len(), QUERY_SHARES.len());
        assert!(share.share > 0.0, "{share:?}");
        assert!(score(share.share) > score(0.0) + 0.01, "{share:?}");
        // On fresh queries, the fit with query pairs beats the documents alone.
        let alone = fit(xd.view(), yd.view(), &doc_ids, &cfg).unwrap();
        let (xt, yt) = (normalize_rows(xt), normalize_rows(yt));
        let with = mean_row_cosine(outcome.map.apply(xt.view()).view(), yt.view());
        let without = mean_row_cosine(alone.map.apply(xt.view()).view(), yt.view());
        assert!(with > without + 0.01, "{with} against {without}");

        // Without documents the queries hold all the weight, with nothing to choose.
        let (_, alone) = fit_with_query_pairs(None, &queries, &cfg).unwrap();
        assert_eq!((alone.share, alone.folds, alone.doc_pairs), (1.0, 0, 0));
        assert!(alone.scores.is_empty());
    }

    #[test]
    fn query_pairs_of_another_width_are_refused() {
        let x = Array2::<f32>::zeros((60, 4));
        let y = Array2::<f32>::zeros((60, 3));
        let y2 = Array2::<f32>::zeros((60, 2));
        let ids: Vec<String> = (0..60).map(|i| i.to_string()).collect();
        let docs = Pairs {
            x: x.view(),
            y: y.view(),
            ids: &ids,
        };
        let queries = Pairs {
            x: x.view(),
            y: y2.view(),
            ids: &ids,
        };
        let err = choose_share(Some(&docs), &queries, &FitConfig::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("4-d → 2-d but the document pairs 4-d → 3-d"),
            "{err}"
        );
    }

    #[test]
    fn a_blend_repeats_rows_and_keeps_query_ids_apart() {
        let x = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f32);
        let y = Array2::from_shape_fn((2, 2), |(i, j)| (i * 2 + j) as f32);
        let ids = vec!["1".to_owned(), "2".to_owned()];
        let p = Pairs {
            x: x.view(),
            y: y.view(),
            ids: &ids,
        };
        let (bx, by, bids) = blend(Some(&p), &p, 1, 2);
        assert_eq!(bx.nrows(), 6);
        assert_eq!(by.nrows(), 6);
        assert_eq!(bids, ["1", "2", "query:1", "query:2", "query:1", "query:2"]);
        assert_eq!(bx.row(4), x.row(0));
    }
}
