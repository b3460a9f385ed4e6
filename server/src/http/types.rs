//! Request and response bodies of the HTTP API, with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::state::Reloaded;
use crate::store::{AliasChange, LoadFailure, LoadedShim, ReloadReport, Snapshot};

/// `POST /v1/shims/{name}/project` with `Content-Type: application/json`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRequest {
    /// Row vectors in the shim's source space, all of its input dimension.
    #[schema(value_type = Vec<Vec<f32>>, example = json!([[0.1, 0.2, 0.3]]))]
    pub vectors: Rows,
    /// L2-normalise the outputs (default true, as `shimkit project`).
    #[serde(default)]
    pub normalize: Option<bool>,
}

/// The projected vectors, and which version of which shim produced them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectResponse {
    #[schema(value_type = Vec<Vec<f32>>)]
    pub vectors: Rows,
    /// The shim that answered (the alias's target when an alias was named).
    pub shim: String,
    /// The version of that shim: a hash of its file's bytes.
    pub version: String,
    /// The alias the request named, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Output dimension.
    pub dim: usize,
}

/// A JSON array of equal-length number arrays, held flat and row-major. A request's
/// vectors are read straight into one buffer and an answer's written straight from one:
/// a nested `Vec` per row cost a third of the JSON time of a single-vector call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub rows: usize,
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Serialize for Rows {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.rows))?;
        for row in self.data.chunks_exact(self.dim.max(1)).take(self.rows) {
            seq.serialize_element(row)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(RowsVisitor)
    }
}

struct RowsVisitor;

impl<'de> serde::de::Visitor<'de> for RowsVisitor {
    type Value = Rows;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of arrays of numbers")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Rows, A::Error> {
        let mut out = Rows::default();
        while seq
            .next_element_seed(RowSeed {
                out: &mut out.data,
                index: out.rows,
            })?
            .is_some()
        {
            let len = out.data.len() - out.rows * out.dim;
            if out.rows == 0 {
                out.dim = len;
            } else if len != out.dim {
                return Err(serde::de::Error::custom(format!(
                    "vector {} has {len} values, vector 0 has {}: every vector needs the same dimension",
                    out.rows, out.dim
                )));
            }
            out.rows += 1;
        }
        Ok(out)
    }
}

/// Appends one row's numbers to the shared buffer.
struct RowSeed<'a> {
    out: &'a mut Vec<f32>,
    index: usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for RowSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "vector {} as an array of numbers", self.index)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Some(n) = seq.size_hint() {
            self.out.reserve(n);
        }
        while let Some(v) = seq.next_element_seed(Float32)? {
            self.out.push(v);
        }
        Ok(())
    }
}

/// Whether a JSON number is read as a float32 without becoming infinite or, when it is
/// not zero, zero: the range the OpenAPI document gives every value (0, or a magnitude
/// from float32's smallest to its largest). A vector of values too small for float32
/// would otherwise be all zeros once read, though not in JSON.
pub fn fits_f32(v: f64) -> bool {
    let f = v as f32;
    f.is_finite() && (v == 0.0 || f != 0.0)
}

/// One value of a vector, read as serde_json reads an f32 (integers cast directly, other
/// numbers through f64), refusing what [`fits_f32`] refuses.
struct Float32;

impl<'de> serde::de::DeserializeSeed<'de> for Float32 {
    type Value = f32;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<f32, D::Error> {
        deserializer.deserialize_f32(self)
    }
}

impl serde::de::Visitor<'_> for Float32 {
    type Value = f32;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f32, E> {
        Ok(v as f32)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f32, E> {
        Ok(v as f32)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f32, E> {
        if fits_f32(v) {
            Ok(v as f32)
        } else {
            Err(E::custom(format!(
                "{v:e} does not fit a float32 (0, or a magnitude from 1.4e-45 to 3.4e38)"
            )))
        }
    }
}

/// Query parameters of the projection endpoint (the only way to set them for binary
/// bodies).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectQuery {
    /// L2-normalise the outputs (default true; a JSON body's `normalize` wins).
    pub normalize: Option<bool>,
    /// Arrow bodies: the vector column (default `embedding`, `vector`, or the only list
    /// column).
    pub column: Option<String>,
}

/// A raw body: little-endian f32 rows (`application/octet-stream`, with the
/// `X-Shimkit-Rows` and `X-Shimkit-Dim` headers) or an Arrow IPC stream.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct BinaryBody(pub Vec<u8>);

/// A candidate method's held-out score, as the fit recorded it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CandidateInfo {
    pub method: String,
    pub heldout_cosine: f64,
    pub parameters: usize,
}

/// One served shim.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShimInfo {
    pub name: String,
    pub version: String,
    pub method: String,
    /// `old-to-new` (doc-side) or `new-to-old` (query-side).
    pub direction: String,
    pub source_model: String,
    pub target_model: String,
    pub source_dim: usize,
    pub target_dim: usize,
    pub pairs: usize,
    pub heldout_cosine: Option<f64>,
    pub heldout_pairs: usize,
    pub lambda: Option<f64>,
    pub rank: Option<usize>,
    /// `count:hash` of the training ids.
    pub train_ids_fingerprint: String,
    pub candidates: Vec<CandidateInfo>,
    pub parameters: usize,
    pub normalize_output: bool,
    pub created: String,
    pub shimkit_version: String,
    pub file: String,
    pub file_bytes: u64,
    pub loaded_at: String,
    /// Aliases that point at this shim.
    pub aliases: Vec<String>,
    /// The non-linear adapter's hyper-parameters, when there is one.
    #[schema(value_type = Option<Object>)]
    pub adapter: Option<serde_json::Value>,
}

