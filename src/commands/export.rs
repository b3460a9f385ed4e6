//! `shimkit export`: a linear shim as a sentence-transformers `Dense` module folder
//! ([`shimkit_trainer::export`]), written whole or not at all.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use shimkit_data::StagingDir;
use shimkit_trainer::export::DenseModule;
use shimkit_trainer::{Direction, Shim, artifact};

use crate::cli::{ExportArgs, ExportFormat};

pub fn run(args: &ExportArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let ExportFormat::SentenceTransformers = args.format;
    if args.outdir.exists() {
        bail!(
            "{} exists: export writes a new module folder; remove it or name another",
            args.outdir.display()
        );
    }
    let Some(dense_path) = args.outdir.file_name().and_then(|n| n.to_str()) else {
        bail!(
            "{}: the folder needs a UTF-8 name, the module's path in modules.json",
            args.outdir.display()
        );
    };
    let shim = artifact::load(&args.shim)?;
    let dense = DenseModule::from_shim(&shim)
        .with_context(|| format!("exporting {}", args.shim.display()))?;
    let entries = dense.modules_entries(dense_path, args.first_index);

    let staging = StagingDir::create(&args.outdir)?;
    let dir = staging.path();
    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        std::fs::write(dir.join(name), bytes)
            .with_context(|| format!("writing {}", args.outdir.join(name).display()))
    };
    write(
        "config.json",
        serde_json::to_string_pretty(&dense.config())?.as_bytes(),
    )?;
    write("model.safetensors", &dense.safetensors()?)?;
    write(
        "modules.entries.json",
        serde_json::to_string_pretty(&entries)?.as_bytes(),
    )?;
    write(
        "README.md",
        readme(&shim, &dense, dense_path, &args.shim, args.first_index).as_bytes(),
    )?;
    staging.commit()?;
    if !quiet {
        eprintln!(
            "wrote {}: a Dense module {} -> {} ({} -> {}); append modules.entries.json to the {} model's modules.json",
            args.outdir.display(),
            dense.in_features(),
            dense.out_features(),
            shim.meta.source_model,
            shim.meta.target_model,
            shim.meta.source_model,
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn readme(
    shim: &Shim,
    dense: &DenseModule,
    dense_path: &str,
    source: &Path,
    first: usize,
) -> String {
    let m = &shim.meta;
    let role = match m.direction {
        Direction::NewToOld => format!(
            "a query-side shim: the {} model, with this module appended, embeds queries into the {} index's space",
            m.source_model, m.target_model
        ),
        Direction::OldToNew => format!(
            "a document-side shim: the {} model, with this module appended, embeds documents into the {} model's space",
            m.source_model, m.target_model
        ),
    };
    let bias = if m.bias_dropped || dense.bias.iter().all(|&b| b == 0.0) {
        "This shim has no bias, so the result is the same whether or not the vector reaching the Dense is normalised: the Normalize after it removes any scale. The export is exact in any pipeline that normalises after the Dense, text-embeddings-inference's included."
    } else {
        "This shim has a bias, so the vector reaching the Dense must be normalised, as it was when the shim was fitted: keep the Normalize before it. A pipeline that applies the Dense to the raw pooled vector (text-embeddings-inference's `--dense-path`, which has no Normalize module before it) gives a different result; for it, fit the shim with `shimkit fit --drop-bias`."
    };
    format!(
        "# {dense_path}: a shimkit shim as a sentence-transformers Dense module

Exported by `shimkit export` from `{source}` ({method}, fitted on {pairs} pairs, held-out
cosine {heldout}). It is {role}.

`Dense` computes W·x + b on the pooled sentence vector, with W = the shim's weight
transposed ([{out}, {inp}], `linear.weight`) and b its bias (`linear.bias`), activation
Identity. shimkit computes unit(unit(x)·weight + bias), so the module is exact with a
Normalize before it and one after it: `modules.entries.json` lists the entries to
append to the model's `modules.json` (numbered from {first}; renumber them if the model has
another number of modules). A Normalize has no files; its folder may be absent.

{bias}

To use it: copy this folder into the model's folder, append the entries of
`modules.entries.json` to its `modules.json`, and load the model as usual:

```python
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(\"path/to/model\")   # now ends with this shim
```
",
        source = source.display(),
        method = m.method,
        pairs = m.pairs,
        heldout = m
            .heldout_cosine
            .map(|c| format!("{c:.4}"))
            .unwrap_or_else(|| "not measured".into()),
        out = dense.out_features(),
        inp = dense.in_features(),
    )
}
