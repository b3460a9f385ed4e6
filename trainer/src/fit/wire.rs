//! A [`PairAccumulator`] that travels: merged with another one, and written to bytes and
//! read back. This is what lets a fit's statistics be gathered in parts (partitions of a
//! query, machines of a cluster) and finished in one place exactly as one pass would:
//! every part of the split is decided by id hash, the statistics add up, and the kept
//! held-out pairs are the lowest hashes of all.
//!
//! The bytes are little-endian: a header (magic, dimensions, the split's settings, pair
//! count and id fingerprint), then n, Σx, Σy, XᵀX, XᵀY and Σ‖y‖² of each tuning fold and
//! of the held-out split in f64, then the kept held-out pairs' keys and vectors.

use ndarray::{Array1, Array2};

use super::kept::Kept;
use super::{FitConfig, PairAccumulator};
use crate::error::{Result, TrainError};
use crate::hash::Fingerprint;
use crate::stats::PairStats;

const MAGIC: &[u8; 8] = b"SHIMFS1\0";

fn invalid(message: String) -> TrainError {
    TrainError::Invalid {
        what: "fit statistics",
        message,
    }
}

impl PairAccumulator {
    pub fn d_in(&self) -> usize {
        self.heldout.stats.d_in()
    }

    pub fn d_out(&self) -> usize {
        self.heldout.stats.d_out()
    }

