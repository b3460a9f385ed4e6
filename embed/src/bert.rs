//! BERT's encoder, for inference: token ids in, one vector a token out.
//!
//! ```text
//! x  = LayerNorm(word[ids] + position[0..t] + token_type[0])
//! for each layer:
//!     q, k, v = split(x Wqkvᵀ + bqkv), each [batch, heads, t, head]
//!     a = LayerNorm(x + (softmax(q kᵀ / √head, masked) v) Woᵀ + bo)
//!     x = LayerNorm(a + act(a Wiᵀ + bi) Wdᵀ + bd)
//! ```
//!
//! candle-transformers has a BERT; shimkit used it first and measured this one faster on
//! the same cores with the same vectors (BENCHMARKS.md). There the attention scales, masks
//! and normalises the [batch, heads, t, t] scores in seven passes on one core each, and the
//! GELU runs on one core through libm's erf. Here the query, key and value maps are one
//! product over all the batch's tokens, the scale is folded into the query weights at
//! load, and on the CPU the softmax over a text's keys and the bias with the activation are
//! each one vectorised pass over all cores (`kernels.rs`). On other devices the same
//! math runs as candle's own operations.
//!
//! The tensor names are Hugging Face's (`embeddings.word_embeddings.weight`,
//! `encoder.layer.N.attention.self.query.weight`, ...), with or without a `bert.` prefix.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, D, Layout, Module, Result, Shape, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};
use rayon::prelude::*;
use serde::Deserialize;

use crate::kernels;

/// The keys of a BERT `config.json` this encoder reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "Activation::gelu")]
    pub hidden_act: Activation,
    pub max_position_embeddings: usize,
    #[serde(default = "two")]
    pub type_vocab_size: usize,
    #[serde(default = "layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: u32,
    #[serde(default = "absolute")]
    pub position_embedding_type: String,
}

fn two() -> usize {
    2
}
fn layer_norm_eps() -> f64 {
    1e-12
}
fn absolute() -> String {
    "absolute".into()
}

/// `hidden_act`: the activations of Hugging Face's BERT this encoder computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// x Φ(x), with the error function (Hugging Face's `gelu`).
    Gelu,
    /// The tanh approximation of GELU.
    #[serde(alias = "gelu_pytorch_tanh")]
    GeluNew,
    Relu,
}

impl Activation {
    fn gelu() -> Activation {
        Activation::Gelu
    }
}

/// A dense layer on the rows of a matrix.
struct Dense {
    weight_t: Tensor,
    bias: Tensor,
}

impl Dense {
    fn load(vb: &VarBuilder, inputs: usize, outputs: usize) -> Result<Dense> {
        Ok(Dense {
            weight_t: vb.get((outputs, inputs), "weight")?.t()?.contiguous()?,
            bias: vb.get(outputs, "bias")?,
        })
    }

    /// x Wᵀ, without the bias.
    fn product(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight_t)
    }

    /// x Wᵀ + b.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.product(x)?.broadcast_add(&self.bias)
    }
}

struct Layer {
    qkv: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

/// BERT's encoder with its weights.
pub struct Bert {
    word: Embedding,
    position: Tensor,
    token_type: Tensor,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    act: Activation,
}

impl Bert {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Bert> {
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let h = config.hidden_size;
        let heads = config.num_attention_heads;
        if heads == 0 || !h.is_multiple_of(heads) {
            candle_core::bail!("hidden_size {h} is not a multiple of num_attention_heads {heads}");
        }
        let norm = |vb: VarBuilder| candle_nn::layer_norm(h, config.layer_norm_eps, vb);
        let e = vb.pp("embeddings");
        let word = candle_nn::embedding(config.vocab_size, h, e.pp("word_embeddings"))?;
        let position = e.get(
            (config.max_position_embeddings, h),
            "position_embeddings.weight",
        )?;
        let token_type = e
            .get((config.type_vocab_size, h), "token_type_embeddings.weight")?
            .get(0)?;
        let embeddings_norm = norm(e.pp("LayerNorm"))?;
        // 1/√head folded into the query map: (x Wqᵀ + bq)/√head = x (Wq/√head)ᵀ + bq/√head.
        let scale = 1.0 / ((h / heads) as f64).sqrt();
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for n in 0..config.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{n}"));
            let a = l.pp("attention");
            let s = a.pp("self");
            let q = Dense::load(&s.pp("query"), h, h)?;
            let k = Dense::load(&s.pp("key"), h, h)?;
            let v = Dense::load(&s.pp("value"), h, h)?;
            let qkv = Dense {
                weight_t: Tensor::cat(&[(q.weight_t * scale)?, k.weight_t, v.weight_t], 1)?,
                bias: Tensor::cat(&[(q.bias * scale)?, k.bias, v.bias], 0)?,
            };
            layers.push(Layer {
                qkv,
                attention_out: Dense::load(&a.pp("output.dense"), h, h)?,
                attention_norm: norm(a.pp("output.LayerNorm"))?,
                intermediate: Dense::load(
                    &l.pp("intermediate.dense"),
                    h,
                    config.intermediate_size,
                )?,
                output: Dense::load(&l.pp("output.dense"), config.intermediate_size, h)?,
                output_norm: norm(l.pp("output.LayerNorm"))?,
            });
        }
        Ok(Bert {
            word,
            position,
            token_type,
            embeddings_norm,
            layers,
            heads,
            act: config.hidden_act,
        })
    }

