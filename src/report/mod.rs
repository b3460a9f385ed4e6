//! Rendering an [`EvalReport`](shimkit_trainer::eval::EvalReport) for people: a table for
//! the terminal and a self-contained HTML page with charts.

pub mod html;
pub mod table;

use shimkit_trainer::eval::CostReport;

/// The cost model's stated inputs, in words (the terminal and the page both show them).
pub fn cost_inputs(c: &CostReport) -> String {
    let i = &c.inputs;
    format!(
        "{} documents of {} tokens, ${} per million tokens, {} documents/s",
        i.docs, i.tokens_per_doc, i.usd_per_million_tokens, i.embed_docs_per_second
    )
}

/// What the shim cost in this run, in words.
pub fn shim_cost(c: &CostReport) -> String {
    let m = &c.measured;
    format!(
        "fit {:.2} s on {} pairs; projection {:.0} vectors/s ({:.2} h for the corpus); {:.1} µs to map one query",
        m.fit_seconds,
        m.fit_pairs,
        m.project_vectors_per_second,
        c.shim_project_hours,
        m.query_map_microseconds
    )
}
