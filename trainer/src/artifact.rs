//! The shim artifact: one `.safetensors` file.
//!
//! Tensors: `weight` (F32, [source_dim, target_dim]) and `bias` (F32, [target_dim]); a
//! `kernel` shim adds `kernel.landmarks` (F32, [m, source_dim]), `kernel.coef` (F32,
//! [m, target_dim]) and `kernel.gamma` (F32, [1]), and is format version 2, so that a
//! shimkit that knows only affine shims refuses it instead of dropping the residual.
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
//! y = y / np.linalg.norm(y, axis=1, keepdims=True)      # normalize_output
//! ```

use std::collections::HashMap;
use std::path::Path;

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::{SafeTensors, serialize};

use crate::error::{Result, TrainError};
use crate::kernel::KernelResidual;
use crate::shim::{Shim, ShimMeta};

pub const FORMAT: &str = "shimkit.shim";
/// The newest version this shimkit writes and reads: 1 for affine shims, 2 with a kernel.
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
    let weight = le_bytes(shim.weight.iter().copied());
    let bias = le_bytes(shim.bias.iter().copied());
    let kernel_bytes = shim.kernel.as_ref().map(|k| {
        (
            le_bytes(k.landmarks.iter().copied()),
            le_bytes(k.coef.iter().copied()),
            le_bytes(std::iter::once(k.gamma)),
        )
    });
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
    let mut version = 1;
    if let (Some(k), Some((landmarks, coef, gamma))) = (&shim.kernel, &kernel_bytes) {
        let (m, d_in) = k.landmarks.dim();
        if d_in != shim.weight.nrows() || k.coef.dim() != (m, shim.weight.ncols()) {
            return Err(invalid(format!(
                "kernel landmarks {m}×{d_in} and coefficients {:?} do not fit a {}→{} shim",
                k.coef.dim(),
                shim.weight.nrows(),
                shim.weight.ncols()
            )));
        }
        for (name, shape, data) in [
            ("kernel.landmarks", vec![m, d_in], landmarks),
            ("kernel.coef", vec![m, k.coef.ncols()], coef),
            ("kernel.gamma", vec![1], gamma),
        ] {
            tensors.push((
                name,
                TensorView::new(Dtype::F32, shape, data).map_err(|e| invalid(e.to_string()))?,
            ));
        }
        version = 2;
    }
    let meta_json = serde_json::to_string(&shim.meta).map_err(|e| invalid(e.to_string()))?;
    let metadata = HashMap::from([
        ("format".to_owned(), FORMAT.to_owned()),
        ("format_version".to_owned(), version.to_string()),
        ("shim".to_owned(), meta_json),
    ]);
    serialize(tensors, Some(metadata)).map_err(|e| invalid(e.to_string()))
}

/// Reads and checks a shim artifact.
pub fn load(path: &Path) -> Result<Shim> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
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
    if let Some(i) = weight
        .0
        .iter()
        .chain(bias.0.iter())
        .position(|v| !v.is_finite())
    {
        return Err(format!("value {i} of its tensors is not finite"));
    }
    let weight = Array2::from_shape_vec((rows, cols), weight.0).map_err(|e| e.to_string())?;
    let mut shim = Shim::new(weight, Array1::from(bias.0), info);
    shim.kernel = load_kernel(&st, rows, cols)?;
    Ok(shim)
}

/// The kernel residual's tensors, all three or none.
fn load_kernel(
    st: &SafeTensors<'_>,
    d_in: usize,
    d_out: usize,
) -> std::result::Result<Option<KernelResidual>, String> {
    let names = ["kernel.landmarks", "kernel.coef", "kernel.gamma"];
    let present = names.iter().filter(|n| st.tensor(n).is_ok()).count();
    if present == 0 {
        return Ok(None);
    }
    if present < names.len() {
        return Err(format!(
            "a kernel shim needs all of {names:?}; some are missing"
        ));
    }
    let (landmarks, ls) = f32_tensor(st, "kernel.landmarks", 2)?;
    let (coef, cs) = f32_tensor(st, "kernel.coef", 2)?;
    let (gamma, _) = f32_tensor(st, "kernel.gamma", 1)?;
    if ls[1] != d_in || cs != [ls[0], d_out] || gamma.len() != 1 {
        return Err(format!(
            "kernel.landmarks {ls:?} and kernel.coef {cs:?} do not fit a {d_in}→{d_out} shim"
        ));
    }
    if landmarks
        .iter()
        .chain(&coef)
        .chain(&gamma)
        .any(|v| !v.is_finite())
    {
        return Err("a kernel tensor holds a value that is not finite".into());
    }
    Ok(Some(KernelResidual {
        landmarks: Array2::from_shape_vec((ls[0], ls[1]), landmarks).map_err(|e| e.to_string())?,
        coef: Array2::from_shape_vec((cs[0], cs[1]), coef).map_err(|e| e.to_string())?,
        gamma: gamma[0],
    }))
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
