//! The migration spec: a small TOML file the team keeps with its code, naming the table and
//! its two columns, the held-out eval set, where re-embedded vectors arrive, the gate and
//! the cutover date.
//!
//! ```toml
//! [store]
//! url = "postgresql://app@/db?host=/run/postgresql&table=docs&id=id"
//! old = "embedding"        # the column the application reads today
//! new = "embedding_next"   # the column being filled
//!
//! [eval]
//! dataset = "eval/"        # queries.<model>.parquet and qrels.tsv; the corpus is the table
//! old_model = "minilm"
//! new_model = "mpnet"
//!
//! [backfill]
//! incoming = "incoming/"   # the embedding job drops Parquet files (id, embedding) here
//! rows_per_second = 1000
//!
//! [gate]
//! target = 0.95            # retention of the full re-embed's nDCG@10
//! confidence = 0.95        # judged on the lower bound of this interval
//!
//! [window]
//! cutover = "2026-12-15"
//! ```
//!
//! Relative paths are relative to the spec's own directory, so the spec means the same
//! from wherever it is run. Every problem names the file and the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use shimkit_postgres::PgTable;

/// A spec that could not be used: the file, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct SpecError {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    store: RawStore,
    eval: RawEval,
    backfill: RawBackfill,
    gate: Gate,
    window: RawWindow,
    #[serde(default)]
    cost: RawCost,
}

/// The cost model's inputs (those of `shimkit eval`; the table's rows are its documents).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCost {
    #[serde(default = "default_tokens_per_doc")]
    tokens_per_doc: f64,
    #[serde(default = "default_usd_per_mtok")]
    usd_per_mtok: f64,
    #[serde(default = "default_embed_docs_per_second")]
    embed_docs_per_second: f64,
}

impl Default for RawCost {
    fn default() -> Self {
        RawCost {
            tokens_per_doc: default_tokens_per_doc(),
            usd_per_mtok: default_usd_per_mtok(),
            embed_docs_per_second: default_embed_docs_per_second(),
        }
    }
}

fn default_tokens_per_doc() -> f64 {
    shimkit_trainer::eval::CostInputs::default().tokens_per_doc
}

fn default_usd_per_mtok() -> f64 {
    shimkit_trainer::eval::CostInputs::default().usd_per_million_tokens
}

fn default_embed_docs_per_second() -> f64 {
    shimkit_trainer::eval::CostInputs::default().embed_docs_per_second
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    url: String,
    old: String,
    new: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEval {
    dataset: PathBuf,
    old_model: String,
    new_model: String,
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default = "default_resamples")]
    resamples: usize,
    #[serde(default)]
    seed: u64,
    /// Where the cycle's searches run: `memory` (exact, in this process), `exact` (in
    /// PostgreSQL) or `hnsw` (in PostgreSQL through HNSW, with recall against exact).
    #[serde(default = "default_search")]
    search: String,
    #[serde(default)]
    hnsw_m: Option<u32>,
    #[serde(default)]
    hnsw_ef_construction: Option<u32>,
    #[serde(default)]
    ef_search: Option<u32>,
}

fn default_search() -> String {
    "memory".into()
}

fn default_k() -> usize {
    10
}

fn default_resamples() -> usize {
    1000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackfill {
    incoming: PathBuf,
    rows_per_second: Option<f64>,
    /// A shim to start from; fitted from the first re-embedded batch when absent.
    shim: Option<PathBuf>,
    /// The method of the shims the migration fits.
    #[serde(default = "default_method")]
    method: String,
}

fn default_method() -> String {
    "auto".into()
}

/// When the new column may replace the old one.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// The share of the full re-embed's nDCG@k a path must keep.
    pub target: f64,
    /// The interval's confidence; the gate is judged on its lower bound.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

fn default_confidence() -> f64 {
    0.95
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    cutover: String,
}

/// The store's side: the table, the column read today, the column being filled.
#[derive(Debug, Clone)]
pub struct Store {
    /// The table with `vector` = the old column.
    pub old: PgTable,
    /// The same table with `vector` = the new column.
    pub new: PgTable,
}

/// The held-out eval set.
#[derive(Debug, Clone)]
pub struct EvalSpec {
    pub dataset: PathBuf,
    pub old_model: String,
    pub new_model: String,
    pub k: usize,
    pub resamples: usize,
    pub seed: u64,
    pub search: Search,
}

/// Where a cycle's searches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// Exact, in this process (the reference, and the fastest).
    Memory,
    /// Exact, in PostgreSQL.
    Exact,
    /// Through HNSW indexes in PostgreSQL; each path also reports its recall against exact
    /// search (in process).
    Hnsw(shimkit_postgres::Hnsw),
}

