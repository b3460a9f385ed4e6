//! The shim artifact: one `.safetensors` file.
//!
//! Tensors: `weight` (F32, [source_dim, target_dim]) and `bias` (F32, [target_dim]); a
//! `kernel` shim adds `kernel.landmarks` (F32, [m, source_dim]), `kernel.coef` (F32,
//! [m, target_dim]) and `kernel.gamma` (F32, [1]); a `cluster` shim adds
//! `cluster.centroids` ([k, source_dim]), `cluster.weights` ([k, source_dim, target_dim]),
//! `cluster.biases` ([k, target_dim]) and `cluster.temperature` ([1]); an `mlp` shim adds
//! `mlp.w1` ([source_dim, hidden]), `mlp.c` ([hidden]) and `mlp.w2` ([hidden, target_dim]),
//! its `weight` and `bias` being its own trained affine part. Shims with an
//! adapter are format version 2, so that a shimkit that knows only affine shims refuses
//! them instead of dropping the adapter.
//! Metadata (safetensors' string map): `format` = `shimkit.shim`, `format_version`, and
//! `shim`, a JSON object with every field of [`ShimMeta`]. In numpy:
//!
//! ```python
//! from safetensors.numpy import load_file
//! t = load_file("bridge.safetensors")
//! x = x / np.linalg.norm(x, axis=1, keepdims=True)      # normalize_input
//! y = x @ t["weight"] + t["bias"]
//! if "kernel.coef" in t:                                 # kernel shims
//!     y += np.exp(2 * t["kernel.gamma"][0] * (x @ t["kernel.landmarks"].T - 1)) @ t["kernel.coef"]
//! if "cluster.weights" in t:                             # cluster shims: replaces y
//!     a = t["cluster.temperature"][0] * (x @ t["cluster.centroids"].T)
//!     a = np.exp(a - a.max(axis=1, keepdims=True)); a /= a.sum(axis=1, keepdims=True)
//!     y = np.einsum("nc,ncd->nd", a, np.einsum("ni,cio->nco", x, t["cluster.weights"]) + t["cluster.biases"])
//! if "mlp.w2" in t:                                      # mlp shims: gelu, tanh form
//!     h = x @ t["mlp.w1"] + t["mlp.c"]
//!     y += 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h**3))) @ t["mlp.w2"]
//! y = y / np.linalg.norm(y, axis=1, keepdims=True)      # normalize_output
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::{SafeTensors, serialize};
use serde::{Deserialize, Serialize};

use crate::adapter::{Adapter, Tensors};
use crate::error::{Result, TrainError};
use crate::shim::{Shim, ShimMeta};

pub const FORMAT: &str = "shimkit.shim";
/// The newest version this shimkit writes and reads: 1 for affine shims, 2 with an adapter.
pub const FORMAT_VERSION: u32 = 2;

/// Writes the shim to `path` atomically (temporary file, then rename).
pub fn save(shim: &Shim, path: &Path) -> Result<()> {
    let bytes = to_bytes(shim)?;
    shimkit_data::write_atomic(path, &bytes)?;
    Ok(())
}

