//! What each path costs at the scale of the user's real corpus: re-embedding through an
//! embedding API (priced from stated inputs) against the shim's fit and projection time
//! (measured in this run, on this machine).

use serde::Serialize;

/// The stated inputs of the cost model; every one is a flag of `shimkit eval`.
#[derive(Debug, Clone, Serialize)]
pub struct CostInputs {
    /// Documents in the production corpus.
    pub docs: u64,
    pub tokens_per_doc: f64,
    /// Price of the new model's embedding API, US dollars per million tokens.
    pub usd_per_million_tokens: f64,
    /// Re-embedding throughput, documents per second.
    pub embed_docs_per_second: f64,
}

impl Default for CostInputs {
    /// 10M documents of 500 tokens at $0.10 per million tokens and 100 documents/s: $500
    /// and 28 hours, inside the $200–1500 and 12–72 h that API re-embeds cost in practice.
    fn default() -> Self {
        CostInputs {
            docs: 10_000_000,
            tokens_per_doc: 500.0,
            usd_per_million_tokens: 0.10,
            embed_docs_per_second: 100.0,
        }
    }
}

/// What this run measured of the shim, per unit of work.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ShimTimings {
    /// Wall time of the slowest single fit in the report (method `auto` tunes them all).
    pub fit_seconds: f64,
    pub fit_pairs: usize,
    /// Doc-side projection throughput on this machine, vectors per second.
    pub project_vectors_per_second: f64,
    /// Query-side map of one query, microseconds (in a batch, in process).
    pub query_map_microseconds: f64,
}

/// Re-embedding a share of the corpus.
#[derive(Debug, Clone, Serialize)]
pub struct ReembedCost {
    pub fraction: f64,
    pub tokens: f64,
    pub usd: f64,
    pub hours: f64,
}

impl ReembedCost {
    /// Re-embedding `docs` documents at `inputs`' tokens, price and throughput (`fraction`
    /// is of `inputs.docs`).
    pub fn of_docs(inputs: &CostInputs, docs: f64) -> ReembedCost {
        let tokens = docs * inputs.tokens_per_doc;
        ReembedCost {
            fraction: if inputs.docs > 0 {
                docs / inputs.docs as f64
            } else {
                0.0
            },
            tokens,
            usd: tokens / 1e6 * inputs.usd_per_million_tokens,
            hours: docs / inputs.embed_docs_per_second.max(f64::MIN_POSITIVE) / 3600.0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub inputs: CostInputs,
    pub measured: ShimTimings,
    /// Full re-embed, then each backfill fraction.
    pub reembed: Vec<ReembedCost>,
    /// Projecting every document of the corpus with the doc-side shim, at the measured rate.
    pub shim_project_hours: f64,
}

impl CostReport {
    pub fn new(inputs: CostInputs, measured: ShimTimings, fractions: &[f64]) -> Self {
        let reembed = std::iter::once(1.0)
            .chain(fractions.iter().copied())
            .map(|fraction| ReembedCost {
                fraction,
                ..ReembedCost::of_docs(&inputs, inputs.docs as f64 * fraction)
            })
            .collect();
        let shim_project_hours = if measured.project_vectors_per_second > 0.0 {
            inputs.docs as f64 / measured.project_vectors_per_second / 3600.0
        } else {
            f64::NAN
        };
        CostReport {
            inputs,
            measured,
            reembed,
            shim_project_hours,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_inputs_price_a_full_reembed_by_hand() {
        let r = CostReport::new(
            CostInputs::default(),
            ShimTimings {
                project_vectors_per_second: 1e6,
                ..Default::default()
            },
            &[0.25],
        );
        // 10M × 500 tokens = 5e9 tokens; × $0.10/M = $500; 10M / 100/s = 27.8 h.
        assert_eq!(r.reembed[0].tokens, 5e9);
        assert!((r.reembed[0].usd - 500.0).abs() < 1e-9);
        assert!((r.reembed[0].hours - 1e7 / 100.0 / 3600.0).abs() < 1e-9);
        assert!((r.reembed[1].usd - 125.0).abs() < 1e-9);
        assert!((r.shim_project_hours - 10.0 / 3600.0).abs() < 1e-12);
    }
}
