//! Paired bootstrap over queries.
//!
//! Every path is scored on the same queries, so their per-query scores are paired: one
//! resample draws query indices with replacement, and every statistic of that resample
//! (a path's retention, its gain over no-migration) uses the same draw. The draws come from
//! a seeded ChaCha stream, so a report is reproducible from its seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seeded resamples of `n` query indices, shared by every statistic of a report.
#[derive(Debug, Clone)]
pub struct Resamples {
    draws: Vec<Vec<u32>>,
}

impl Resamples {
    pub fn new(n: usize, count: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ crate::hash::stream::BOOTSTRAP);
        let draws = if n == 0 {
            Vec::new()
        } else {
            (0..count)
                .map(|_| (0..n).map(|_| rng.random_range(0..n as u32)).collect())
                .collect()
        };
        Resamples { draws }
    }

    /// 95% percentile interval of `Σ a / Σ b` over the resamples (a ratio of means).
    pub fn ratio_ci(&self, a: &[f64], b: &[f64]) -> [f64; 2] {
        let stats = self.draws.iter().filter_map(|draw| {
            let (sa, sb) = draw.iter().fold((0.0, 0.0), |(sa, sb), &i| {
                (sa + a[i as usize], sb + b[i as usize])
            });
            (sb > 0.0).then(|| sa / sb)
        });
        percentile_interval(stats.collect())
    }

    /// 95% percentile interval of `mean(a − b)` over the resamples.
    pub fn difference_ci(&self, a: &[f64], b: &[f64]) -> [f64; 2] {
        let stats = self.draws.iter().map(|draw| {
            let s: f64 = draw.iter().map(|&i| a[i as usize] - b[i as usize]).sum();
            s / draw.len() as f64
        });
        percentile_interval(stats.collect())
    }
}

/// The 2.5th and 97.5th percentiles (linear interpolation, as numpy's default).
fn percentile_interval(mut values: Vec<f64>) -> [f64; 2] {
    if values.is_empty() {
        return [f64::NAN, f64::NAN];
    }
    values.sort_by(f64::total_cmp);
    [quantile(&values, 0.025), quantile(&values, 0.975)]
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], [2.5, 97.5]) = [1.075, 3.925]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((quantile(&v, 0.025) - 1.075).abs() < 1e-12);
        assert!((quantile(&v, 0.975) - 3.925).abs() < 1e-12);
    }

    #[test]
    fn identical_paths_have_a_point_interval_and_the_interval_covers_the_estimate() {
        let a: Vec<f64> = (0..200).map(|i| ((i * 37) % 11) as f64 / 10.0).collect();
        let b: Vec<f64> = a.iter().map(|v| v * 0.8 + 0.05).collect();
        let r = Resamples::new(a.len(), 1000, 3);
        assert_eq!(r.ratio_ci(&a, &a), [1.0, 1.0]);
        let point = b.iter().sum::<f64>() / a.iter().sum::<f64>();
        let [lo, hi] = r.ratio_ci(&b, &a);
        assert!(
            lo < point && point < hi && hi - lo < 0.1,
            "{lo} {point} {hi}"
        );
        let [dlo, dhi] = r.difference_ci(&a, &b);
        assert!(dlo > 0.0 && dhi > dlo);
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let a: Vec<f64> = (0..50).map(|i| (i % 7) as f64).collect();
        let b: Vec<f64> = (0..50).map(|i| (i % 5) as f64 + 1.0).collect();
        let x = Resamples::new(50, 200, 9).ratio_ci(&a, &b);
        let y = Resamples::new(50, 200, 9).ratio_ci(&a, &b);
        let z = Resamples::new(50, 200, 10).ratio_ci(&a, &b);
        assert_eq!(x, y);
        assert_ne!(x, z);
    }
}
