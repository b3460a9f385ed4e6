//! Synthetic evaluation sets for scale tests: `shimkit gen`.
//!
//! A hidden latent space (unit vectors in `latent_dim` dimensions, grouped in topics) is
//! seen through two models. Each model misreads every item a little (its own error ξ in the
//! latent space, σ for the new model and 2σ for the old one, as in a real upgrade), then
//! maps it into its own space: the old model linearly, the new one with a `tanh` term too,
//! so a linear shim learns most but not all of one from the other:
//!
//! ```text
//! old(z) = normalize((z + 2σ·ξ₁)·A + 0.1·ε₁)
//! new(z) = normalize(z̃·B + β·tanh(√L·z̃·C)·D + 0.1·ε₂),  z̃ = z + σ·ξ₂
//! ```
//! Documents and queries belong to topics (about one per thousand documents), so every
//! query has near-miss competitors. Each query has `relevant_per_query` documents built
//! around it at growing distances; their graded judgements come from the latent cosine
//! (≥0.9 → 3, ≥0.75 → 2, ≥0.55 → 1, below that unjudged).
//!
//! Documents are made in fixed chunks, each from its own seeded random stream, so the output
//! depends on the seed alone (not on the thread count) and memory stays constant whatever
//! the number of documents: the whole set is written while it is generated.

use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::Serialize;

use crate::atomic::StagingDir;
use crate::error::{DataError, Result};
use crate::vector::normalize_rows;
use crate::writer::EmbeddingWriter;

mod files;
use files::{check_replaceable, text_writer, write_manifest};

/// Rows made from one random stream; part of the output's definition, so fixed.
const CHUNK: u64 = 4096;
/// Documents per topic.
const TOPIC_SIZE: u64 = 1000;
/// Spread of items around their topic centre (cosine to the centre ≈ 0.7).
const TOPIC_SPREAD: f32 = 1.0;
/// Isotropic noise in each model's output space, relative to the signal; it keeps the
/// embeddings full-rank, as real ones are.
const OUTPUT_NOISE: f32 = 0.1;
/// The old model misreads items this much more than the new one.
const OLD_ERROR_FACTOR: f32 = 2.0;
/// Upper bounds on what the generator holds in memory whatever it streams: the topic
/// centres and every query's latent vector and judgements.
const MAX_DOCS: u64 = 10_000_000_000;
const MAX_QUERIES: u64 = 10_000_000;
const MAX_HELD_BYTES: f64 = 8.0 * (1u64 << 30) as f64;
const GRADE_THRESHOLDS: [(f32, i32); 3] = [(0.9, 3), (0.75, 2), (0.55, 1)];

