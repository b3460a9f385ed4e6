//! The methods a shim can be fitted with, and their names.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Which shim to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Ridge,
    Procrustes,
    Lowrank,
    /// Ridge plus a residual RBF kernel ridge (Nyström), see [`crate::adapter::kernel`].
    Kernel,
    /// Per-cluster affine maps blended by soft assignment, see [`crate::adapter::cluster`].
    Cluster,
    /// A residual MLP trained from ridge with candle, see [`crate::adapter::mlp`].
    Mlp,
    /// Every method above, the best on held-out pairs wins.
    Auto,
}

/// Every method and its name, once: `as_str`, `FromStr`, `CONCRETE` and the command
/// line's lists come from here.
const NAMES: [(Method, &str); 7] = [
    (Method::Ridge, "ridge"),
    (Method::Procrustes, "procrustes"),
    (Method::Lowrank, "lowrank"),
    (Method::Kernel, "kernel"),
    (Method::Cluster, "cluster"),
    (Method::Mlp, "mlp"),
    (Method::Auto, "auto"),
];

impl Method {
    /// Every method, `auto` last.
    pub const ALL: [Method; 7] = {
        let mut out = [Method::Auto; 7];
        let mut i = 0;
        while i < out.len() {
            out[i] = NAMES[i].0;
            i += 1;
        }
        out
    };

    /// Every method `auto` chooses among (all but `auto`), in the order they are tried.
    pub const CONCRETE: [Method; 6] = {
        let mut out = [Method::Auto; 6];
        let mut i = 0;
        while i < out.len() {
            out[i] = NAMES[i].0;
            i += 1;
        }
        out
    };

    /// Methods whose map is affine (x·W + b) and fitted from statistics alone.
    pub fn is_linear(self) -> bool {
        matches!(self, Method::Ridge | Method::Procrustes | Method::Lowrank)
    }

    pub fn as_str(self) -> &'static str {
        NAMES
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("auto", |(_, name)| name)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        NAMES
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(m, _)| *m)
            .ok_or_else(|| {
                let names: Vec<&str> = NAMES.iter().map(|(_, n)| *n).collect();
                format!(
                    "unknown method {s:?} (expected one of {})",
                    names.join(", ")
                )
            })
    }
}
