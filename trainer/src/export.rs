//! A linear shim as a sentence-transformers `Dense` module, so that it runs inside the
//! embedder (sentence-transformers, or text-embeddings-inference's `--dense-path`) with no
//! service at query time.
//!
//! `Dense` computes `activation(W·x + b)` on the pooled vector; shimkit computes
//! `unit(unit(x)·weight + bias)`. The two agree exactly when a `Normalize` module comes
//! before the `Dense` (for a shim fitted on normalised inputs, which every fitted shim is)
//! and another after it, with `W` = `weightᵀ` and the identity as activation. A model whose
//! pipeline already ends in `Normalize` (all-MiniLM-L6-v2, all-mpnet-base-v2) gets the
//! first one for free; [`DenseModule::modules_entries`] lists both all the same (normalising
//! twice changes nothing). Non-linear shims cannot be written this way: `Dense` knows only an
//! elementwise activation after one affine map.
//!
//! ```
//! use ndarray::{Array1, Array2, array};
//! use shimkit_trainer::export::DenseModule;
//! # use shimkit_trainer::{Shim, ShimMeta};
//! # let meta: ShimMeta = serde_json::from_value(serde_json::json!({
//! #     "method": "ridge", "direction": "old-to-new", "source_model": "a", "target_model": "b",
//! #     "source_dim": 2, "target_dim": 2, "lambda": null, "rank": null, "pairs": 10,
//! #     "train_ids_fingerprint": "", "heldout_cosine": null, "heldout_pairs": 0,
//! #     "candidates": [], "shimkit_version": "", "created": "",
//! #     "normalize_input": true, "normalize_output": true})).unwrap();
//! let shim = Shim::new(array![[0.0, 1.0], [1.0, 0.0]], Array1::zeros(2), meta);
//! let dense = DenseModule::from_shim(&shim).unwrap();
//! let x = array![[3.0f32, 4.0]];
//! assert_eq!(dense.forward(x.view()), shim.apply(x.view(), true).unwrap());
//! ```

use ndarray::{Array2, ArrayView2, Axis};
use safetensors::tensor::{Dtype, TensorView};
use serde_json::{Value, json};

use crate::error::{Result, TrainError};
use crate::shim::Shim;

/// The activation sentence-transformers writes for "none".
pub const IDENTITY: &str = "torch.nn.modules.linear.Identity";

/// A linear shim in sentence-transformers' `Dense` form.
#[derive(Debug, Clone)]
pub struct DenseModule {
    /// out_features × in_features (torch's `nn.Linear` layout).
    pub weight: Array2<f32>,
    pub bias: Vec<f32>,
    /// A `Normalize` module must come before the `Dense`.
    pub normalize_before: bool,
    /// A `Normalize` module comes after it.
    pub normalize_after: bool,
}

impl DenseModule {
    /// The shim's map as a `Dense` module; a shim with a non-linear adapter is refused.
    pub fn from_shim(shim: &Shim) -> Result<DenseModule> {
        if shim.adapter.is_some() {
            return Err(TrainError::Invalid {
                what: "shim",
                message: format!(
                    "a {} shim is not linear, and a sentence-transformers Dense module holds one linear map and an elementwise activation (Identity or Tanh); export a linear shim (ridge, procrustes or lowrank)",
                    shim.meta.method
                ),
            });
        }
        Ok(DenseModule {
            weight: shim.weight.t().to_owned(),
            bias: shim.bias.to_vec(),
            normalize_before: shim.meta.normalize_input,
            normalize_after: shim.meta.normalize_output,
        })
    }

    pub fn in_features(&self) -> usize {
        self.weight.ncols()
    }

    pub fn out_features(&self) -> usize {
        self.weight.nrows()
    }

    /// What sentence-transformers computes with the module and its `Normalize`s:
    /// unit(W·unit(x) + b).
    pub fn forward(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        let x = if self.normalize_before {
            crate::normalize_rows(x.to_owned())
        } else {
            x.to_owned()
        };
        let mut y = x.dot(&self.weight.t());
        for mut row in y.axis_iter_mut(Axis(0)) {
            row.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
        }
        if self.normalize_after {
            crate::normalize_rows(y)
        } else {
            y
        }
    }