/// What to generate.
#[derive(Debug, Clone, Serialize)]
pub struct SynthSpec {
    pub docs: u64,
    pub queries: u64,
    pub old_dim: usize,
    pub new_dim: usize,
    pub seed: u64,
    pub latent_dim: usize,
    /// σ: the new model's per-item error in the latent space (the old model's is 2σ).
    pub noise: f32,
    /// β: weight of the new model's non-linear term.
    pub nonlinearity: f32,
    pub relevant_per_query: u64,
    /// Whether to write corpus.jsonl and queries.jsonl.
    pub texts: bool,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            docs: 10_000,
            queries: 200,
            old_dim: 384,
            new_dim: 768,
            seed: 0,
            latent_dim: 64,
            noise: 0.3,
            nonlinearity: 0.5,
            relevant_per_query: 10,
            texts: true,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct SynthReport {
    pub dir: PathBuf,
    pub docs: u64,
    pub queries: u64,
    pub qrels_rows: u64,
}

impl SynthSpec {
    fn validate(&self) -> Result<()> {
        let bad = |message: String| {
            Err(DataError::Invalid {
                what: "generator settings",
                message,
            })
        };
        if self.docs == 0 || self.queries == 0 {
            return bad("--docs and --queries must be at least 1".into());
        }
        // What the generator holds in memory whatever it streams: the topic centres (one
        // per thousand documents) and every query's latent vector and judgements.
        let held = (self.docs.div_ceil(TOPIC_SIZE) as f64 + self.queries as f64)
            * self.latent_dim as f64
            * 4.0;
        if self.docs > MAX_DOCS || self.queries > MAX_QUERIES || held > MAX_HELD_BYTES {
            return bad(format!(
                "--docs is at most {MAX_DOCS} and --queries at most {MAX_QUERIES}, and their latent vectors (one per query and one per {TOPIC_SIZE} documents, {} dimensions each) at most {} GiB in memory",
                self.latent_dim,
                MAX_HELD_BYTES / (1u64 << 30) as f64
            ));
        }
        if !(1..=65_536).contains(&self.old_dim) || !(1..=65_536).contains(&self.new_dim) {
            return bad("dimensions must be between 1 and 65536".into());
        }
        if !(2..=4096).contains(&self.latent_dim) {
            return bad("the latent dimension must be between 2 and 4096".into());
        }
        let non_negative = |v: f32| v.is_finite() && v >= 0.0;
        if !non_negative(self.noise) || !non_negative(self.nonlinearity) {
            return bad("noise and non-linearity must be finite and non-negative".into());
        }
        if self.relevant_per_query == 0 {
            return bad("relevant documents per query must be at least 1".into());
        }
        match self.queries.checked_mul(self.relevant_per_query) {
            Some(n) if n <= self.docs => Ok(()),
            _ => bad(format!(
                "{} queries × {} relevant documents each need at least that many documents, but --docs is {}",
                self.queries, self.relevant_per_query, self.docs
            )),
        }
    }
}

/// The two observation maps, drawn from the seed.
struct Models {
    /// Topic centres, one row a topic.
    topics: Array2<f32>,
    a: Array2<f32>,
    b: Array2<f32>,
    c: Array2<f32>,
    d: Array2<f32>,
}

impl Models {
    fn new(spec: &SynthSpec) -> Self {
        let l = spec.latent_dim;
        let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(spec.seed, 1, 0));
        let scale = 1.0 / (l as f32).sqrt();
        let mut draw = |rows: usize, cols: usize| gaussian(&mut rng, rows, cols, scale);
        let topics = draw(spec.docs.div_ceil(TOPIC_SIZE) as usize, l);
        let topics = normalize_rows(topics);
        Models {
            topics,
            a: draw(l, spec.old_dim),
            b: draw(l, spec.new_dim),
            c: draw(l, l),
            d: draw(l, spec.new_dim),
        }
    }

    /// Old and new embeddings of the latent rows `z`, each row L2-normalised.
    fn observe(
        &self,
        z: &Array2<f32>,
        spec: &SynthSpec,
        rng: &mut ChaCha8Rng,
    ) -> (Array2<f32>, Array2<f32>) {
        let l = spec.latent_dim as f32;
        let per_dim = 1.0 / l.sqrt();
        let z_old = z + &gaussian(
            rng,
            z.nrows(),
            spec.latent_dim,
            OLD_ERROR_FACTOR * spec.noise * per_dim,
        );
        let mut old = z_old.dot(&self.a);
        old += &gaussian(rng, z.nrows(), spec.old_dim, OUTPUT_NOISE * per_dim);
        let z_new = z + &gaussian(rng, z.nrows(), spec.latent_dim, spec.noise * per_dim);
        let mut hidden = z_new.dot(&self.c);
        hidden.mapv_inplace(|v| (v * l.sqrt()).tanh());
        let mut new = z_new.dot(&self.b);
        new.scaled_add(spec.nonlinearity, &hidden.dot(&self.d));
        new += &gaussian(rng, z.nrows(), spec.new_dim, OUTPUT_NOISE * per_dim);
        (normalize_rows(old), normalize_rows(new))
    }
}

/// One generated chunk of documents.
struct DocChunk {
    start: u64,
    old: Array2<f32>,
    new: Array2<f32>,
    /// (query, doc, grade)
    judgements: Vec<(u64, u64, i32)>,
}

