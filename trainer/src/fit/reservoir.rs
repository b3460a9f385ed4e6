//! A bounded sample of training pairs for the non-linear adapters, chosen by seeded id
//! hash so that it does not depend on the input's row order.

use ndarray::Array2;

/// A bounded, row-order-independent sample of pairs: those whose seeded id hash is lowest.
pub(super) struct Reservoir {
    cap: usize,
    d_in: usize,
    d_out: usize,
    keys: Vec<u64>,
    folds: Vec<usize>,
    x: Vec<f32>,
    y: Vec<f32>,
}

impl Reservoir {
    pub(super) fn new(cap: usize, d_in: usize, d_out: usize) -> Self {
        Reservoir {
            cap,
            d_in,
            d_out,
            keys: Vec::new(),
            folds: Vec::new(),
            x: Vec::new(),
            y: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, key: u64, fold: usize, x: &[f32], y: &[f32]) {
        if self.cap == 0 {
            return;
        }
        self.keys.push(key);
        self.folds.push(fold);
        self.x.extend_from_slice(x);
        self.y.extend_from_slice(y);
        if self.keys.len() >= 2 * self.cap {
            *self = self.compacted();
        }
    }

    /// The `cap` rows of lowest key, in key order.
    fn compacted(&self) -> Reservoir {
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_unstable_by_key(|&i| (self.keys[i], i));
        order.truncate(self.cap);
        let mut out = Reservoir::new(self.cap, self.d_in, self.d_out);
        for i in order {
            out.keys.push(self.keys[i]);
            out.folds.push(self.folds[i]);
            out.x
                .extend_from_slice(&self.x[i * self.d_in..(i + 1) * self.d_in]);
            out.y
                .extend_from_slice(&self.y[i * self.d_out..(i + 1) * self.d_out]);
        }
        out
    }

    /// Inputs, targets and tuning folds of the kept rows, in key order.
    pub(super) fn sorted(&self) -> (Array2<f32>, Array2<f32>, Vec<usize>) {
        let r = self.compacted();
        let n = r.keys.len();
        (
            Array2::from_shape_vec((n, self.d_in), r.x).expect("reservoir shape"),
            Array2::from_shape_vec((n, self.d_out), r.y).expect("reservoir shape"),
            r.folds,
        )
    }
}