impl ShimInfo {
    pub fn new(loaded: &LoadedShim, snapshot: &Snapshot) -> Self {
        let m = &loaded.shim.meta;
        let parameters = loaded.shim.weight.len()
            + loaded.shim.bias.len()
            + loaded.shim.adapter.as_ref().map_or(0, |a| a.parameters());
        ShimInfo {
            name: loaded.name.clone(),
            version: loaded.version.clone(),
            method: m.method.clone(),
            direction: m.direction.as_str().to_owned(),
            source_model: m.source_model.clone(),
            target_model: m.target_model.clone(),
            source_dim: m.source_dim,
            target_dim: m.target_dim,
            pairs: m.pairs,
            heldout_cosine: m.heldout_cosine,
            heldout_pairs: m.heldout_pairs,
            lambda: m.lambda,
            rank: m.rank,
            train_ids_fingerprint: m.train_ids_fingerprint.clone(),
            candidates: m
                .candidates
                .iter()
                .map(|c| CandidateInfo {
                    method: c.method.clone(),
                    heldout_cosine: c.heldout_cosine,
                    parameters: c.parameters,
                })
                .collect(),
            parameters,
            normalize_output: m.normalize_output,
            created: m.created.clone(),
            shimkit_version: m.shimkit_version.clone(),
            file: loaded.file.display().to_string(),
            file_bytes: loaded.file_bytes,
            loaded_at: loaded.loaded_at.clone(),
            aliases: snapshot.aliases_of(&loaded.name),
            adapter: m
                .adapter
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok()),
        }
    }
}

/// An alias, its target, and what a rollback would return to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AliasInfo {
    pub alias: String,
    pub target: String,
    pub previous: Option<String>,
}

impl AliasInfo {
    /// Every alias of a snapshot, by name.
    pub fn all(snapshot: &Snapshot) -> Vec<AliasInfo> {
        snapshot
            .aliases
            .iter()
            .map(|(name, a)| AliasInfo {
                alias: name.clone(),
                target: a.target.clone(),
                previous: a.previous.clone(),
            })
            .collect()
    }
}

/// `GET /v1/shims`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShimList {
    pub shims: Vec<ShimInfo>,
    pub aliases: Vec<AliasInfo>,
    pub generation: u64,
}

/// `PUT /v1/aliases/{alias}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAliasRequest {
    /// A loaded shim's name.
    pub target: String,
}

/// A file (or an `aliases.json` entry) that did not load, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoadFailureInfo {
    pub file: String,
    pub error: String,
}

impl From<&LoadFailure> for LoadFailureInfo {
    fn from(f: &LoadFailure) -> Self {
        LoadFailureInfo {
            file: f.file.clone(),
            error: f.error.clone(),
        }
    }
}

/// `POST /v1/reload`: what changed, file by file. A key file that failed to load is in
/// `failed` too, and then no key is valid until it loads.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReloadResponse {
    pub generation: u64,
    /// Files seen for the first time.
    pub loaded: Vec<String>,
    /// Files whose bytes changed: the new version now serves.
    pub reloaded: Vec<String>,
    pub unchanged: Vec<String>,
    /// Shims whose file is gone and that no alias points to: no longer served.
    pub removed: Vec<String>,
    /// Shims whose file is gone but that an alias still points to: still served.
    pub kept: Vec<String>,
    pub failed: Vec<LoadFailureInfo>,
    /// Whether the API key file was read again (false when keys are off or it failed).
    pub keys_reloaded: bool,
}

impl From<&Reloaded> for ReloadResponse {
    fn from(r: &Reloaded) -> Self {
        let report: &ReloadReport = &r.report;
        ReloadResponse {
            generation: report.generation,
            loaded: report.loaded.clone(),
            reloaded: report.reloaded.clone(),
            unchanged: report.unchanged.clone(),
            removed: report.removed.clone(),
            kept: report.kept.clone(),
            failed: report.failed.iter().map(LoadFailureInfo::from).collect(),
            keys_reloaded: r.keys_reloaded,
        }
    }
}

/// An alias after a switch or a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AliasChangeInfo {
    pub alias: String,
    pub target: String,
    pub previous: Option<String>,
    pub generation: u64,
}

impl From<AliasChange> for AliasChangeInfo {
    fn from(c: AliasChange) -> Self {
        AliasChangeInfo {
            alias: c.alias,
            target: c.target,
            previous: c.previous,
            generation: c.generation,
        }
    }
}

/// `GET /healthz`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    pub status: String,
    pub shims: usize,
    pub aliases: usize,
    pub generation: u64,
    /// How many files the latest load or reload could not load.
    pub failures: usize,
    /// Which, and why: shown to callers with a valid key, or to everyone when the server
    /// has no keys (file paths and error texts are for operators).
    pub failed: Vec<LoadFailureInfo>,
}