/// Writes a whole evaluation set into `out`, which must not exist or be an empty directory
/// (or, with `force`, an evaluation set). The set appears under `out` only once complete.
pub fn generate(
    spec: &SynthSpec,
    out: &Path,
    force: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SynthReport> {
    spec.validate()?;
    tracing::info!(?spec, out = %out.display(), "generating a synthetic evaluation set");
    check_replaceable(out, force)?;
    let staging = StagingDir::create(out)?;
    let dir = staging.path().to_path_buf();
    let models = Models::new(spec);
    let query_latents = topical_latents(spec, &models, 2, 0, spec.queries as usize);

    // Queries first: small, and their latents decide which documents are relevant.
    let mut q_old = EmbeddingWriter::create(dir.join("queries.old.parquet"), spec.old_dim)?;
    let mut q_new = EmbeddingWriter::create(dir.join("queries.new.parquet"), spec.new_dim)?;
    for start in (0..spec.queries).step_by(CHUNK as usize) {
        let end = (start + CHUNK).min(spec.queries);
        let z = query_latents
            .slice(ndarray::s![start as usize..end as usize, ..])
            .to_owned();
        let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(spec.seed, 3, start / CHUNK));
        let (o, n) = models.observe(&z, spec, &mut rng);
        let ids: Vec<String> = (start..end).map(query_id).collect();
        q_old.write(&ids, o.view())?;
        q_new.write(&ids, n.view())?;
    }
    q_old.finish()?;
    q_new.finish()?;
    if spec.texts {
        let mut w = text_writer(&dir.join("queries.jsonl"))?;
        for j in 0..spec.queries {
            let line =
                serde_json::json!({"_id": query_id(j), "text": format!("synthetic query {j}")});
            writeln!(w.1, "{line}").map_err(|e| DataError::io(&w.0, e))?;
        }
        w.1.flush().map_err(|e| DataError::io(&w.0, e))?;
    }

    let perm = Permutation::new(spec.docs, spec.seed);
    let mut c_old = EmbeddingWriter::create(dir.join("corpus.old.parquet"), spec.old_dim)?;
    let mut c_new = EmbeddingWriter::create(dir.join("corpus.new.parquet"), spec.new_dim)?;
    let mut corpus_text = if spec.texts {
        Some(text_writer(&dir.join("corpus.jsonl"))?)
    } else {
        None
    };
    let mut judgements: Vec<(u64, u64, i32)> = Vec::new();
    let chunks = spec.docs.div_ceil(CHUNK);
    let window = (rayon::current_num_threads() * 2).max(2) as u64;
    for first in (0..chunks).step_by(window as usize) {
        let last = (first + window).min(chunks);
        let made: Vec<DocChunk> = (first..last)
            .into_par_iter()
            .map(|c| doc_chunk(spec, &models, &query_latents, &perm, c))
            .collect();
        for chunk in made {
            let ids: Vec<String> = (chunk.start..chunk.start + chunk.old.nrows() as u64)
                .map(doc_id)
                .collect();
            let (r_old, r_new) = rayon::join(
                || c_old.write(&ids, chunk.old.view()),
                || c_new.write(&ids, chunk.new.view()),
            );
            r_old?;
            r_new?;
            if let Some((path, w)) = corpus_text.as_mut() {
                for (k, id) in ids.iter().enumerate() {
                    let line = serde_json::json!({"_id": id, "title": "", "text": format!("synthetic document {}", chunk.start + k as u64)});
                    writeln!(w, "{line}").map_err(|e| DataError::io(&*path, e))?;
                }
            }
            judgements.extend(chunk.judgements);
            progress(ids.len() as u64);
        }
    }
    c_old.finish()?;
    c_new.finish()?;
    if let Some((path, mut w)) = corpus_text {
        w.flush().map_err(|e| DataError::io(&path, e))?;
    }

    judgements.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
    let qrels_path = dir.join("qrels.tsv");
    let (_, mut w) = text_writer(&qrels_path)?;
    let mut text = String::from("query-id\tcorpus-id\tscore\n");
    for &(q, d, g) in &judgements {
        text.push_str(&format!("{}\t{}\t{g}\n", query_id(q), doc_id(d)));
    }
    w.write_all(text.as_bytes())
        .and_then(|_| w.flush())
        .map_err(|e| DataError::io(&qrels_path, e))?;
    write_manifest(&dir, spec, &judgements)?;
    let report = SynthReport {
        dir: out.to_path_buf(),
        docs: spec.docs,
        queries: spec.queries,
        qrels_rows: judgements.len() as u64,
    };
    staging.commit()?;
    Ok(report)
}

