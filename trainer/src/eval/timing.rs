//! What the shims cost in this run: the slowest fit, and the measured speed of projecting
//! the corpus and of mapping one query, for the cost model.

use std::time::Instant;

use ndarray::ArrayView2;

use super::cost::ShimTimings;
use super::data::EvalData;
use super::report::FitRecord;
use super::shims::MethodShims;
use crate::shim::Shim;

/// Times the doc-side projection and the query-side map of the first method's shims.
pub(super) fn measure(data: &EvalData, methods: &[MethodShims], fits: &[FitRecord]) -> ShimTimings {
    let slowest = fits.iter().max_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let mut t = ShimTimings {
        fit_seconds: slowest.map_or(0.0, |f| f.seconds),
        fit_pairs: slowest.map_or(0, |f| f.pairs),
        ..Default::default()
    };
    if let Some(first) = methods.first() {
        t.project_vectors_per_second = throughput(&first.doc, data.old_docs.view());
        let rate = throughput(&first.query, data.new_queries.view());
        t.query_map_microseconds = if rate > 0.0 { 1e6 / rate } else { f64::NAN };
    }
    t
}

/// Vectors per second through `shim.apply`, repeated until 0.2 s have passed.
fn throughput(shim: &Shim, x: ArrayView2<'_, f32>) -> f64 {
    if x.nrows() == 0 {
        return 0.0;
    }
    let t = Instant::now();
    let mut done = 0usize;
    while t.elapsed().as_secs_f64() < 0.2 {
        if shim.apply(x, true).is_err() {
            return 0.0;
        }
        done += x.nrows();
    }
    done as f64 / t.elapsed().as_secs_f64()
}