    /// Refuses to combine accumulators whose pairs were split or kept differently.
    fn check_compatible(&self, d_in: usize, d_out: usize, cfg: &FitConfig) -> Result<()> {
        if (d_in, d_out) != (self.d_in(), self.d_out()) {
            return Err(invalid(format!(
                "pairs of {d_in} → {d_out} dimensions cannot join pairs of {} → {}",
                self.d_in(),
                self.d_out()
            )));
        }
        let ours = &self.cfg;
        if (cfg.seed, cfg.folds.max(2), cfg.max_heldout)
            != (ours.seed, ours.folds.max(2), ours.max_heldout)
            || cfg.val_frac.to_bits() != ours.val_frac.to_bits()
        {
            return Err(invalid(format!(
                "gathered with seed {}, {} folds, validation share {} and {} kept pairs; this fit uses seed {}, {} folds, {} and {}",
                cfg.seed,
                cfg.folds.max(2),
                cfg.val_frac,
                cfg.max_heldout,
                ours.seed,
                ours.folds.max(2),
                ours.val_frac,
                ours.max_heldout
            )));
        }
        if ours.fits_adapters() || cfg.fits_adapters() {
            return Err(invalid(
                "only the linear methods (ridge, procrustes, lowrank, and auto among them) are fitted from merged statistics"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Adds `other`'s pairs to these, as if they had been added here.
    pub fn merge(&mut self, mut other: PairAccumulator) -> Result<()> {
        self.check_compatible(other.d_in(), other.d_out(), &other.cfg.clone())?;
        other.flush();
        self.flush();
        for (mine, theirs) in self.folds.iter_mut().zip(&other.folds) {
            mine.stats.merge(&theirs.stats);
        }
        self.heldout.stats.merge(&other.heldout.stats);
        self.kept.merge(&other.kept);
        self.pairs += other.pairs;
        self.fingerprint.merge(other.fingerprint);
        Ok(())
    }

    /// The accumulator as bytes that [`PairAccumulator::from_bytes`] reads back.
    pub fn to_bytes(&mut self) -> Result<Vec<u8>> {
        if self.cfg.fits_adapters() {
            return Err(invalid(
                "only the linear methods' statistics can be written out".into(),
            ));
        }
        self.flush();
        let (d_in, d_out) = (self.d_in(), self.d_out());
        let parts = self.folds.len() + 1;
        let kept = self.kept.len();
        let mut out = Vec::with_capacity(
            64 + parts * 8 * (2 + d_in + d_out + d_in * d_in + d_in * d_out)
                + kept * (8 + 4 * (d_in + d_out)),
        );
        out.extend_from_slice(MAGIC);
        let (count, sum) = self.fingerprint.parts();
        for v in [
            d_in as u64,
            d_out as u64,
            self.folds.len() as u64,
            self.cfg.seed,
            self.cfg.val_frac.to_bits(),
            self.cfg.max_heldout as u64,
            self.pairs as u64,
            count,
            sum,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for part in self.folds.iter().chain(std::iter::once(&self.heldout)) {
            let s = &part.stats;
            out.extend_from_slice(&s.n.to_le_bytes());
            let values = (s.sum_x.iter().chain(s.sum_y.iter()))
                .chain(s.xtx.iter())
                .chain(s.xty.iter());
            values.for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            out.extend_from_slice(&s.yy.to_le_bytes());
        }
        out.extend_from_slice(&(kept as u64).to_le_bytes());
        self.kept
            .keys()
            .iter()
            .for_each(|k| out.extend_from_slice(&k.to_le_bytes()));
        for i in 0..kept {
            let (x, y) = self.kept.row(i);
            x.iter()
                .chain(y)
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        }
        Ok(out)
    }

    /// Reads what [`PairAccumulator::to_bytes`] wrote, checking its length before
    /// allocating and its split against `cfg`'s: statistics gathered with another seed,
    /// validation share or number of folds would give another fit.
    pub fn from_bytes(bytes: &[u8], cfg: FitConfig) -> Result<PairAccumulator> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8)? != MAGIC {
            return Err(invalid("not shimkit's fit statistics (wrong magic)".into()));
        }
        let header: Vec<u64> = (0..9).map(|_| r.u64()).collect::<Result<_>>()?;
        let [
            d_in,
            d_out,
            folds,
            seed,
            val_frac,
            max_heldout,
            pairs,
            count,
            sum,
        ] = header[..].try_into().expect("nine fields");
        let size = |v: u64, what: &str| {
            usize::try_from(v)
                .ok()
                .filter(|&v| v <= shimkit_data::MAX_DIM)
                .ok_or_else(|| invalid(format!("{what} {v} is out of range")))
        };
        let (d_in, d_out, folds) = (
            size(d_in, "d_in")?,
            size(d_out, "d_out")?,
            size(folds, "folds")?,
        );
        let theirs = FitConfig {
            seed,
            val_frac: f64::from_bits(val_frac),
            folds,
            max_heldout: usize::try_from(max_heldout).unwrap_or(usize::MAX),
            method: cfg.method,
            ..cfg.clone()
        };
        let stats_len = d_in
            .checked_mul(d_in)
            .and_then(|xx| d_in.checked_mul(d_out).and_then(|xy| xx.checked_add(xy)))
            .and_then(|m| m.checked_add(d_in + d_out + 2))
            .and_then(|m| m.checked_mul(8 * (folds + 1)));
        match stats_len {
            Some(len) if len <= r.remaining() => {}
            _ => {
                return Err(invalid(format!(
                    "{} bytes cannot hold the statistics of {folds} folds of {d_in} → {d_out} pairs",
                    bytes.len()
                )));
            }
        }
        let mut acc = PairAccumulator::new(d_in, d_out, cfg)?;
        acc.check_compatible(d_in, d_out, &theirs)?;
        if folds != acc.folds.len() {
            return Err(invalid(format!(
                "{folds} folds written, {} expected",
                acc.folds.len()
            )));
        }
        let mut parts = Vec::with_capacity(folds + 1);
        for _ in 0..=folds {
            let n = r.u64()?;
            let sum_x = Array1::from_vec(r.f64s(d_in)?);
            let sum_y = Array1::from_vec(r.f64s(d_out)?);
            let xtx = Array2::from_shape_vec((d_in, d_in), r.f64s(d_in * d_in)?).expect("shape");
            let xty = Array2::from_shape_vec((d_in, d_out), r.f64s(d_in * d_out)?).expect("shape");
            let yy = r.f64()?;
            parts.push(PairStats {
                n,
                sum_x,
                sum_y,
                xtx,
                xty,
                yy,
            });
        }
        let heldout = parts.pop().expect("folds + 1 parts");
        for (buffer, stats) in acc.folds.iter_mut().zip(parts) {
            buffer.stats = stats;
        }
        acc.heldout.stats = heldout;
        let kept = r.u64()?;
        let row_bytes = 8 + 4 * (d_in + d_out);
        let kept = usize::try_from(kept)
            .ok()
            .filter(|&k| {
                k <= acc.cfg.max_heldout && k.checked_mul(row_bytes) == Some(r.remaining())
            })
            .ok_or_else(|| {
                invalid(format!(
                    "{kept} kept pairs do not match the {} bytes left",
                    r.remaining()
                ))
            })?;
        let keys: Vec<u64> = (0..kept).map(|_| r.u64()).collect::<Result<_>>()?;
        let mut rows = Kept::new(acc.cfg.max_heldout, d_in, d_out);
        for key in keys {
            let x = r.f32s(d_in)?;
            let y = r.f32s(d_out)?;
            rows.push(key, &x, &y);
        }
        acc.kept = rows;
        acc.pairs = usize::try_from(pairs).map_err(|_| invalid(format!("{pairs} pairs")))?;
        acc.fingerprint = Fingerprint::from_parts(count, sum);
        Ok(acc)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if n > self.remaining() {
            return Err(invalid(format!(
                "cut short: {n} bytes wanted at byte {} of {}",
                self.at,
                self.bytes.len()
            )));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }

    fn f64s(&mut self, n: usize) -> Result<Vec<f64>> {
        let bytes = self.take(n * 8)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }

    fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        let bytes = self.take(n * 4)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;
    use crate::method::Method;

    fn pairs(
        n: usize,
        d_in: usize,
        d_out: usize,
        salt: usize,
    ) -> (Vec<String>, Array2<f32>, Array2<f32>) {
        let ids = (0..n).map(|i| format!("doc-{}", i + salt)).collect();
        let x = Array2::from_shape_fn((n, d_in), |(i, j)| {
            (((i + salt) * 31 + j * 17) % 23) as f32 - 11.0 + 0.5
        });
        let y = Array2::from_shape_fn((n, d_out), |(i, j)| {
            x[[i, j % d_in]] * 0.7 + ((i + salt + j) % 5) as f32 * 0.1
        });
        (ids, x, y)
    }

    fn cfg(method: Method) -> FitConfig {
        FitConfig {
            method,
            linear_only: true,
            max_heldout: 40,
            ..FitConfig::default()
        }
    }

    #[test]
    fn parts_merged_in_any_order_give_the_fit_of_one_pass() {
        let (d_in, d_out) = (6, 5);
        let chunks: Vec<_> = (0..4).map(|c| pairs(150, d_in, d_out, c * 150)).collect();
        let mut whole = PairAccumulator::new(d_in, d_out, cfg(Method::Auto)).unwrap();
        for (ids, x, y) in &chunks {
            whole.add(ids, x.view(), y.view()).unwrap();
        }
        // Two parts, each through bytes, merged in the other order.
        let mut parts: Vec<PairAccumulator> = (0..2)
            .map(|p| {
                let mut acc = PairAccumulator::new(d_in, d_out, cfg(Method::Auto)).unwrap();
                for (ids, x, y) in chunks.iter().skip(p).step_by(2) {
                    acc.add(ids, x.view(), y.view()).unwrap();
                }
                let bytes = acc.to_bytes().unwrap();
                PairAccumulator::from_bytes(&bytes, cfg(Method::Auto)).unwrap()
            })
            .collect();
        let mut merged = parts.pop().unwrap();
        merged.merge(parts.pop().unwrap()).unwrap();
        let a = whole.finish().unwrap();
        let b = merged.finish().unwrap();
        assert_eq!(a.pairs, b.pairs);
        assert_eq!(a.ids_fingerprint, b.ids_fingerprint);
        assert_eq!(a.scored_pairs, b.scored_pairs);
        assert_eq!(a.chosen.method, b.chosen.method);
        // λ is searched on a continuous scale; the statistics differ in their last bits.
        let (la, lb) = (a.chosen.lambda.unwrap(), b.chosen.lambda.unwrap());
        assert!((la - lb).abs() <= 1e-6 * la, "λ {la} vs {lb}");
        assert_eq!(a.candidates.len(), 3, "auto among the linear methods only");
        let scale = a.map.weight.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let diff = (&a.map.weight - &b.map.weight)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            diff <= 1e-6 * scale,
            "weights differ by {diff} (scale {scale})"
        );
    }

    #[test]
    fn bytes_cut_short_or_from_another_split_are_refused() {
        let (ids, x, y) = pairs(100, 4, 3, 0);
        let mut acc = PairAccumulator::new(4, 3, cfg(Method::Ridge)).unwrap();
        acc.add(&ids, x.view(), y.view()).unwrap();
        let bytes = acc.to_bytes().unwrap();
        for cut in [0, 7, 8, 50, bytes.len() - 1] {
            let e = PairAccumulator::from_bytes(&bytes[..cut], cfg(Method::Ridge))
                .err()
                .unwrap_or_else(|| panic!("{cut} bytes accepted"));
            assert!(e.to_string().contains("fit statistics"), "{e}");
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 8]);
        assert!(PairAccumulator::from_bytes(&longer, cfg(Method::Ridge)).is_err());
        let other_seed = FitConfig {
            seed: 9,
            ..cfg(Method::Ridge)
        };
        let e = PairAccumulator::from_bytes(&bytes, other_seed)
            .err()
            .unwrap();
        assert!(e.to_string().contains("seed 0"), "{e}");
        // A header claiming dimensions the bytes cannot hold is refused before allocating.
        let mut huge = bytes.clone();
        huge[8..16].copy_from_slice(&(1u64 << 24).to_le_bytes());
        let e = PairAccumulator::from_bytes(&huge, cfg(Method::Ridge))
            .err()
            .unwrap();
        assert!(e.to_string().contains("cannot hold"), "{e}");
        let adapters = FitConfig {
            method: Method::Kernel,
            linear_only: false,
            ..FitConfig::default()
        };
        assert!(
            PairAccumulator::new(4, 3, adapters)
                .unwrap()
                .to_bytes()
                .is_err()
        );
    }
}
