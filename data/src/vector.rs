//! Row norms, computed one way everywhere: validating rows, normalising them, summing them.

use ndarray::{Array2, Axis};

/// ‖r‖²: squares summed in eight f32 lanes (so the loop vectorises; each lane holds d/8
/// terms) and the lanes combined in f64, ~1e-7 relative. NaN and infinities propagate, so
/// a finite, positive result also certifies the row as usable.
pub fn squared_norm(r: &[f32]) -> f64 {
    let mut lanes = [0f32; 8];
    let chunks = r.chunks_exact(8);
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum();
    for c in chunks {
        for k in 0..8 {
            lanes[k] += c[k] * c[k];
        }
    }
    lanes.iter().map(|&l| l as f64).sum::<f64>() + tail
}

/// Rows scaled to unit length; zero rows stay zero.
pub fn normalize_rows(mut a: Array2<f32>) -> Array2<f32> {
    for mut row in a.axis_iter_mut(Axis(0)) {
        let norm = match row.as_slice() {
            Some(r) => squared_norm(r),
            None => row.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>(),
        }
        .sqrt();
        if norm > 0.0 {
            let inv = (1.0 / norm) as f32;
            row.mapv_inplace(|v| v * inv);
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_obvious_sum_and_normalises() {
        let r: Vec<f32> = (0..771)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let obvious: f64 = r.iter().map(|&v| (v as f64) * (v as f64)).sum();
        assert!((squared_norm(&r) - obvious).abs() <= 1e-6 * obvious);
        assert!(squared_norm(&[1.0, f32::NAN]).is_nan());
        let a = normalize_rows(
            Array2::from_shape_vec((2, 3), vec![3.0, 0.0, 4.0, 0.0, 0.0, 0.0]).unwrap(),
        );
        assert_eq!(a.row(0).to_vec(), vec![0.6, 0.0, 0.8]);
        assert_eq!(a.row(1).to_vec(), vec![0.0, 0.0, 0.0]);
    }
}
