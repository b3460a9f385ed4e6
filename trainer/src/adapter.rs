//! The non-linear part of a shim, when it has one.
//!
//! A shim is an affine map x·W + b, and for the non-linear methods an [`Adapter`] on top:
//! a kernel residual added to the affine output, or per-cluster maps that replace it.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::cluster::{ClusterMaps, ClusterParams};
use crate::fit::Method;
use crate::kernel::{KernelParams, KernelResidual};

#[derive(Debug, Clone, PartialEq)]
pub enum Adapter {
    Kernel(KernelResidual),
    Cluster(ClusterMaps),
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
        }
    }
}

impl Adapter {
    pub fn method(&self) -> Method {
        match self {
            Adapter::Kernel(_) => Method::Kernel,
            Adapter::Cluster(_) => Method::Cluster,
        }
    }

    pub fn parameters(&self) -> usize {
        match self {
            Adapter::Kernel(k) => k.parameters(),
            Adapter::Cluster(c) => c.parameters(),
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
        }
    }
}
