//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "shimkit",
    version,
    about = "Change embedding models without re-embedding everything",
    long_about = "Change embedding models without re-embedding everything.\n\n\
        shimkit reads paired (old, new) embeddings from Parquet, fits compatibility shims \
        between the two spaces, and measures what they cost in retrieval quality against \
        a full re-embed.\n\nExit codes: 0 success, 1 error, 2 bad command line."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe and validate a Parquet embedding table or an evaluation-set directory.
    Inspect(InspectArgs),
    /// Write a synthetic evaluation set (two models of one latent space, graded qrels).
    Gen(GenArgs),
}

/// Column names of an embedding table.
#[derive(Debug, Args, Clone)]
pub struct ColumnArgs {
    /// Name of the id column.
    #[arg(long, default_value = "id")]
    pub id_col: String,
    /// Name of the vector column.
    #[arg(long, default_value = "embedding")]
    pub vec_col: String,
}

impl ColumnArgs {
    pub fn columns(&self) -> shimkit_data::Columns {
        shimkit_data::Columns::new(&self.id_col, &self.vec_col)
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shimkit inspect data/cranfield/corpus.mpnet.parquet\n  shimkit inspect data/cranfield --json"
)]
pub struct InspectArgs {
    /// A Parquet file, a directory of Parquet files (one table), or an evaluation-set
    /// directory (corpus.<model>.parquet, queries.<model>.parquet, qrels.tsv).
    pub path: PathBuf,
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Skip the duplicate-id check (saves 8 bytes a row of memory on huge tables).
    #[arg(long)]
    pub no_dup_check: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  shimkit gen --docs 100000 --queries 500 --old-dim 384 --new-dim 768 --seed 7 --out /tmp/synth"
)]
pub struct GenArgs {
    /// Number of documents.
    #[arg(long)]
    pub docs: u64,
    /// Number of test queries.
    #[arg(long, default_value_t = 200)]
    pub queries: u64,
    /// Dimension of the old model.
    #[arg(long, default_value_t = 384)]
    pub old_dim: usize,
    /// Dimension of the new model.
    #[arg(long, default_value_t = 768)]
    pub new_dim: usize,
    /// Random seed; the output depends on it alone.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (written whole, or not at all).
    #[arg(long)]
    pub out: PathBuf,
    /// Dimension of the hidden latent space both models see.
    #[arg(long, default_value_t = 64)]
    pub latent_dim: usize,
    /// The new model's per-item error in the latent space (the old model's is 2×).
    #[arg(long, default_value_t = 0.3)]
    pub noise: f32,
    /// Weight of the new model's non-linear term (0: the two models are linearly related).
    #[arg(long, default_value_t = 0.5)]
    pub nonlinearity: f32,
    /// Documents built around each query (graded by latent cosine).
    #[arg(long, default_value_t = 10)]
    pub relevant_per_query: u64,
    /// Do not write corpus.jsonl and queries.jsonl.
    #[arg(long)]
    pub no_text: bool,
    /// Replace OUT if it exists.
    #[arg(long)]
    pub force: bool,
}
