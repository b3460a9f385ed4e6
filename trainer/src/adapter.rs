//! The non-linear part of a shim, when it has one.
//!
//! A shim is an affine map x·W + b, and for the non-linear methods an [`Adapter`] on top:
//! a kernel residual added to the affine output, per-cluster maps that replace it, or a
//! trained MLP (its own affine part plus a residual branch).

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::cluster::{ClusterMaps, ClusterParams};
use crate::fit::Method;
use crate::kernel::{KernelParams, KernelResidual};
use crate::mlp::{MlpConfig, MlpResidual};

#[derive(Debug, Clone, PartialEq)]
pub enum Adapter {
    Kernel(KernelResidual),
    Cluster(ClusterMaps),
    Mlp(MlpResidual),
}

/// An adapter's hyper-parameters, as reports and artifacts record them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AdapterParams {
    Kernel {
        gamma: f64,
        lambda: f64,
        landmarks: usize,
    },
    Cluster {
        clusters: usize,
        temperature: f64,
    },
    Mlp {
        hidden: usize,
        /// Epochs trained (chosen by early stopping).
        epochs: usize,
        learning_rate: f64,
        weight_decay: f64,
        batch: usize,
        contrastive_weight: f64,
        temperature: f64,
    },
}

impl AdapterParams {
    /// The MLP parameters of a training run: `cfg` with the epochs it ran.
    pub fn mlp(cfg: &MlpConfig, epochs: usize) -> Self {
        AdapterParams::Mlp {
            hidden: cfg.hidden,
            epochs,
            learning_rate: cfg.learning_rate,
            weight_decay: cfg.weight_decay,
            batch: cfg.batch,
            contrastive_weight: cfg.contrastive_weight,
            temperature: cfg.temperature,
        }
    }
}

impl From<KernelParams> for AdapterParams {
    fn from(p: KernelParams) -> Self {
        AdapterParams::Kernel {
            gamma: p.gamma,
            lambda: p.lambda,
            landmarks: p.landmarks,
        }
    }
}

impl From<ClusterParams> for AdapterParams {
    fn from(p: ClusterParams) -> Self {
        AdapterParams::Cluster {
            clusters: p.clusters,
            temperature: p.temperature,
        }
    }
}

impl AdapterParams {
    pub fn method(&self) -> Method {
        match self {
            AdapterParams::Kernel { .. } => Method::Kernel,
            AdapterParams::Cluster { .. } => Method::Cluster,
            AdapterParams::Mlp { .. } => Method::Mlp,
        }
    }
}

impl Adapter {
    pub fn method(&self) -> Method {
        match self {
            Adapter::Kernel(_) => Method::Kernel,
            Adapter::Cluster(_) => Method::Cluster,
            Adapter::Mlp(_) => Method::Mlp,
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

    pub fn parameters(&self) -> usize {
        match self {
            Adapter::Kernel(k) => k.parameters(),
            Adapter::Cluster(c) => c.parameters(),
            Adapter::Mlp(m) => m.parameters(),
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

    /// The affine part an adapter trains itself (the MLP's), replacing the ridge map.
    pub fn own_affine(&self) -> Option<(&Array2<f32>, &ndarray::Array1<f32>)> {
        match self {
            Adapter::Mlp(m) => Some((&m.weight, &m.bias)),
            _ => None,
        }
    }
}
