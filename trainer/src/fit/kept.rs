//! The held-out pairs the candidates are scored on: at most `cap`, those whose seeded id
//! hash is lowest. Which pairs they are then depends neither on the input's row order nor
//! on how the input was split across partitions or machines, so accumulators merged in any
//! order keep the same ones.

use std::collections::BinaryHeap;

use ndarray::Array2;

pub(super) struct Kept {
    cap: usize,
    d_in: usize,
    d_out: usize,
    keys: Vec<u64>,
    x: Vec<f32>,
    y: Vec<f32>,
    /// (key, slot) of every kept row: its top is the row a lower key replaces.
    heap: BinaryHeap<(u64, usize)>,
}

impl Kept {
    pub(super) fn new(cap: usize, d_in: usize, d_out: usize) -> Self {
        Kept {
            cap,
            d_in,
            d_out,
            keys: Vec::new(),
            x: Vec::new(),
            y: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(super) fn push(&mut self, key: u64, x: &[f32], y: &[f32]) {
        if self.keys.len() < self.cap {
            self.heap.push((key, self.keys.len()));
            self.keys.push(key);
            self.x.extend_from_slice(x);
            self.y.extend_from_slice(y);
            return;
        }
        let Some(&(top, slot)) = self.heap.peek() else {
            return;
        };
        if key < top {
            self.heap.pop();
            self.heap.push((key, slot));
            self.keys[slot] = key;
            self.x[slot * self.d_in..(slot + 1) * self.d_in].copy_from_slice(x);
            self.y[slot * self.d_out..(slot + 1) * self.d_out].copy_from_slice(y);
        }
    }

    /// Keeps the lowest keys of both.
    pub(super) fn merge(&mut self, other: &Kept) {
        for (i, &key) in other.keys.iter().enumerate() {
            let (x, y) = other.row(i);
            self.push(key, x, y);
        }
    }

    pub(super) fn row(&self, i: usize) -> (&[f32], &[f32]) {
        (
            &self.x[i * self.d_in..(i + 1) * self.d_in],
            &self.y[i * self.d_out..(i + 1) * self.d_out],
        )
    }

    pub(super) fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// Inputs and targets of the kept rows, in key order.
    pub(super) fn sorted(&self) -> (Array2<f32>, Array2<f32>) {
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_unstable_by_key(|&i| (self.keys[i], i));
        let mut x = Vec::with_capacity(self.x.len());
        let mut y = Vec::with_capacity(self.y.len());
        for i in order {
            let (xi, yi) = self.row(i);
            x.extend_from_slice(xi);
            y.extend_from_slice(yi);
        }
        let n = self.keys.len();
        (
            Array2::from_shape_vec((n, self.d_in), x).expect("kept shape"),
            Array2::from_shape_vec((n, self.d_out), y).expect("kept shape"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_lowest_keys_whatever_the_order_and_the_partitioning() {
        let keys: Vec<u64> = (0..500u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let row = |k: u64| ([k as f32, 1.0], [2.0, k as f32 * 0.5]);
        let mut forward = Kept::new(37, 2, 2);
        keys.iter().for_each(|&k| {
            let (x, y) = row(k);
            forward.push(k, &x, &y)
        });
        let (mut a, mut b) = (Kept::new(37, 2, 2), Kept::new(37, 2, 2));
        for (i, &k) in keys.iter().rev().enumerate() {
            let (x, y) = row(k);
            if i % 3 == 0 {
                a.push(k, &x, &y)
            } else {
                b.push(k, &x, &y)
            }
        }
        b.merge(&a);
        let mut lowest = keys.clone();
        lowest.sort_unstable();
        lowest.truncate(37);
        let (fx, fy) = forward.sorted();
        let (mx, my) = b.sorted();
        assert_eq!(fx, mx);
        assert_eq!(fy, my);
        let first_column: Vec<f32> = fx.column(0).to_vec();
        assert_eq!(
            first_column,
            lowest.iter().map(|&k| k as f32).collect::<Vec<_>>()
        );
    }
}