impl std::fmt::Display for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Search::Memory => write!(f, "memory"),
            Search::Exact => write!(f, "exact"),
            Search::Hnsw(h) => write!(
                f,
                "hnsw (m {}, ef_construction {}, ef_search {})",
                h.m, h.ef_construction, h.ef_search
            ),
        }
    }
}

/// Where re-embedded vectors arrive, and how fast they are written.
#[derive(Debug, Clone)]
pub struct BackfillSpec {
    pub incoming: PathBuf,
    pub rows_per_second: Option<f64>,
    pub shim: Option<PathBuf>,
    pub method: shimkit_trainer::Method,
}

/// What re-embedding a document costs: the inputs of `shimkit eval`'s cost model.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CostSpec {
    pub tokens_per_doc: f64,
    pub usd_per_mtok: f64,
    pub embed_docs_per_second: f64,
}

impl CostSpec {
    /// The cost model's inputs for a table of `rows` documents.
    pub fn inputs(&self, rows: u64) -> shimkit_trainer::eval::CostInputs {
        shimkit_trainer::eval::CostInputs {
            docs: rows,
            tokens_per_doc: self.tokens_per_doc,
            usd_per_million_tokens: self.usd_per_mtok,
            embed_docs_per_second: self.embed_docs_per_second,
        }
    }
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.trim().splitn(3, '-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let date = Date {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
            day: d.parse().ok()?,
        };
        let leap = date.year % 4 == 0 && (date.year % 100 != 0 || date.year % 400 == 0);
        let days = match date.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days).contains(&date.day).then_some(date)
    }
}

impl Date {
    /// Today in UTC.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date::from_days((secs / 86_400) as i64)
    }

    /// The civil date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A migration, read and checked.
#[derive(Debug, Clone)]
pub struct MigrationSpec {
    /// The file it was read from.
    pub path: PathBuf,
    pub store: Store,
    pub eval: EvalSpec,
    pub backfill: BackfillSpec,
    pub gate: Gate,
    /// The planned cutover date.
    pub cutover: Date,
    pub cost: CostSpec,
}

impl MigrationSpec {
    /// Reads and checks the spec at `path`.
    pub fn read(path: &Path) -> Result<MigrationSpec, SpecError> {
        let fail = |message: String| SpecError {
            path: path.to_path_buf(),
            message,
        };
        let text = shimkit_data::read_regular_text(path).map_err(|e| fail(e.to_string()))?;
        Self::parse(path, &text)
    }

