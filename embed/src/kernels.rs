//! The element-wise work of BERT's layers as loops the compiler vectorises: exp and erf
//! without a libm call (which kept the loops scalar and took a sixth of the run,
//! BENCHMARKS.md), a softmax over a row's first keys and a bias with an activation.
//!
//! exp is Cephes' `expf` (a degree-6 polynomial on [−ln2/2, ln2/2] scaled by 2ⁿ), erf is
//! Eigen's rational approximation on [−4, 4]; the tests hold both to libm in f64.

/// eˣ for x ≤ 88; below −87 it gives e⁻⁸⁷ (about 1.6e−38) instead of a subnormal.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts, so that x − n ln2 is exact for the n that occur.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer without a call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_2e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// erf(x): x·P(x²)/Q(x²) on [−4, 4], ±1 beyond (where f32's erf is ±1).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = -2.726_142_3e-10;
    let p = p * x2 + 2.770_681_4e-8;
    let p = p * x2 + -2.101_024e-6;
    let p = p * x2 + -5.692_506_4e-5;
    let p = p * x2 + -7.349_906_3e-4;
    let p = p * x2 + -2.954_6e-3;
    let p = p * x2 + -1.609_603_3e-2;
    let q = -1.456_607_2e-5;
    let q = q * x2 + -2.133_740_6e-4;
    let q = q * x2 + -1.682_827e-3;
    let q = q * x2 + -7.373_329e-3;
    let q = q * x2 + -1.426_474e-2;
    x * p / q
}

/// `out` = softmax of `scores[..keys]`, zero beyond: the keys after a text's length are
/// padding.
pub fn softmax_prefix(scores: &[f32], keys: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { softmax_prefix_avx2(scores, keys, out) };
    }
    softmax_prefix_any(scores, keys, out)
}

/// `out` = f(x + bias), element by element.
pub fn bias_map<F: Fn(f32) -> f32>(x: &[f32], bias: &[f32], out: &mut [f32], f: F) {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { bias_map_avx2(x, bias, out, f) };
    }
    bias_map_any(x, bias, out, f)
}

// The same loops compiled for 8 floats a vector instead of SSE2's 4, chosen at run time.
#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_prefix_avx2(scores: &[f32], keys: usize, out: &mut [f32]) {
    softmax_prefix_any(scores, keys, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn bias_map_avx2<F: Fn(f32) -> f32>(x: &[f32], bias: &[f32], out: &mut [f32], f: F) {
    bias_map_any(x, bias, out, f)
}

#[inline(always)]
fn softmax_prefix_any(scores: &[f32], keys: usize, out: &mut [f32]) {
    let (scores, (kept, padding)) = (&scores[..keys], out.split_at_mut(keys));
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    for (o, &s) in kept.iter_mut().zip(scores) {
        *o = exp(s - max);
    }
    let inv = 1.0 / kept.iter().sum::<f32>();
    kept.iter_mut().for_each(|o| *o *= inv);
    padding.fill(0.0);
}

#[inline(always)]
fn bias_map_any<F: Fn(f32) -> f32>(x: &[f32], bias: &[f32], out: &mut [f32], f: F) {
    for ((o, x), b) in out.iter_mut().zip(x).zip(bias) {
        *o = f(x + b);
    }
}

/// x Φ(x) with the error function: Hugging Face's `gelu`.
#[inline(always)]
pub fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// The tanh approximation of GELU (`gelu_new`), tanh from [`exp`].
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
    let c = (2.0f32 / std::f32::consts::PI).sqrt();
    let u = c * (x + 0.044_715 * x * x * x);
    // 1 + tanh(u) = 2 / (1 + e^(−2u)).
    x / (1.0 + exp(-2.0 * u))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(from: f64, to: f64, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| (from + (to - from) * i as f64 / n as f64) as f32)
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm_where_softmax_uses_it() {
        let mut worst = 0f64;
        for x in grid(-87.0, 88.0, 1_000_000) {
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64) - want).abs() / want);
        }
        assert!(worst < 2.5e-7, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) < 2e-38 && exp(-1000.0) >= 0.0);
    }

    #[test]
    fn erf_is_within_a_few_ulp_of_libm() {
        let mut worst = 0f64;
        for x in grid(-8.0, 8.0, 1_000_000) {
            let want = libm_erf(x as f64);
            worst = worst.max(((erf(x) as f64) - want).abs());
        }
        assert!(worst < 5e-7, "absolute error {worst}");
    }

    /// erf in f64 by its Taylor series (|x| < 3) and its continued fraction beyond: slow
    /// and obvious.
    fn libm_erf(x: f64) -> f64 {
        if x.abs() >= 6.0 {
            return x.signum();
        }
        // Σ (−1)ⁿ x^(2n+1) / (n! (2n+1)) in f64: below 3 its largest term is under 200,
        // so cancellation costs under 1e−13.
        if x.abs() < 3.0 {
            let (mut term, mut sum, mut n) = (x, x, 0.0);
            while term.abs() > 1e-20 {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            return sum * 2.0 / std::f64::consts::PI.sqrt();
        }
        // erfc(x) = e^(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...))))).
        let a = x.abs();
        let mut f = a;
        for k in (1..200).rev() {
            f = a + (k as f64 / 2.0) / f;
        }
        let erfc = (-a * a).exp() / std::f64::consts::PI.sqrt() / f;
        x.signum() * (1.0 - erfc)
    }

    #[test]
    fn the_reference_erf_is_right_where_it_is_known() {
        // erf(1), erf(0.5), erf(2), erf(3.5) to 1e−12 (Abramowitz and Stegun, table 7.1).
        for (x, want) in [
            (0.5, 0.520_499_877_813_047),
            (1.0, 0.842_700_792_949_715),
            (2.0, 0.995_322_265_018_953),
            (3.5, 0.999_999_256_901_628),
        ] {
            assert!(
                (libm_erf(x) - want).abs() < 1e-12,
                "erf({x}) = {}",
                libm_erf(x)
            );
        }
    }

    #[test]
    fn softmax_prefix_sums_to_one_over_the_text_and_zero_over_padding() {
        let scores = [3.0f32, -1.0, 0.5, 100.0, 7.0];
        let mut out = [9.0f32; 5];
        softmax_prefix(&scores, 3, &mut out);
        let e: Vec<f64> = scores[..3]
            .iter()
            .map(|s| (*s as f64 - 3.0).exp())
            .collect();
        let sum: f64 = e.iter().sum();
        for j in 0..3 {
            assert!((out[j] as f64 - e[j] / sum).abs() < 1e-7, "{out:?}");
        }
        assert_eq!(&out[3..], &[0.0, 0.0]);
    }

    #[test]
    fn gelu_tanh_is_the_tanh_formula() {
        for x in grid(-10.0, 10.0, 10_000) {
            let x64 = x as f64;
            let c = (2.0 / std::f64::consts::PI).sqrt();
            let want = 0.5 * x64 * (1.0 + (c * (x64 + 0.044715 * x64.powi(3))).tanh());
            assert!(
                (gelu_tanh(x) as f64 - want).abs() < 1e-6 * (1.0 + want.abs()),
                "{x}"
            );
        }
    }
}
