//! How much memory a fit will hold at its peak, known from the dimensions before any pair
//! is read.
//!
//! A fit's memory does not grow with the number of pairs but with the dimensions: every
//! fold and the held-out split keep XᵀX (d_in × d_in) and XᵀY (d_in × d_out) in f64, the
//! λ search adds an eigendecomposition of XᵀX, and the non-linear adapters keep a bounded
//! sample of pairs. 65,536-d inputs need 32 GiB for one XᵀX alone, so a fit that would not
//! fit is refused up front, with the estimate, instead of aborting in the allocator.

use super::accumulate::GRID_ROWS;
use super::{FitConfig, Method};
use crate::cluster::CLUSTER_GRID;
use crate::kernel::MAX_LANDMARKS;

/// The estimated peak, in bytes, of a fit of `d_in` → `d_out` pairs under `cfg` (computed
/// in f64 so that absurd dimensions give a large number, not an overflow).
pub fn fit_peak_bytes(d_in: usize, d_out: usize, cfg: &FitConfig) -> f64 {
    let (i, o) = (d_in as f64, d_out as f64);
    let stats = 8.0 * (i * i + i * o + i + o);
    let parts = (cfg.folds.max(2) + 1) as f64;
    // Every part's statistics, and the parts' buffers, which share one flush's rows (twice
    // that, for the slack of growing vectors); then, at the finish, the training and
    // all-pairs statistics, one fold's complement, and the eigendecomposition's copies.
    let accumulate = parts * stats + 2.0 * 4.0 * GRID_ROWS as f64 * (i + o);
    let solve = 3.0 * stats + 3.0 * 8.0 * i * i;
    let heldout = cfg.max_heldout as f64 * (4.0 * (i + o) + 8.0);
    let mut peak = accumulate + solve + heldout;
    if cfg.fits_adapters() {
        let pairs = cfg.max_adapter_pairs as f64;
        // The reservoir holds up to twice its cap before it compacts.
        let sample = 2.0 * pairs * (4.0 * (i + o) + 16.0);
        let adapter = match cfg.method {
            Method::Kernel => kernel_bytes(pairs, i, o),
            Method::Cluster => cluster_bytes(i, o),
            Method::Mlp => mlp_bytes(pairs, i, o, cfg.mlp.hidden as f64),
            _ => kernel_bytes(pairs, i, o)
                .max(cluster_bytes(i, o))
                .max(mlp_bytes(pairs, i, o, cfg.mlp.hidden as f64)),
        };
        peak += sample + adapter;
    }
    peak
}

/// Features of every sample against every landmark, the landmarks' Gram matrix and its
/// solve, in f64.
fn kernel_bytes(pairs: f64, i: f64, o: f64) -> f64 {
    let m = MAX_LANDMARKS as f64;
    8.0 * (2.0 * pairs * m + 3.0 * m * m + m * (i + o))
}

/// One set of centred statistics a cluster.
fn cluster_bytes(i: f64, o: f64) -> f64 {
    CLUSTER_GRID[CLUSTER_GRID.len() - 1] as f64 * 8.0 * (i * i + i * o)
}

/// Weights, AdamW's two moments and gradients, and one pass's activations, in f32.
fn mlp_bytes(pairs: f64, i: f64, o: f64, hidden: f64) -> f64 {
    let weights = i * o + i * hidden + hidden * o;
    4.0 * (4.0 * weights + pairs * (2.0 * hidden + 2.0 * o))
}

/// `12.3 GiB`.
pub fn human(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_the_square_of_the_input_dimension() {
        let cfg = FitConfig {
            method: Method::Ridge,
            ..FitConfig::default()
        };
        let small = fit_peak_bytes(768, 1024, &cfg);
        let huge = fit_peak_bytes(65_536, 65_536, &cfg);
        // 768 → 1024: hundreds of MiB, not GiB.
        assert!(small > 100e6 && small < 2e9, "{}", human(small));
        // One XᵀX of 65,536-d inputs is 32 GiB; the fit holds several.
        assert!(huge > 6.0 * 32.0 * (1u64 << 30) as f64, "{}", human(huge));
        let auto = fit_peak_bytes(768, 1024, &FitConfig::default());
        assert!(auto > small, "the adapters' samples add to the linear fit");
        assert!(fit_peak_bytes(usize::MAX, usize::MAX, &cfg).is_finite());
        assert_eq!(human(1536.0), "1.5 KiB");
    }
}