    /// Checks `text` as the spec at `path` (which anchors relative paths).
    pub fn parse(path: &Path, text: &str) -> Result<MigrationSpec, SpecError> {
        let fail = |message: String| SpecError {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawSpec = toml::from_str(text).map_err(|e| fail(e.to_string().trim().into()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let anchored = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };

        let old = PgTable::parse(&raw.store.url).map_err(|e| fail(format!("store.url: {e}")))?;
        if raw.store.url.contains("vector=") {
            return Err(fail(
                "store.url: leave `vector=` out; store.old and store.new name the columns".into(),
            ));
        }
        for (key, name) in [("store.old", &raw.store.old), ("store.new", &raw.store.new)] {
            if name.trim().is_empty() {
                return Err(fail(format!("{key} is empty: name a vector column")));
            }
        }
        if raw.store.old == raw.store.new {
            return Err(fail(format!(
                "store.old and store.new are both {:?}: the new column is a second column",
                raw.store.old
            )));
        }
        let store = Store {
            old: PgTable {
                vector: raw.store.old.clone(),
                ..old.clone()
            },
            new: PgTable {
                vector: raw.store.new.clone(),
                ..old
            },
        };

        if raw.eval.old_model == raw.eval.new_model {
            return Err(fail(format!(
                "eval.old_model and eval.new_model are both {:?}",
                raw.eval.old_model
            )));
        }
        for (key, model) in [
            ("eval.old_model", &raw.eval.old_model),
            ("eval.new_model", &raw.eval.new_model),
        ] {
            if model.is_empty() || model.contains(['/', '\\']) || model.starts_with('.') {
                return Err(fail(format!(
                    "{key} = {model:?}: a model name as in queries.<model>.parquet"
                )));
            }
        }
        if !(1..=1000).contains(&raw.eval.k) {
            return Err(fail(format!("eval.k = {}: expected 1 to 1000", raw.eval.k)));
        }
        if !(100..=100_000).contains(&raw.eval.resamples) {
            return Err(fail(format!(
                "eval.resamples = {}: expected 100 to 100000",
                raw.eval.resamples
            )));
        }

        if let Some(rate) = raw.backfill.rows_per_second
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(fail(format!(
                "backfill.rows_per_second = {rate}: expected a positive number"
            )));
        }
        let method: shimkit_trainer::Method = raw
            .backfill
            .method
            .parse()
            .map_err(|e| fail(format!("backfill.method: {e}")))?;

        let gate = raw.gate;
        if !(gate.target.is_finite() && gate.target > 0.0 && gate.target <= 2.0) {
            return Err(fail(format!(
                "gate.target = {}: expected a share of the full re-embed's nDCG, such as 0.95",
                gate.target
            )));
        }
        // The evaluation's intervals are 95% percentile intervals; other levels would be
        // a promise it does not keep.
        if (gate.confidence - 0.95).abs() > 1e-9 {
            return Err(fail(format!(
                "gate.confidence = {}: only 0.95 is supported (the intervals are 95% bootstrap intervals)",
                gate.confidence
            )));
        }
        let hnsw = raw.eval.hnsw_m.is_some()
            || raw.eval.hnsw_ef_construction.is_some()
            || raw.eval.ef_search.is_some();
        let search = match raw.eval.search.as_str() {
            "memory" | "exact" if hnsw => {
                return Err(fail(format!(
                    "eval.hnsw_m, eval.hnsw_ef_construction and eval.ef_search set HNSW's parameters, but eval.search = {:?}",
                    raw.eval.search
                )));
            }
            "memory" => Search::Memory,
            "exact" => Search::Exact,
            "hnsw" => {
                let d = shimkit_postgres::Hnsw::default();
                let h = shimkit_postgres::Hnsw {
                    m: raw.eval.hnsw_m.unwrap_or(d.m),
                    ef_construction: raw.eval.hnsw_ef_construction.unwrap_or(d.ef_construction),
                    ef_search: raw.eval.ef_search.unwrap_or(d.ef_search),
                };
                // pgvector's own limits.
                for (key, value, range) in [
                    ("eval.hnsw_m", h.m, 2..=100),
                    ("eval.hnsw_ef_construction", h.ef_construction, 4..=1000),
                    ("eval.ef_search", h.ef_search, 1..=1000),
                ] {
                    if !range.contains(&value) {
                        return Err(fail(format!(
                            "{key} = {value}: pgvector takes {} to {}",
                            range.start(),
                            range.end()
                        )));
                    }
                }
                if h.ef_construction < 2 * h.m {
                    return Err(fail(format!(
                        "eval.hnsw_ef_construction = {}: pgvector needs at least twice eval.hnsw_m ({})",
                        h.ef_construction, h.m
                    )));
                }
                Search::Hnsw(h)
            }
            other => {
                return Err(fail(format!(
                    "eval.search = {other:?}: expected \"memory\", \"exact\" or \"hnsw\""
                )));
            }
        };
        let cutover = Date::parse(&raw.window.cutover).ok_or_else(|| {
            fail(format!(
                "window.cutover = {:?}: expected a date as YYYY-MM-DD",
                raw.window.cutover
            ))
        })?;

        for (key, value) in [
            ("cost.tokens_per_doc", raw.cost.tokens_per_doc),
            ("cost.usd_per_mtok", raw.cost.usd_per_mtok),
            ("cost.embed_docs_per_second", raw.cost.embed_docs_per_second),
        ] {
            let zero_ok = key != "cost.embed_docs_per_second";
            if !(value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0))) {
                return Err(fail(format!(
                    "{key} = {value}: expected a {} number",
                    if zero_ok { "non-negative" } else { "positive" }
                )));
            }
        }

