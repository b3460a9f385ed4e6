//! Sentence embeddings with BERT ([`crate::bert`]): tokenize, run the encoder, pool the
//! token vectors under the attention mask, normalise — what sentence-transformers'
//! Transformer, Pooling and Normalize modules do.

use candle_core::{D, DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use tokenizers::{Tokenizer, TruncationParams};

use crate::bert::Bert;
use crate::error::{EmbedError, Result};
use crate::model_dir::{ModelDir, Pooling};

/// A loaded model, ready to embed batches of texts.
pub struct Embedder {
    model: Bert,
    tokenizer: Tokenizer,
    pooling: Pooling,
    normalize: bool,
    pad_id: u32,
    device: Device,
    /// Tokens a text is truncated to, [CLS] and [SEP] included.
    pub max_tokens: usize,
    pub dim: usize,
}

/// `cpu`, or `cuda` (the first GPU) in a build with the `cuda` feature.
pub fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::new_cuda(0)?),
        #[cfg(not(feature = "cuda"))]
        "cuda" => Err(EmbedError::Device(
            "--device cuda: this shimkit was built without the cuda feature (cargo build --release --features cuda)".into(),
        )),
        other => Err(EmbedError::Device(format!(
            "--device {other:?}: cpu or cuda"
        ))),
    }
}

impl Embedder {
    /// Loads `dir`'s tokenizer and weights onto `device`; texts are truncated at
    /// `max_tokens`, else at the model's own maximum.
    pub fn load(dir: &ModelDir, device: &Device, max_tokens: Option<usize>) -> Result<Embedder> {
        let limit = dir.config.max_position_embeddings;
        let max_tokens = max_tokens.unwrap_or(dir.max_tokens);
        if max_tokens < 2 || max_tokens > limit {
            return Err(EmbedError::model(
                &dir.dir,
                format!("--max-tokens {max_tokens}: between 2 and the model's {limit} positions"),
            ));
        }
        let mut tokenizer = Tokenizer::from_file(&dir.tokenizer)
            .map_err(|e| EmbedError::model(&dir.tokenizer, format!("not a tokenizer ({e})")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| EmbedError::model(&dir.tokenizer, e.to_string()))?;
        // Padding is done per batch here, to the batch's longest text.
        tokenizer.with_padding(None);
        let bytes = std::fs::read(&dir.weights)
            .map_err(|e| EmbedError::model(&dir.weights, e.to_string()))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, device)
            .map_err(|e| EmbedError::model(&dir.weights, format!("not safetensors ({e})")))?;
        let model = Bert::load(vb, &dir.config).map_err(|e| {
            EmbedError::model(&dir.weights, format!("not the weights of this BERT ({e})"))
        })?;
        Ok(Embedder {
            model,
            tokenizer,
            pooling: dir.pooling,
            normalize: dir.normalize,
            pad_id: dir.config.pad_token_id,
            device: device.clone(),
            max_tokens,
            dim: dir.dim,
        })
    }

    /// Token ids of each text, truncated, with the special tokens.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Tokenizer {
                what: format!("{} texts", texts.len()),
                message: e.to_string(),
            })?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// One vector for each tokenized text, padded to the longest of them.
    pub fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let (b, len) = (
            batch.len(),
            batch.iter().map(|t| t.len()).max().unwrap_or(0),
        );
        if b == 0 {
            return Ok(Vec::new());
        }
        let mut ids = vec![self.pad_id; b * len];
        let mut mask = vec![0f32; b * len];
        for (r, tokens) in batch.iter().enumerate() {
            ids[r * len..r * len + tokens.len()].copy_from_slice(tokens);
            mask[r * len..r * len + tokens.len()].fill(1.0);
        }
        let ids = Tensor::from_vec(ids, (b, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (b, len), &self.device)?;
        let lengths: Vec<usize> = batch.iter().map(|t| t.len()).collect();
        let hidden = self.model.forward(&ids, &lengths)?;
        let pooled = match self.pooling {
            Pooling::Cls => hidden.i((.., 0))?,
            Pooling::Mean => {
                let m = mask.unsqueeze(2)?;
                let sum = hidden.broadcast_mul(&m)?.sum(1)?;
                let count = m.sum(1)?.clamp(1e-9, f64::MAX)?;
                sum.broadcast_div(&count)?
            }
        };
        let out = if self.normalize {
            // torch's F.normalize: x / max(‖x‖, 1e-12).
            let norm = pooled
                .sqr()?
                .sum_keepdim(D::Minus1)?
                .sqrt()?
                .clamp(1e-12, f64::MAX)?;
            pooled.broadcast_div(&norm)?
        } else {
            pooled
        };
        Ok(out.to_vec2::<f32>()?)
    }

    /// Vectors of `texts` in their order, run in batches of `batch_size` texts of similar
    /// length (longest first, so that padding is short and a batch too large for memory
    /// fails at once); `progress` hears of each batch's size.
    pub fn embed(
        &self,
        texts: &[&str],
        batch_size: usize,
        progress: &dyn Fn(usize),
    ) -> Result<Vec<Vec<f32>>> {
        let tokens = self.tokenize(texts)?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(tokens[i].len()), i));
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(batch_size.max(1)) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| tokens[i].as_slice()).collect();
            for (&i, v) in chunk.iter().zip(self.forward(&batch)?) {
                out[i] = v;
            }
            progress(chunk.len());
        }
        Ok(out)
    }
}
