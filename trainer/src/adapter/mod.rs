//! The non-linear part of a shim, when it has one.
//!
//! A shim is an affine map x·W + b, and for the non-linear methods an [`Adapter`] on top:
//! a kernel residual added to the affine output ([`kernel`]), per-cluster maps that replace
//! it ([`cluster`]), or a trained MLP, with its own affine part and a residual branch
//! ([`mlp`]). Each module owns its adapter: the fitted tensors, their names in the
//! artifact and how to read and write them (with every check its `apply` relies on), its
//! hyper-parameters, its parameter count, its `apply`, and, with the `train` feature, how
//! it is fitted.
//!
//! Adding an adapter is its module, a variant of [`Adapter`] and of [`AdapterParams`], and
//! a line of [`KINDS`].

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

pub mod cluster;
pub mod kernel;
pub mod mlp;

use crate::method::Method;
use cluster::{ClusterMaps, ClusterParams};
use kernel::{KernelParams, KernelResidual};
use mlp::{MlpParams, MlpResidual};

#[derive(Debug, Clone, PartialEq)]
pub enum Adapter {
    Kernel(KernelResidual),
    Cluster(ClusterMaps),
    Mlp(MlpResidual),
}

/// An adapter's hyper-parameters, as reports and artifacts record them
/// (`{"kind": "kernel", "gamma": 1.0, …}`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AdapterParams {
    Kernel(KernelParams),
    Cluster(ClusterParams),
    Mlp(MlpParams),
}

/// One kind of adapter: the method that fits it, its tensors, how to read it, and (with
/// `train`) how to tune and fit it.
pub struct Kind {
    pub method: Method,
    /// Every tensor name it adds to the artifact; all present, or none.
    pub tensors: &'static [&'static str],
    pub read: fn(&dyn Tensors, usize, usize) -> Result<Adapter, String>,
    /// Chooses its hyper-parameters on held-out pairs.
    #[cfg(feature = "train")]
    pub tune: fn(&Tuning<'_>) -> crate::Result<AdapterParams>,
    /// Fits it with fixed hyper-parameters.
    #[cfg(feature = "train")]
    pub fit: fn(AdapterParams, &Fitting<'_>) -> crate::Result<Adapter>,
}

/// Every adapter kind.
pub const KINDS: [Kind; 3] = [
    Kind {
        method: Method::Kernel,
        tensors: &kernel::TENSORS,
        read: |t, d_in, d_out| {
            Ok(Adapter::Kernel(KernelResidual::from_tensors(
                t, d_in, d_out,
            )?))
        },
        #[cfg(feature = "train")]
        tune: kernel::tune_params,
        #[cfg(feature = "train")]
        fit: kernel::fit_params,
    },
    Kind {
        method: Method::Cluster,
        tensors: &cluster::TENSORS,
        read: |t, d_in, d_out| Ok(Adapter::Cluster(ClusterMaps::from_tensors(t, d_in, d_out)?)),
        #[cfg(feature = "train")]
        tune: cluster::tune_params,
        #[cfg(feature = "train")]
        fit: cluster::fit_params,
    },
    Kind {
        method: Method::Mlp,
        tensors: &mlp::TENSORS,
        read: |t, d_in, d_out| Ok(Adapter::Mlp(MlpResidual::from_tensors(t, d_in, d_out)?)),
        #[cfg(feature = "train")]
        tune: mlp::tune_params,
        #[cfg(feature = "train")]
        fit: mlp::fit_params,
    },
];

/// The adapter kind a method fits, if it fits one.
pub fn kind(method: Method) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.method == method)
}

/// What an adapter's tuning sees: unit training rows `x_tr` → `y_tr` and validation rows
/// (both from the kept training pairs), the ridge map under them (fitted without the
/// validation rows) and its λ, and the fit's settings.
#[cfg(feature = "train")]
pub struct Tuning<'a> {
    pub x_tr: ArrayView2<'a, f32>,
    pub y_tr: ArrayView2<'a, f32>,
    pub x_val: ArrayView2<'a, f32>,
    pub y_val: ArrayView2<'a, f32>,
    pub base: &'a crate::map::LinearMap,
    pub lambda: f64,
    /// Every kept training row, which the tuned parameters will be refitted on.
    pub rows: usize,
    pub settings: &'a Settings,
}

/// What an adapter's fit sees: unit rows `x` → `y`, the ridge map under them and its λ,
/// the number of rows its parameters were tuned on, and the fit's settings.
#[cfg(feature = "train")]
pub struct Fitting<'a> {
    pub x: ArrayView2<'a, f32>,
    pub y: ArrayView2<'a, f32>,
    pub base: &'a crate::map::LinearMap,
    pub lambda: f64,
    pub tuned_on: usize,
    pub settings: &'a Settings,
}

/// The settings of the adapters' fits (`shimkit fit` flags).
#[cfg(feature = "train")]
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub landmarks: kernel::Landmarks,
    pub mlp: mlp::MlpConfig,
    pub seed: u64,
}

/// A tensor as the artifact stores it: a name, a shape, float32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl Tensor {
    pub fn new(
        name: &'static str,
        shape: Vec<usize>,
        values: impl IntoIterator<Item = f32>,
    ) -> Self {
        Tensor {
            name,
            shape,
            values: values.into_iter().collect(),
        }
    }
}

/// Where an adapter reads its tensors from (an artifact being loaded).
pub trait Tensors {
    /// Whether the artifact holds a tensor of this name.
    fn has(&self, name: &str) -> bool;
    /// The tensor `name`, of `rank` dimensions, with its values checked (finite, in range).
    fn get(&self, name: &str, rank: usize) -> Result<(Vec<f32>, Vec<usize>), String>;
}

