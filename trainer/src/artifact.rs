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

use crate::adapter::Adapter;
use crate::cluster::ClusterMaps;
use crate::error::{Result, TrainError};
use crate::kernel::KernelResidual;
use crate::mlp::MlpResidual;
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
    let extra = adapter_tensors(shim).map_err(invalid)?;
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
    shim.adapter = load_adapter(&st, rows, cols)?;
    if let Some(adapter) = &shim.adapter {
        if version < 2 {
            return Err(format!(
                "format version {version} holds no adapter, but the file has {} tensors",
                adapter.method()
            ));
        }
        adapter.check()?;
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
    if let Some(Adapter::Mlp(m)) = &mut shim.adapter {
        m.weight = shim.weight.clone();
        m.bias = shim.bias.clone();
    }
    Ok(shim)
}

type Tensor = (&'static str, Vec<usize>, Vec<u8>);

/// The adapter's tensors, shapes checked against the affine part.
fn adapter_tensors(shim: &Shim) -> std::result::Result<Vec<Tensor>, String> {
    let (d_in, d_out) = shim.weight.dim();
    Ok(match &shim.adapter {
        None => Vec::new(),
        Some(Adapter::Kernel(k)) => {
            let m = k.landmarks.nrows();
            if k.landmarks.ncols() != d_in || k.coef.dim() != (m, d_out) {
                return Err(format!(
                    "kernel landmarks {:?} and coefficients {:?} do not fit a {d_in}→{d_out} shim",
                    k.landmarks.dim(),
                    k.coef.dim()
                ));
            }
            vec![
                (
                    "kernel.landmarks",
                    vec![m, d_in],
                    le_bytes(k.landmarks.iter().copied()),
                ),
                (
                    "kernel.coef",
                    vec![m, d_out],
                    le_bytes(k.coef.iter().copied()),
                ),
                ("kernel.gamma", vec![1], le_bytes(std::iter::once(k.gamma))),
            ]
        }
        Some(Adapter::Cluster(c)) => {
            let k = c.centroids.nrows();
            if c.centroids.ncols() != d_in
                || c.weights.dim() != (k, d_in, d_out)
                || c.biases.dim() != (k, d_out)
            {
                return Err(format!(
                    "cluster tensors {:?}, {:?}, {:?} do not fit a {d_in}→{d_out} shim",
                    c.centroids.dim(),
                    c.weights.dim(),
                    c.biases.dim()
                ));
            }
            vec![
                (
                    "cluster.centroids",
                    vec![k, d_in],
                    le_bytes(c.centroids.iter().copied()),
                ),
                (
                    "cluster.weights",
                    vec![k, d_in, d_out],
                    le_bytes(c.weights.iter().copied()),
                ),
                (
                    "cluster.biases",
                    vec![k, d_out],
                    le_bytes(c.biases.iter().copied()),
                ),
                (
                    "cluster.temperature",
                    vec![1],
                    le_bytes(std::iter::once(c.temperature)),
                ),
            ]
        }
        Some(Adapter::Mlp(m)) => {
            let h = m.hidden();
            if m.weight != shim.weight || m.bias != shim.bias {
                return Err(
                    "an MLP shim's weight and bias must be its own trained affine part".into(),
                );
            }
            if m.w1.dim() != (d_in, h) || m.c.len() != h || m.w2.dim() != (h, d_out) {
                return Err(format!(
                    "MLP tensors {:?}, {}, {:?} do not fit a {d_in}→{d_out} shim",
                    m.w1.dim(),
                    m.c.len(),
                    m.w2.dim()
                ));
            }
            vec![
                ("mlp.w1", vec![d_in, h], le_bytes(m.w1.iter().copied())),
                ("mlp.c", vec![h], le_bytes(m.c.iter().copied())),
                ("mlp.w2", vec![h, d_out], le_bytes(m.w2.iter().copied())),
            ]
        }
    })
}

/// The adapter in a file: every tensor of one kind, or none of either.
fn load_adapter(
    st: &SafeTensors<'_>,
    d_in: usize,
    d_out: usize,
) -> std::result::Result<Option<Adapter>, String> {
    const KERNEL: [&str; 3] = ["kernel.landmarks", "kernel.coef", "kernel.gamma"];
    const CLUSTER: [&str; 4] = [
        "cluster.centroids",
        "cluster.weights",
        "cluster.biases",
        "cluster.temperature",
    ];
    const MLP: [&str; 3] = ["mlp.w1", "mlp.c", "mlp.w2"];
    let count = |names: &[&str]| names.iter().filter(|n| st.tensor(n).is_ok()).count();
    let (kernel, cluster, mlp) = (count(&KERNEL), count(&CLUSTER), count(&MLP));
    if [kernel, cluster, mlp].iter().filter(|&&c| c > 0).count() > 1 {
        return Err("it holds the tensors of more than one adapter (kernel, cluster, mlp)".into());
    }
    let finite = |v: &[f32], what: &str| check_values(v.iter(), what);
    if kernel > 0 {
        if kernel < KERNEL.len() {
            return Err(format!(
                "a kernel shim needs all of {KERNEL:?}; some are missing"
            ));
        }
        let (landmarks, ls) = f32_tensor(st, "kernel.landmarks", 2)?;
        let (coef, cs) = f32_tensor(st, "kernel.coef", 2)?;
        let (gamma, gs) = f32_tensor(st, "kernel.gamma", 1)?;
        if ls[1] != d_in || cs != [ls[0], d_out] || gs != [1] {
            return Err(format!(
                "kernel.landmarks {ls:?} and kernel.coef {cs:?} do not fit a {d_in}→{d_out} shim"
            ));
        }
        finite(&landmarks, "kernel.landmarks")?;
        finite(&coef, "kernel.coef")?;
        finite(&gamma, "kernel.gamma")?;
        return Ok(Some(Adapter::Kernel(KernelResidual {
            landmarks: Array2::from_shape_vec((ls[0], ls[1]), landmarks)
                .map_err(|e| e.to_string())?,
            coef: Array2::from_shape_vec((cs[0], cs[1]), coef).map_err(|e| e.to_string())?,
            gamma: gamma[0],
        })));
    }
    if cluster > 0 {
        if cluster < CLUSTER.len() {
            return Err(format!(
                "a cluster shim needs all of {CLUSTER:?}; some are missing"
            ));
        }
        let (centroids, cs) = f32_tensor(st, "cluster.centroids", 2)?;
        let (weights, ws) = f32_tensor(st, "cluster.weights", 3)?;
        let (biases, bs) = f32_tensor(st, "cluster.biases", 2)?;
        let (temperature, ts) = f32_tensor(st, "cluster.temperature", 1)?;
        let k = cs[0];
        if cs[1] != d_in || ws != [k, d_in, d_out] || bs != [k, d_out] || ts != [1] {
            return Err(format!(
                "cluster tensors {cs:?}, {ws:?}, {bs:?} do not fit a {d_in}→{d_out} shim"
            ));
        }
        for (v, what) in [
            (&centroids, "cluster.centroids"),
            (&weights, "cluster.weights"),
            (&biases, "cluster.biases"),
            (&temperature, "cluster.temperature"),
        ] {
            finite(v, what)?;
        }
        return Ok(Some(Adapter::Cluster(ClusterMaps {
            centroids: Array2::from_shape_vec((k, d_in), centroids).map_err(|e| e.to_string())?,
            weights: ndarray::Array3::from_shape_vec((k, d_in, d_out), weights)
                .map_err(|e| e.to_string())?,
            biases: Array2::from_shape_vec((k, d_out), biases).map_err(|e| e.to_string())?,
            temperature: temperature[0],
        })));
    }
    if mlp > 0 {
        if mlp < MLP.len() {
            return Err(format!(
                "an MLP shim needs all of {MLP:?}; some are missing"
            ));
        }
        let (w1, s1) = f32_tensor(st, "mlp.w1", 2)?;
        let (c, sc) = f32_tensor(st, "mlp.c", 1)?;
        let (w2, s2) = f32_tensor(st, "mlp.w2", 2)?;
        let h = s1[1];
        if s1[0] != d_in || sc != [h] || s2 != [h, d_out] {
            return Err(format!(
                "MLP tensors {s1:?}, {sc:?}, {s2:?} do not fit a {d_in}→{d_out} shim"
            ));
        }
        for (v, what) in [(&w1, "mlp.w1"), (&c, "mlp.c"), (&w2, "mlp.w2")] {
            finite(v, what)?;
        }
        // The affine part is the file's weight and bias, filled in by the caller.
        return Ok(Some(Adapter::Mlp(MlpResidual {
            weight: Array2::zeros((0, 0)),
            bias: Array1::zeros(0),
            w1: Array2::from_shape_vec((d_in, h), w1).map_err(|e| e.to_string())?,
            c: Array1::from(c),
            w2: Array2::from_shape_vec((h, d_out), w2).map_err(|e| e.to_string())?,
        })));
    }
    Ok(None)
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

/// The current time as RFC 3339 UTC, without a date library.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
