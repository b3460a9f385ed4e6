//! `shimkit embed`: BEIR JSONL texts through a local model ([`shimkit_embed`]) into a
//! Parquet table of (id, embedding), the layout every other command reads.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use ndarray::Array2;
use shimkit_data::{EmbeddingWriter, TextReader, TextRecord};
use shimkit_embed::{Embedder, ModelDir, device};

use crate::cli::{EmbedArgs, TextField};
use crate::progress::rows_bar;

/// Texts embedded and written at a time: bounds the memory of vectors not yet written.
const CHUNK_TEXTS: usize = 16_384;

pub fn run(args: &EmbedArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    if args.batch_size == 0 {
        bail!("--batch-size 0: at least one text a forward pass");
    }
    if args.fields.is_empty() {
        bail!("--fields: name at least one of title, text");
    }
    let started = Instant::now();
    // A first pass checks every text before the model is loaded, so a bad line far into a
    // large corpus fails in the time it takes to read it; the second pass embeds. Neither
    // holds more than a chunk of texts.
    let mut count = 0usize;
    for record in TextReader::open(&args.input)? {
        let record = record?;
        check_not_empty(args, &record, &joined(&record, &args.fields), count)?;
        count += 1;
    }
    if count == 0 {
        bail!("{}: no texts", args.input.display());
    }

    keep_freed_heap();
    let dir = ModelDir::open(&args.model)?;
    let embedder = Embedder::load(&dir, &device(&args.device)?, args.max_tokens)?;
    let prompt = if args.queries {
        dir.query_prompt.clone()
    } else {
        None
    };

    let bar = rows_bar(count as u64, quiet, "embedding");
    let mut writer = EmbeddingWriter::create(&args.output, embedder.dim)?;
    let mut reader = TextReader::open(&args.input)?;
    let mut at = 0usize;
    loop {
        let records: Vec<TextRecord> = reader
            .by_ref()
            .take(CHUNK_TEXTS)
            .collect::<Result<_, _>>()?;
        if records.is_empty() {
            break;
        }
        let mut texts = Vec::with_capacity(records.len());
        for (k, r) in records.iter().enumerate() {
            let text = joined(r, &args.fields);
            check_not_empty(args, r, &text, at + k)?;
            texts.push(match &prompt {
                Some(p) => format!("{p}{text}"),
                None => text,
            });
        }
        at += records.len();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = embedder.embed(&refs, args.batch_size, &|n| bar.inc(n as u64))?;
        let mut m = Array2::<f32>::zeros((vectors.len(), embedder.dim));
        for (mut row, v) in m.rows_mut().into_iter().zip(&vectors) {
            row.assign(&ndarray::ArrayView1::from(v.as_slice()));
        }
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        writer
            .write(&ids, m.view())
            .with_context(|| format!("writing {}", args.output.display()))?;
    }
    let rows = writer.finish()?;
    bar.finish_and_clear();
    if !quiet {
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "wrote {}: {rows} vectors of {} dimensions ({}, {} pooling{}, truncated at {} tokens) in {seconds:.1} s, {:.0} texts/s",
            args.output.display(),
            embedder.dim,
            args.model.display(),
            match dir.pooling {
                shimkit_embed::Pooling::Mean => "mean",
                shimkit_embed::Pooling::Cls => "CLS",
            },
            if dir.normalize { ", normalised" } else { "" },
            embedder.max_tokens,
            rows as f64 / seconds,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Keeps the model's large intermediate tensors on the heap between batches.
///
/// A batch's attention scores (batch × heads × tokens² floats, 100 MiB for 32 texts of 256
/// tokens with all-MiniLM-L6-v2) are above glibc's mmap threshold, so every one was mapped,
/// faulted in page by page and unmapped again: a third of the run's time went to the
/// kernel (BENCHMARKS.md). Raising both thresholds lets freed buffers serve the next
/// batch; the peak memory is the same, held until the command ends.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_heap() {
    const KEEP: libc::c_int = 1 << 30;
    // SAFETY: mallopt only changes allocator parameters (under glibc's arena lock).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, KEEP);
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_heap() {}

/// Refuses an empty text (`r`'s fields joined, the `index`-th, from 0) unless `--allow-empty`.
fn check_not_empty(
    args: &EmbedArgs,
    r: &TextRecord,
    text: &str,
    index: usize,
) -> anyhow::Result<()> {
    if !args.allow_empty && text.trim().is_empty() {
        bail!(
            "{}: text {} (id {:?}) is empty in the fields {}: give --allow-empty to embed it as the empty string",
            args.input.display(),
            index + 1,
            r.id,
            field_names(&args.fields)
        );
    }
    Ok(())
}

/// The fields asked for, in that order, joined by a space; absent and empty ones left out.
fn joined(r: &TextRecord, fields: &[TextField]) -> String {
    let parts = fields.iter().filter_map(|f| match f {
        TextField::Title => r.title.as_deref(),
        TextField::Text => Some(r.text.as_str()),
    });
    parts
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn field_names(fields: &[TextField]) -> String {
    fields
        .iter()
        .map(|f| match f {
            TextField::Title => "title",
            TextField::Text => "text",
        })
        .collect::<Vec<_>>()
        .join(",")
}