    /// The last layer's token vectors, [batch, t, hidden], for `ids` [batch, t] (u32), each
    /// row a text of `lengths[row]` tokens padded at the end.
    pub fn forward(&self, ids: &Tensor, lengths: &[usize]) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let x = self
            .word
            .forward(ids)?
            .broadcast_add(&self.position.narrow(0, 0, t)?)?
            .broadcast_add(&self.token_type)?;
        let h = x.dim(D::Minus1)?;
        let mut x = self.embeddings_norm.forward(&x.reshape((b * t, h))?)?;
        for layer in &self.layers {
            x = self.layer(layer, &x, lengths, b, t)?;
        }
        x.reshape((b, t, h))
    }

    /// One layer on the batch's tokens as rows of `x` [b·t, hidden].
    fn layer(
        &self,
        l: &Layer,
        x: &Tensor,
        lengths: &[usize],
        b: usize,
        t: usize,
    ) -> Result<Tensor> {
        let h = x.dim(1)?;
        let head = h / self.heads;
        let qkv = l.qkv.forward(x)?;
        let split = |i: usize| -> Result<Tensor> {
            qkv.narrow(1, i * h, h)?
                .reshape((b, t, self.heads, head))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (split(0)?, split(1)?, split(2)?);
        let probs = masked_softmax(&q.matmul(&k.t()?)?, lengths)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b * t, h))?;
        let a = l
            .attention_norm
            .forward(&(l.attention_out.forward(&context)? + x)?)?;
        let inner = activation(&l.intermediate.product(&a)?, &l.intermediate.bias, self.act)?;
        l.output_norm.forward(&(l.output.forward(&inner)? + a)?)
    }
}

/// softmax over the last axis of `scores` [b, heads, t, t], each text's padding keys
/// (those at or after its length) excluded.
fn masked_softmax(scores: &Tensor, lengths: &[usize]) -> Result<Tensor> {
    if scores.device().is_cpu() {
        return scores.apply_op1_no_bwd(&PrefixSoftmax(lengths));
    }
    // Hugging Face adds the dtype's minimum to the scores of padding keys.
    let t = scores.dim(D::Minus1)?;
    let bias: Vec<f32> = lengths
        .iter()
        .flat_map(|&n| (0..t).map(move |j| if j < n { 0.0 } else { f32::MIN }))
        .collect();
    let bias = Tensor::from_vec(bias, (lengths.len(), 1, 1, t), scores.device())?;
    candle_nn::ops::softmax_last_dim(&scores.broadcast_add(&bias)?)
}

/// act(x + bias) on the rows of `x` [n, width].
fn activation(x: &Tensor, bias: &Tensor, act: Activation) -> Result<Tensor> {
    if x.device().is_cpu() {
        return x.apply_op2_no_bwd(bias, &BiasActivation(act));
    }
    let x = x.broadcast_add(bias)?;
    match act {
        Activation::Gelu => x.gelu_erf(),
        Activation::GeluNew => x.gelu(),
        Activation::Relu => x.relu(),
    }
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    match l.contiguous_offsets() {
        Some((from, to)) => Ok(&s.as_slice::<f32>()?[from..to]),
        None => candle_core::bail!("{what} has to be contiguous"),
    }
}

/// Each row of the scores [b, heads, t, t] softmaxed over its text's first `lengths[text]`
/// keys, in one pass a row, rows spread over the cores.
struct PrefixSoftmax<'a>(&'a [usize]);