fn doc_chunk(
    spec: &SynthSpec,
    models: &Models,
    queries: &Array2<f32>,
    perm: &Permutation,
    chunk: u64,
) -> DocChunk {
    let start = chunk * CHUNK;
    let end = (start + CHUNK).min(spec.docs);
    let rows = (end - start) as usize;
    let l = spec.latent_dim;
    let mut z = topical_latents(spec, models, 4, chunk, rows);
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(spec.seed, 7, chunk));
    let mut judgements = Vec::new();
    let relevant_slots = spec.queries * spec.relevant_per_query;
    for (k, mut row) in z.axis_iter_mut(Axis(0)).enumerate() {
        let doc = start + k as u64;
        let slot = perm.apply(doc);
        if slot >= relevant_slots {
            continue;
        }
        let (q, r) = (
            slot / spec.relevant_per_query,
            slot % spec.relevant_per_query,
        );
        // The r-th relevant document of a query sits further from it as r grows.
        let spread = (0.3 + 0.15 * r as f32) / (l as f32).sqrt();
        let centre = queries.row(q as usize);
        for (v, c) in row.iter_mut().zip(centre.iter()) {
            *v = c + spread * rng.sample::<f32, _>(StandardNormal);
        }
        let norm = row.dot(&row).sqrt();
        row.mapv_inplace(|v| v / norm);
        let cos = row.dot(&centre);
        if let Some(&(_, grade)) = GRADE_THRESHOLDS.iter().find(|(t, _)| cos >= *t) {
            judgements.push((q, doc, grade));
        }
    }
    let (old, new) = models.observe(&z, spec, &mut rng);
    DocChunk {
        start,
        old,
        new,
        judgements,
    }
}

/// Unit latents, each around a random topic centre.
fn topical_latents(
    spec: &SynthSpec,
    models: &Models,
    tag: u64,
    index: u64,
    rows: usize,
) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(spec.seed, tag, index));
    let spread = TOPIC_SPREAD / (spec.latent_dim as f32).sqrt();
    let mut z = gaussian(&mut rng, rows, spec.latent_dim, spread);
    let topics = models.topics.nrows() as u64;
    for mut row in z.axis_iter_mut(Axis(0)) {
        let t = (rng.random::<u64>() % topics) as usize;
        row += &models.topics.row(t);
    }
    normalize_rows(z)
}

fn gaussian(rng: &mut ChaCha8Rng, rows: usize, cols: usize, scale: f32) -> Array2<f32> {
    Array2::from_shape_simple_fn((rows, cols), || {
        scale * rng.sample::<f32, _>(StandardNormal)
    })
}

fn doc_id(i: u64) -> String {
    format!("d{i}")
}

fn query_id(j: u64) -> String {
    format!("q{j}")
}

/// SplitMix64 over (seed, tag, index): independent streams from one user seed.
fn stream_seed(seed: u64, tag: u64, index: u64) -> u64 {
    let mut x =
        seed ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A seeded bijection of 0..n (an affine map modulo n), so documents relevant to queries
/// are spread over the corpus without a table of n entries.
struct Permutation {
    n: u64,
    a: u64,
    b: u64,
}

impl Permutation {
    fn new(n: u64, seed: u64) -> Self {
        let mut a = stream_seed(seed, 5, 0) % n.max(1);
        while gcd(a, n) != 1 {
            a = (a + 1) % n.max(1);
        }
        Permutation {
            n,
            a,
            b: stream_seed(seed, 6, 0) % n.max(1),
        }
    }

    fn apply(&self, i: u64) -> u64 {
        if self.n <= 1 {
            return 0;
        }
        ((self.a as u128 * i as u128 + self.b as u128) % self.n as u128) as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