    /// The module's `config.json`.
    pub fn config(&self) -> Value {
        json!({
            "in_features": self.in_features(),
            "out_features": self.out_features(),
            "bias": true,
            "activation_function": IDENTITY,
        })
    }

    /// The module's `model.safetensors`: `linear.weight` [out, in] and `linear.bias` [out].
    pub fn safetensors(&self) -> Result<Vec<u8>> {
        let invalid = |e: safetensors::SafeTensorError| TrainError::Invalid {
            what: "export",
            message: e.to_string(),
        };
        let weight: Vec<u8> = self
            .weight
            .as_standard_layout()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bias: Vec<u8> = self.bias.iter().flat_map(|v| v.to_le_bytes()).collect();
        let tensors = vec![
            (
                "linear.weight",
                TensorView::new(
                    Dtype::F32,
                    vec![self.out_features(), self.in_features()],
                    &weight,
                )
                .map_err(invalid)?,
            ),
            (
                "linear.bias",
                TensorView::new(Dtype::F32, vec![self.out_features()], &bias).map_err(invalid)?,
            ),
        ];
        safetensors::serialize(tensors, None).map_err(invalid)
    }

    /// The `modules.json` entries to append to a model's, numbered from `first_idx`: a
    /// `Normalize` (when the shim wants unit inputs), the `Dense` in `dense_path`, and a
    /// `Normalize` (when it gives unit outputs), the `Normalize`s in folders of their own
    /// beside it.
    pub fn modules_entries(&self, dense_path: &str, first_idx: usize) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut push = |path: String, kind: &str| {
            let idx = first_idx + entries.len();
            entries.push(json!({
                "idx": idx,
                "name": idx.to_string(),
                "path": path,
                "type": format!("sentence_transformers.models.{kind}"),
            }));
        };
        if self.normalize_before {
            push(format!("{dense_path}_Normalize_in"), "Normalize");
        }
        push(dense_path.to_owned(), "Dense");
        if self.normalize_after {
            push(format!("{dense_path}_Normalize_out"), "Normalize");
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    fn shim(weight: Array2<f32>, bias: Array1<f32>) -> Shim {
        let meta = serde_json::from_value(json!({
            "method": "ridge", "direction": "old-to-new", "source_model": "a",
            "target_model": "b", "source_dim": weight.nrows(), "target_dim": weight.ncols(),
            "lambda": null, "rank": null, "pairs": 10, "train_ids_fingerprint": "",
            "heldout_cosine": null, "heldout_pairs": 0, "candidates": [],
            "shimkit_version": "", "created": "", "normalize_input": true,
            "normalize_output": true
        }))
        .unwrap();
        Shim::new(weight, bias, meta)
    }

    #[test]
    fn forward_equals_the_shim_on_unnormalised_inputs_with_a_bias() {
        let w = Array2::from_shape_fn((5, 3), |(i, j)| ((i * 3 + j) % 7) as f32 - 3.0);
        let s = shim(w, Array1::from(vec![0.5, -1.0, 2.0]));
        let dense = DenseModule::from_shim(&s).unwrap();
        assert_eq!((dense.in_features(), dense.out_features()), (5, 3));
        let x = Array2::from_shape_fn((4, 5), |(i, j)| (i as f32 + 1.0) * (j as f32 - 2.5));
        let (a, b) = (dense.forward(x.view()), s.apply(x.view(), true).unwrap());
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn tensors_are_in_torch_layout() {
        let w = Array2::from_shape_fn((2, 3), |(i, j)| (10 * i + j) as f32);
        let dense = DenseModule::from_shim(&shim(w, Array1::from(vec![1.0, 2.0, 3.0]))).unwrap();
        let bytes = dense.safetensors().unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let weight = st.tensor("linear.weight").unwrap();
        assert_eq!(weight.shape(), &[3, 2]);
        let values: Vec<f32> = weight
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        // Row o of W is column o of the shim's weight.
        assert_eq!(values, vec![0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
        assert_eq!(st.tensor("linear.bias").unwrap().shape(), &[3]);
        assert_eq!(dense.config()["in_features"], 2);
        let entries = dense.modules_entries("3_Dense", 3);
        let kinds: Vec<&str> = entries
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "sentence_transformers.models.Normalize",
                "sentence_transformers.models.Dense",
                "sentence_transformers.models.Normalize"
            ]
        );
        assert_eq!(entries[2]["idx"], 5);
    }
}