impl CustomOp1 for PrefixSoftmax<'_> {
    fn name(&self) -> &'static str {
        "prefix-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let scores = contiguous(s, l, "the scores")?;
        let (b, heads, rows, t) = l.shape().dims4()?;
        if self.0.len() != b || self.0.iter().any(|&n| n == 0 || n > t) {
            candle_core::bail!("lengths {:?} for scores of {:?}", self.0, l.shape());
        }
        let mut out = vec![0f32; scores.len()];
        let rows_a_text = heads * rows;
        out.par_chunks_mut(t)
            .zip(scores.par_chunks(t))
            .enumerate()
            .for_each(|(row, (out, scores))| {
                kernels::softmax_prefix(scores, self.0[row / rows_a_text], out)
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// act(x + bias) for x [n, width] and bias [width], rows spread over the cores.
struct BiasActivation(Activation);

impl CustomOp2 for BiasActivation {
    fn name(&self) -> &'static str {
        "bias-activation"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, "the input")?;
        let bias = contiguous(s2, l2, "the bias")?;
        let (_, width) = l1.shape().dims2()?;
        if bias.len() != width {
            candle_core::bail!("a bias of {} for rows of {width}", bias.len());
        }
        // One copy of the loop an activation, so that each inlines and vectorises.
        fn rows<F: Fn(f32) -> f32 + Sync + Copy>(x: &[f32], bias: &[f32], f: F) -> Vec<f32> {
            let mut out = vec![0f32; x.len()];
            out.par_chunks_mut(bias.len())
                .zip(x.par_chunks(bias.len()))
                .for_each(|(out, x)| kernels::bias_map(x, bias, out, f));
            out
        }
        let out = match self.0 {
            Activation::Gelu => rows(x, bias, kernels::gelu_erf),
            Activation::GeluNew => rows(x, bias, kernels::gelu_tanh),
            Activation::Relu => rows(x, bias, |v: f32| v.max(0.0)),
        };
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The slow, obvious softmax: exp of the kept scores over their sum, in f64.
    fn reference_softmax(scores: &[f32], keep: &[f32]) -> Vec<f64> {
        let max = scores
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k != 0.0)
            .map(|(s, _)| *s as f64)
            .fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = scores
            .iter()
            .zip(keep)
            .map(|(s, k)| {
                if *k != 0.0 {
                    (*s as f64 - max).exp()
                } else {
                    0.0
                }
            })
            .collect();
        let sum: f64 = e.iter().sum();
        e.iter().map(|x| x / sum).collect()
    }

    #[test]
    fn masked_softmax_matches_the_reference_and_ignores_padding() -> Result<()> {
        let (b, heads, t) = (3, 2, 5);
        let scores: Vec<f32> = (0..b * heads * t * t)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.7)
            .collect();
        let lengths = [5, 3, 1];
        let mask: Vec<f32> = (0..b * t)
            .map(|i| if i % t < lengths[i / t] { 1.0 } else { 0.0 })
            .collect();
        let got = masked_softmax(
            &Tensor::from_vec(scores.clone(), (b, heads, t, t), &Device::Cpu)?,
            &lengths,
        )?
        .flatten_all()?
        .to_vec1::<f32>()?;
        for row in 0..b * heads * t {
            let text = row / (heads * t);
            let want = reference_softmax(&scores[row * t..][..t], &mask[text * t..][..t]);
            for (j, w) in want.iter().enumerate() {
                let g = got[row * t + j] as f64;
                assert!((g - w).abs() < 1e-6, "row {row} key {j}: {g} against {w}");
                if j >= lengths[text] {
                    assert_eq!(g, 0.0, "row {row}: a padding key has weight");
                }
            }
        }
        Ok(())
    }

    #[test]
    fn bias_activation_matches_candles_own_operations() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::from_vec(
            (0..24)
                .map(|i| (i as f32 - 12.0) * 0.37)
                .collect::<Vec<_>>(),
            (4, 6),
            &dev,
        )?;
        let bias = Tensor::from_vec(vec![0.1f32, -0.2, 0.3, 0.0, 1.5, -1.5], 6, &dev)?;
        let shifted = x.broadcast_add(&bias)?;
        for (act, want) in [
            (Activation::Gelu, shifted.gelu_erf()?),
            (Activation::GeluNew, shifted.gelu()?),
            (Activation::Relu, shifted.relu()?),
        ] {
            let got = activation(&x, &bias, act)?;
            let diff = (got - want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 5e-6, "{act:?}: {diff}");
        }
        Ok(())
    }

    #[test]
    fn the_config_reads_huggingface_activation_names() {
        for (name, act) in [
            ("gelu", Activation::Gelu),
            ("gelu_new", Activation::GeluNew),
            ("gelu_pytorch_tanh", Activation::GeluNew),
            ("relu", Activation::Relu),
        ] {
            let c: Config = serde_json::from_str(&format!(
                r#"{{"vocab_size": 10, "hidden_size": 4, "num_hidden_layers": 1,
                    "num_attention_heads": 2, "intermediate_size": 8,
                    "max_position_embeddings": 16, "hidden_act": "{name}"}}"#
            ))
            .unwrap();
            assert_eq!(c.hidden_act, act);
        }
        let err = serde_json::from_str::<Config>(
            r#"{"vocab_size": 10, "hidden_size": 4, "num_hidden_layers": 1,
                "num_attention_heads": 2, "intermediate_size": 8,
                "max_position_embeddings": 16, "hidden_act": "swish"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("swish"), "{err}");
    }
}
