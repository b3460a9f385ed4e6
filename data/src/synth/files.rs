//! What `gen` writes besides the vectors: the texts, the manifest, and the rule for which
//! existing directory it may replace.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::SynthSpec;
use crate::error::{DataError, Result};

pub(super) fn text_writer(path: &Path) -> Result<(PathBuf, BufWriter<File>)> {
    let file = File::create(path).map_err(|e| DataError::io(path, e))?;
    Ok((path.to_path_buf(), BufWriter::with_capacity(1 << 20, file)))
}

pub(super) fn write_manifest(
    dir: &Path,
    spec: &SynthSpec,
    judgements: &[(u64, u64, i32)],
) -> Result<()> {
    let mut levels = std::collections::BTreeMap::new();
    let mut judged_queries = std::collections::BTreeSet::new();
    for &(q, _, g) in judgements {
        *levels.entry(g.to_string()).or_insert(0u64) += 1;
        judged_queries.insert(q);
    }
    let model = |dim: usize, what: &str| serde_json::json!({"model": format!("synthetic {what} model"), "dim": dim, "normalization": "L2"});
    let manifest = serde_json::json!({
        "dataset": "synthetic (shimkit gen)",
        "description": "Unit vectors from a hidden latent space seen through two noisy maps; graded qrels from latent cosine. See shimkit-data's synth module.",
        "generator": {"shimkit": env!("CARGO_PKG_VERSION"), "spec": spec},
        "counts": {
            "docs": spec.docs,
            "test_queries": spec.queries,
            "qrels_rows": judgements.len(),
            "qrels_levels": levels,
            "queries_with_qrels": judged_queries.len(),
        },
        "models": {"old": model(spec.old_dim, "old"), "new": model(spec.new_dim, "new")},
        "layout": {
            "corpus.<model>.parquet": "columns id (utf8) and embedding (fixed_size_list<float32>[dim], L2-normalized); zstd",
            "queries.<model>.parquet": "same for the test queries",
            "qrels.tsv": "header 'query-id<TAB>corpus-id<TAB>score'; only relevant pairs (score >= 1)",
            "models": ["new", "old"],
        },
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| DataError::Json {
        path: dir.join("MANIFEST.json"),
        source: e,
    })?;
    std::fs::write(dir.join("MANIFEST.json"), text)
        .map_err(|e| DataError::io(dir.join("MANIFEST.json"), e))
}

/// Whether `out` may be replaced: it does not exist, is an empty directory, or, with
/// `force`, is a directory holding nothing but the files of an evaluation set. `--force`
/// must never delete what `gen` would not have written.
pub(super) fn check_replaceable(out: &Path, force: bool) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(out) else {
        return Ok(());
    };
    let refuse = |message: String| DataError::Invalid {
        what: "output directory",
        message,
    };
    if !meta.is_dir() {
        return Err(refuse(format!(
            "{} exists and is not a directory; gen writes a directory and will not replace it",
            out.display()
        )));
    }
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(out).map_err(|e| DataError::io(out, e))? {
        let entry = entry.map_err(|e| DataError::io(out, e))?;
        entries.push(entry.file_name().to_string_lossy().into_owned());
    }
    if entries.is_empty() {
        return Ok(());
    }
    if !force {
        return Err(refuse(format!(
            "{} exists and is not empty (pass --force to replace an evaluation set)",
            out.display()
        )));
    }
    let mut foreign: Vec<String> = entries
        .into_iter()
        .filter(|n| !is_eval_set_file(n))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let more = foreign.len().saturating_sub(5);
    foreign.truncate(5);
    Err(refuse(format!(
        "{} does not look like an evaluation set: it holds {}{}; --force only replaces a directory of corpus.<model>.parquet, queries.<model>.parquet, qrels.tsv, *.jsonl and MANIFEST.json",
        out.display(),
        foreign.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )))
}

fn is_eval_set_file(name: &str) -> bool {
    matches!(
        name,
        "MANIFEST.json" | "qrels.tsv" | "corpus.jsonl" | "queries.jsonl"
    ) || ["corpus.", "queries."]
        .iter()
        .any(|p| name.starts_with(p) && name.ends_with(".parquet"))
}