pub fn to_bytes(shim: &Shim) -> Result<Vec<u8>> {
    let invalid = |message: String| TrainError::Invalid {
        what: "shim",
        message,
    };
    if shim.bias.len() != shim.weight.ncols() {
        return Err(invalid(format!(
            "bias has {} values for {} outputs",
            shim.bias.len(),
            shim.weight.ncols()
        )));
    }
    // What the loader would refuse is never written.
    check_values(
        shim.weight.iter().chain(shim.bias.iter()),
        "weight and bias",
    )
    .map_err(invalid)?;
    if let Some(a) = &shim.adapter {
        a.check().map_err(invalid)?;
    }
    let weight = le_bytes(shim.weight.iter().copied());
    let bias = le_bytes(shim.bias.iter().copied());
    let (d_in, d_out) = shim.weight.dim();
    if let Some(Adapter::Mlp(m)) = &shim.adapter
        && (m.weight != shim.weight || m.bias != shim.bias)
    {
        return Err(invalid(
            "an MLP shim's weight and bias must be its own trained affine part".into(),
        ));
    }
    let extra: Vec<(&str, Vec<usize>, Vec<u8>)> = match &shim.adapter {
        None => Vec::new(),
        Some(a) => a
            .to_tensors(d_in, d_out)
            .map_err(invalid)?
            .into_iter()
            .map(|t| (t.name, t.shape, le_bytes(t.values.into_iter())))
            .collect(),
    };
    let mut tensors = vec![
        (
            "bias",
            TensorView::new(Dtype::F32, vec![shim.bias.len()], &bias)
                .map_err(|e| invalid(e.to_string()))?,
        ),
        (
            "weight",
            TensorView::new(
                Dtype::F32,
                vec![shim.weight.nrows(), shim.weight.ncols()],
                &weight,
            )
            .map_err(|e| invalid(e.to_string()))?,
        ),
    ];
    for (name, shape, data) in &extra {
        tensors.push((
            name,
            TensorView::new(Dtype::F32, shape.clone(), data).map_err(|e| invalid(e.to_string()))?,
        ));
    }
    let version = if shim.adapter.is_some() { 2 } else { 1 };
    let meta_json = serde_json::to_string(&shim.meta).map_err(|e| invalid(e.to_string()))?;
    let metadata = HashMap::from([
        ("format".to_owned(), FORMAT.to_owned()),
        ("format_version".to_owned(), version.to_string()),
        ("shim".to_owned(), meta_json),
    ]);
    let bytes = serialize(tensors, Some(metadata)).map_err(|e| invalid(e.to_string()))?;
    sorted_header(bytes).map_err(invalid)
}

/// safetensors writes its metadata map in `HashMap` order, which changes from one call to
/// the next; a shim's version is the hash of its file, so the header is written again
/// with its keys sorted. Only the order changes, so the header keeps its length and the
/// data its alignment.
fn sorted_header(mut bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    #[derive(Serialize, Deserialize)]
    struct Header {
        #[serde(rename = "__metadata__")]
        metadata: BTreeMap<String, String>,
        #[serde(flatten)]
        tensors: BTreeMap<String, TensorEntry>,
    }
    #[derive(Serialize, Deserialize)]
    struct TensorEntry {
        dtype: String,
        shape: Vec<usize>,
        data_offsets: [usize; 2],
    }
    let unexpected = |why: &str| format!("safetensors wrote a header shimkit cannot read: {why}");
    let n = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| unexpected("no length"))?;
    let slot = bytes
        .get_mut(8..8usize.saturating_add(n))
        .ok_or_else(|| unexpected("shorter than its length"))?;
    let header: Header = serde_json::from_slice(slot).map_err(|e| unexpected(&e.to_string()))?;
    let text = serde_json::to_vec(&header).map_err(|e| unexpected(&e.to_string()))?;
    if text.len() > slot.len() {
        return Err(unexpected("longer once sorted"));
    }
    let (head, pad) = slot.split_at_mut(text.len());
    head.copy_from_slice(&text);
    pad.fill(b' ');
    Ok(bytes)
}

/// Reads and checks a shim artifact.
pub fn load(path: &Path) -> Result<Shim> {
    let bytes = shimkit_data::read_regular(path)?;
    from_bytes(&bytes).map_err(|message| TrainError::Artifact {
        path: path.to_path_buf(),
        message,
    })
}

pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Shim, String> {
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
    let meta = header.metadata().clone().unwrap_or_default();
    match meta.get("format").map(String::as_str) {
        Some(FORMAT) => {}
        Some(other) => return Err(format!("its format is {other:?}, not {FORMAT:?}")),
        None => {
            return Err("a safetensors file without shimkit metadata (no \"format\" key)".into());
        }
    }
    let version: u32 = meta
        .get("format_version")
        .and_then(|v| v.parse().ok())
        .ok_or("format_version is missing or not a number")?;
    if version > FORMAT_VERSION {
        return Err(format!(
            "format version {version} is newer than this shimkit reads ({FORMAT_VERSION}); upgrade shimkit"
        ));
    }
    let info: ShimMeta =
        serde_json::from_str(meta.get("shim").ok_or("the \"shim\" metadata is missing")?)
            .map_err(|e| format!("the \"shim\" metadata is not valid: {e}"))?;
    let weight = f32_tensor(&st, "weight", 2)?;
    let bias = f32_tensor(&st, "bias", 1)?;
    let (rows, cols) = (weight.1[0], weight.1[1]);
    if bias.1[0] != cols {
        return Err(format!(
            "bias has {} values but weight has {cols} columns",
            bias.1[0]
        ));
    }
    if (rows, cols) != (info.source_dim, info.target_dim) {
        return Err(format!(
            "weight is {rows}×{cols} but the metadata says {}→{}",
            info.source_dim, info.target_dim
        ));
    }
    if rows == 0 || cols == 0 {
        return Err(format!(
            "weight is {rows}×{cols}; a shim maps vectors of at least one dimension"
        ));
    }
    check_values(weight.0.iter().chain(bias.0.iter()), "weight and bias")?;
    let weight = Array2::from_shape_vec((rows, cols), weight.0).map_err(|e| e.to_string())?;
    let mut shim = Shim::new(weight, Array1::from(bias.0), info);
    shim.adapter = Adapter::read(&FileTensors(&st), rows, cols)?;
    if let Some(adapter) = &shim.adapter
        && version < 2
    {
        return Err(format!(
            "format version {version} holds no adapter, but the file has {} tensors",
            adapter.method()
        ));
    }
    let adapter_method = shim.adapter.as_ref().map(|a| a.method().as_str());
    let named_adapter = ["kernel", "cluster", "mlp"].contains(&shim.meta.method.as_str());
    if named_adapter && adapter_method != Some(shim.meta.method.as_str()) {
        return Err(format!(
            "the metadata says method {:?} but the file has {} tensors",
            shim.meta.method,
            adapter_method.map_or("no adapter".to_owned(), |m| format!("{m} adapter"))
        ));
    }
    Ok(shim)
}

/// The tensors of a file being read, each checked as it is taken.
struct FileTensors<'a>(&'a SafeTensors<'a>);

impl Tensors for FileTensors<'_> {
    fn has(&self, name: &str) -> bool {
        self.0.tensor(name).is_ok()
    }

    fn get(&self, name: &str, rank: usize) -> std::result::Result<(Vec<f32>, Vec<usize>), String> {
        let (values, shape) = f32_tensor(self.0, name, rank)?;
        check_values(values.iter(), name)?;
        Ok((values, shape))
    }
}

fn f32_tensor(
    st: &SafeTensors<'_>,
    name: &str,
    rank: usize,
) -> std::result::Result<(Vec<f32>, Vec<usize>), String> {
    let t = st
        .tensor(name)
        .map_err(|_| format!("tensor {name:?} is missing"))?;
    if t.dtype() != Dtype::F32 {
        return Err(format!("tensor {name:?} is {:?}, expected F32", t.dtype()));
    }
    if t.shape().len() != rank {
        return Err(format!(
            "tensor {name:?} has shape {:?}, expected {rank} dimensions",
            t.shape()
        ));
    }
    let values = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((values, t.shape().to_vec()))
}

/// Largest magnitude a shim's value may have: with unit inputs of up to 2²⁰ dimensions an
/// output stays far below f32's range, so no answer overflows to infinity.
const MAX_MAGNITUDE: f32 = 1e30;

fn check_values<'a>(
    values: impl Iterator<Item = &'a f32>,
    what: &str,
) -> std::result::Result<(), String> {
    for (i, v) in values.enumerate() {
        if !v.is_finite() {
            return Err(format!("value {i} of {what} is {v}, which is not finite"));
        }
        if v.abs() > MAX_MAGNITUDE {
            return Err(format!(
                "value {i} of {what} is {v}, beyond ±{MAX_MAGNITUDE:e} (outputs would overflow)"
            ));
        }
    }
    Ok(())
}

fn le_bytes(values: impl Iterator<Item = f32>) -> Vec<u8> {
    values.flat_map(|v| v.to_le_bytes()).collect()
}