        Ok(MigrationSpec {
            path: path.to_path_buf(),
            store,
            eval: EvalSpec {
                dataset: anchored(&raw.eval.dataset),
                old_model: raw.eval.old_model,
                new_model: raw.eval.new_model,
                k: raw.eval.k,
                resamples: raw.eval.resamples,
                seed: raw.eval.seed,
                search,
            },
            backfill: BackfillSpec {
                incoming: anchored(&raw.backfill.incoming),
                rows_per_second: raw.backfill.rows_per_second,
                shim: raw.backfill.shim.as_deref().map(anchored),
                method,
            },
            gate,
            cutover,
            cost: CostSpec {
                tokens_per_doc: raw.cost.tokens_per_doc,
                usd_per_mtok: raw.cost.usd_per_mtok,
                embed_docs_per_second: raw.cost.embed_docs_per_second,
            },
        })
    }

    /// The migration's name in the history: the table and the column being filled.
    pub fn key(&self) -> String {
        format!("{}.{}", self.store.new.table, self.store.new.vector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[store]
url = "postgresql://app@/db?host=/tmp&table=docs&id=id"
old = "embedding"
new = "embedding_next"

[eval]
dataset = "eval/"
old_model = "minilm"
new_model = "mpnet"

[backfill]
incoming = "incoming/"
rows_per_second = 1000

[gate]
target = 0.95
confidence = 0.95

[window]
cutover = "2026-12-15"
"#;

    fn parse(text: &str) -> Result<MigrationSpec, SpecError> {
        MigrationSpec::parse(Path::new("/team/migrations/mpnet.toml"), text)
    }

    #[test]
    fn a_spec_reads_with_paths_beside_it() {
        let spec = parse(GOOD).unwrap();
        assert_eq!(spec.store.old.vector, "embedding");
        assert_eq!(spec.store.new.vector, "embedding_next");
        assert_eq!(spec.store.new.table.to_string(), "docs");
        assert_eq!(spec.eval.dataset, Path::new("/team/migrations/eval/"));
        assert_eq!(
            spec.backfill.incoming,
            Path::new("/team/migrations/incoming/")
        );
        assert_eq!(spec.backfill.rows_per_second, Some(1000.0));
        assert_eq!(spec.eval.k, 10);
        assert_eq!(spec.cutover.to_string(), "2026-12-15");
        assert_eq!(spec.key(), "docs.embedding_next");
    }

    #[test]
    fn each_bad_value_is_named_by_file_and_key() {
        let cases = [
            (
                "old = \"embedding\"\nnew = \"embedding_next\"",
                "old = \"e\"\nnew = \"e\"",
                "store.old and store.new",
            ),
            ("target = 0.95", "target = 3.0", "gate.target"),
            ("confidence = 0.95", "confidence = 1.5", "gate.confidence"),
            (
                "cutover = \"2026-12-15\"",
                "cutover = \"2026-02-30\"",
                "window.cutover",
            ),
            (
                "cutover = \"2026-12-15\"",
                "cutover = \"next week\"",
                "window.cutover",
            ),
            (
                "rows_per_second = 1000",
                "rows_per_second = -5",
                "backfill.rows_per_second",
            ),
            (
                "rows_per_second = 1000",
                "rows_per_second = \"fast\"",
                "rows_per_second",
            ),
            (
                "new_model = \"mpnet\"",
                "new_model = \"minilm\"",
                "eval.old_model and eval.new_model",
            ),
            (
                "new_model = \"mpnet\"",
                "new_model = \"../x\"",
                "eval.new_model",
            ),
            ("table=docs&id=id", "id=id", "store.url"),
            ("table=docs&id=id", "table=docs&vector=v", "vector="),
            (
                "rows_per_second = 1000",
                "rows_per_second = 1000\nspeed = 3",
                "speed",
            ),
            ("[window]\ncutover = \"2026-12-15\"", "", "window"),
            (
                "[window]",
                "[cost]\nusd_per_mtok = -1\n[window]",
                "cost.usd_per_mtok",
            ),
            (
                "new_model = \"mpnet\"",
                "new_model = \"mpnet\"\nsearch = \"faiss\"",
                "eval.search",
            ),
            (
                "new_model = \"mpnet\"",
                "new_model = \"mpnet\"\nef_search = 100",
                "eval.search",
            ),
            (
                "new_model = \"mpnet\"",
                "new_model = \"mpnet\"\nsearch = \"hnsw\"\nhnsw_m = 1",
                "eval.hnsw_m",
            ),
            (
                "[window]",
                "[cost]\nembed_docs_per_second = 0\n[window]",
                "cost.embed_docs_per_second",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(GOOD.contains(from), "{from}");
            let e = parse(&GOOD.replace(from, to)).unwrap_err().to_string();
            assert!(e.starts_with("/team/migrations/mpnet.toml: "), "{e}");
            assert!(e.contains(expected), "{to:?}: {e}");
        }
        let e = parse("not toml at all [").unwrap_err().to_string();
        assert!(e.contains("mpnet.toml"), "{e}");
    }

    #[test]
    fn dates_are_checked_against_the_calendar() {
        assert!(Date::parse("2028-02-29").is_some());
        assert!(Date::parse("2026-02-29").is_none());
        assert!(Date::parse("2026-13-01").is_none());
        assert!(Date::parse("2026-1-01").is_none());
        assert!(Date::parse("2026-12-15") < Date::parse("2027-01-01"));
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(20_788).to_string(), "2026-12-01");
        assert_eq!(Date::from_days(11_016).to_string(), "2000-02-29");
        assert!(Date::today() > Date::parse("2026-01-01").unwrap());
    }
}
