//! Spherical k-means: the centroids the kernel's landmarks and the cluster maps start from.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::gemm::project;

const KMEANS_ITERATIONS: usize = 25;

/// Spherical k-means: k unit centroids of unit rows, seeded k-means++ then Lloyd steps.
pub fn spherical_kmeans(x: ArrayView2<'_, f32>, k: usize, seed: u64) -> Array2<f32> {
    let n = x.nrows();
    let k = k.clamp(1, n.max(1));
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ crate::hash::stream::KMEANS);
    let mut chosen = vec![rng.random_range(0..n)];
    // k-means++: the next centroid drawn with probability ∝ its distance to the nearest.
    let mut best = vec![f32::NEG_INFINITY; n];
    while chosen.len() < k {
        let last = x.row(*chosen.last().expect("one chosen"));
        for (i, b) in best.iter_mut().enumerate() {
            *b = b.max(x.row(i).dot(&last));
        }
        let dist: Vec<f64> = best.iter().map(|&c| (1.0 - c as f64).max(0.0)).collect();
        let total: f64 = dist.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut t = rng.random::<f64>() * total;
        let pick = dist
            .iter()
            .position(|&d| {
                t -= d;
                t <= 0.0
            })
            .unwrap_or(n - 1);
        chosen.push(pick);
    }
    let mut centroids = x.select(Axis(0), &chosen);
    for _ in 0..KMEANS_ITERATIONS {
        let sims = project(x, centroids.t(), None);
        let mut sums = Array2::<f64>::zeros(centroids.dim());
        for (i, row) in sims.rows().into_iter().enumerate() {
            let c = argmax(row.as_slice().expect("contiguous"));
            sums.row_mut(c)
                .zip_mut_with(&x.row(i), |s, &v| *s += v as f64);
        }
        let mut moved = false;
        for (c, sum) in sums.rows().into_iter().enumerate() {
            let norm = sum.dot(&sum).sqrt();
            // An empty cluster keeps its centroid.
            if norm > 0.0 {
                let new: Array1<f32> = sum.mapv(|v| (v / norm) as f32);
                moved |= new != centroids.row(c);
                centroids.row_mut(c).assign(&new);
            }
        }
        if !moved {
            break;
        }
    }
    centroids
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv { (i, x) } else { (bi, bv) }
        })
        .0
}
