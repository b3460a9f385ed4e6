//! `shimkit inspect S.safetensors`: what a shim artifact holds, from its metadata.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use shimkit_trainer::{Shim, ShimMeta, artifact};

use super::fit::{candidate_row, candidates_header};
use shimkit_trainer::human_bytes;

/// Whether `path` names a shim artifact rather than a table.
pub fn is_shim(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e == "safetensors")
}

#[derive(Serialize)]
struct ShimReport<'a> {
    file: String,
    file_bytes: u64,
    /// Every stored value: weight, bias and the adapter's tensors.
    stored_values: usize,
    #[serde(flatten)]
    meta: &'a ShimMeta,
}

pub fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let shim = artifact::load(path).with_context(|| format!("inspecting {}", path.display()))?;
    let report = ShimReport {
        file: path.display().to_string(),
        file_bytes: std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .len(),
        stored_values: stored_values(&shim),
        meta: &shim.meta,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(())
}

fn stored_values(shim: &Shim) -> usize {
    shim.weight.len() + shim.bias.len() + shim.adapter.as_ref().map_or(0, |a| a.parameters())
}

fn print(r: &ShimReport<'_>) {
    let m = r.meta;
    println!(
        "shim        {} ({}, {} stored values)",
        r.file,
        human_bytes(r.file_bytes as f64),
        r.stored_values
    );
    println!(
        "method      {}{}",
        m.method,
        m.adapter.map(|p| format!(" ({p})")).unwrap_or_default()
    );
    println!(
        "direction   {}: {} ({}-d) -> {} ({}-d)",
        m.direction, m.source_model, m.source_dim, m.target_model, m.target_dim
    );
    let lambda = m.lambda.map(|l| format!(", λ {l:.3e}")).unwrap_or_default();
    let rank = m.rank.map(|r| format!(", rank {r}")).unwrap_or_default();
    println!(
        "fitted      on {} pairs{lambda}{rank} (ids {})",
        m.pairs, m.train_ids_fingerprint
    );
    if let Some(cos) = m.heldout_cosine {
        println!(
            "held out    mean cosine {cos:.4} on {} pairs",
            m.heldout_pairs
        );
    }
    println!(
        "vectors     inputs {}, outputs {} by default{}",
        if m.normalize_input {
            "L2-normalised"
        } else {
            "as given"
        },
        if m.normalize_output {
            "L2-normalised"
        } else {
            "as computed"
        },
        if m.bias_dropped { "; bias dropped" } else { "" }
    );
    println!("created     {} by shimkit {}", m.created, m.shimkit_version);
    if !m.candidates.is_empty() {
        println!("candidates  {}", candidates_header());
        for c in &m.candidates {
            println!(
                "            {}{}",
                candidate_row(&c.method, c.lambda, c.rank, c.parameters, c.heldout_cosine),
                if c.method == m.method {
                    "  <- chosen"
                } else {
                    ""
                }
            );
        }
    }
}