impl Adapter {
    pub fn method(&self) -> Method {
        match self {
            Adapter::Kernel(_) => Method::Kernel,
            Adapter::Cluster(_) => Method::Cluster,
            Adapter::Mlp(_) => Method::Mlp,
        }
    }

    pub fn parameters(&self) -> usize {
        match self {
            Adapter::Kernel(k) => k.parameters(),
            Adapter::Cluster(c) => c.parameters(),
            Adapter::Mlp(m) => m.parameters(),
        }
    }

    /// Every invariant its `apply` relies on, for an adapter read from a file.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Adapter::Kernel(k) => k.check(),
            Adapter::Cluster(c) => c.check(),
            Adapter::Mlp(m) => m.check(),
        }
    }

    /// The shim's output for unit rows `x`, given its affine part's output `affine`
    /// (computed only when the adapter uses it).
    pub fn apply(
        &self,
        x: ArrayView2<'_, f32>,
        affine: impl FnOnce() -> Array2<f32>,
    ) -> Array2<f32> {
        match self {
            Adapter::Kernel(k) => affine() + &k.apply(x),
            Adapter::Cluster(c) => c.apply(x),
            Adapter::Mlp(m) => m.apply(x),
        }
    }

    /// Whether its output adds to the shim's affine map (the kernel residual), rather than
    /// replacing it (cluster maps) or bringing its own (the MLP): its parameters then add to
    /// the affine map's.
    pub fn adds_to_affine(&self) -> bool {
        matches!(self, Adapter::Kernel(_))
    }

    /// The affine part an adapter trains itself (the MLP's), replacing the ridge map.
    pub fn own_affine(&self) -> Option<(&Array2<f32>, &ndarray::Array1<f32>)> {
        match self {
            Adapter::Mlp(m) => Some((&m.weight, &m.bias)),
            _ => None,
        }
    }

    /// Its tensors for the artifact, shapes checked against a `d_in` → `d_out` shim.
    pub fn to_tensors(&self, d_in: usize, d_out: usize) -> Result<Vec<Tensor>, String> {
        match self {
            Adapter::Kernel(k) => k.to_tensors(d_in, d_out),
            Adapter::Cluster(c) => c.to_tensors(d_in, d_out),
            Adapter::Mlp(m) => m.to_tensors(d_in, d_out),
        }
    }

    /// The adapter an artifact holds: every tensor of one kind, or none of any; checked.
    pub fn read(t: &dyn Tensors, d_in: usize, d_out: usize) -> Result<Option<Adapter>, String> {
        let present: Vec<(&Kind, usize)> = KINDS
            .iter()
            .map(|k| (k, k.tensors.iter().filter(|n| t.has(n)).count()))
            .filter(|(_, n)| *n > 0)
            .collect();
        let kind = match present.as_slice() {
            [] => return Ok(None),
            [(kind, n)] if *n == kind.tensors.len() => kind,
            [(kind, _)] => {
                return Err(format!(
                    "a {} shim needs all of {:?}; some are missing",
                    kind.method, kind.tensors
                ));
            }
            _ => {
                let names: Vec<String> =
                    present.iter().map(|(k, _)| k.method.to_string()).collect();
                return Err(format!(
                    "it holds the tensors of more than one adapter ({})",
                    names.join(", ")
                ));
            }
        };
        let adapter = (kind.read)(t, d_in, d_out)?;
        adapter.check()?;
        Ok(Some(adapter))
    }
}

impl AdapterParams {
    pub fn method(&self) -> Method {
        match self {
            AdapterParams::Kernel(_) => Method::Kernel,
            AdapterParams::Cluster(_) => Method::Cluster,
            AdapterParams::Mlp(_) => Method::Mlp,
        }
    }
}

impl std::fmt::Display for AdapterParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdapterParams::Kernel(p) => p.fmt(f),
            AdapterParams::Cluster(p) => p.fmt(f),
            AdapterParams::Mlp(p) => p.fmt(f),
        }
    }
}

impl From<KernelParams> for AdapterParams {
    fn from(p: KernelParams) -> Self {
        AdapterParams::Kernel(p)
    }
}

impl From<ClusterParams> for AdapterParams {
    fn from(p: ClusterParams) -> Self {
        AdapterParams::Cluster(p)
    }
}

impl From<MlpParams> for AdapterParams {
    fn from(p: MlpParams) -> Self {
        AdapterParams::Mlp(p)
    }
}

/// The error of a kind's fit handed another kind's parameters (a bug, never user input).
#[cfg(feature = "train")]
pub(crate) fn wrong_params(params: AdapterParams) -> crate::TrainError {
    crate::TrainError::Invalid {
        what: "adapter",
        message: format!(
            "{} parameters given to another kind of adapter",
            params.method()
        ),
    }
}

/// The message for tensors whose shapes do not fit the shim.
pub(crate) fn shape_error(kind: &str, shapes: &[&[usize]], d_in: usize, d_out: usize) -> String {
    format!("{kind} tensors {shapes:?} do not fit a {d_in}→{d_out} shim")
}

/// Rows that should be unit length are, to 1e-3 (a file's values are only checked here).
pub(crate) fn check_unit_rows(rows: ArrayView2<'_, f32>, what: &str) -> Result<(), String> {
    for (i, row) in rows.rows().into_iter().enumerate() {
        let norm = row
            .iter()
            .map(|&v| (v as f64) * (v as f64))
            .sum::<f64>()
            .sqrt();
        if (norm - 1.0).abs() > 1e-3 {
            return Err(format!(
                "row {i} of {what} has length {norm}, not 1 (the rows are unit vectors)"
            ));
        }
    }
    Ok(())
}
