//! A sentence-embedding model in a local directory, in the Hugging Face layout: what to
//! load, and how sentence-transformers would pool and normalise its output.
//!
//! Read: `config.json` (the architecture), `tokenizer.json`, `model.safetensors`, and when
//! present sentence-transformers' `modules.json`, its Pooling module's `config.json`,
//! `sentence_bert_config.json` (the maximum sequence length) and
//! `config_sentence_transformers.json` (prompts). Without `modules.json` the model is
//! pooled by mean and normalised, as sentence-transformers does for a bare transformer.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::bert::Config;
use crate::error::{EmbedError, Result};

/// Architectures [`crate::bert`] runs (`model_type` in `config.json`).
pub const SUPPORTED: &[&str] = &["bert"];

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean of the token vectors under the attention mask.
    Mean,
    /// The first token's vector ([CLS]).
    Cls,
}

/// A model directory, checked.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub dir: PathBuf,
    pub config: Config,
    pub tokenizer: PathBuf,
    pub weights: PathBuf,
    pub pooling: Pooling,
    pub normalize: bool,
    /// sentence-transformers' `max_seq_length`, else the model's position limit.
    pub max_tokens: usize,
    /// The prompt sentence-transformers puts before a query, when the model has one.
    pub query_prompt: Option<String>,
    /// The vector's width.
    pub dim: usize,
}

#[derive(Deserialize)]
struct ModuleEntry {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

impl ModelDir {
    pub fn open(dir: &Path) -> Result<ModelDir> {
        if !dir.is_dir() {
            return Err(EmbedError::model(dir, "not a directory"));
        }
        let config_path = dir.join("config.json");
        let raw: Value = read_json(&config_path)?;
        let model_type = raw.get("model_type").and_then(Value::as_str).unwrap_or("");
        if !SUPPORTED.contains(&model_type) {
            let architectures = raw
                .get("architectures")
                .map(|a| a.to_string())
                .unwrap_or_else(|| "none named".into());
            return Err(EmbedError::model(
                &config_path,
                format!(
                    "model_type {model_type:?} (architectures {architectures}): shimkit embed runs BERT, model_type {}",
                    SUPPORTED.join(", ")
                ),
            ));
        }
        let config: Config = serde_json::from_value(raw).map_err(|e| {
            EmbedError::model(&config_path, format!("not a BERT configuration ({e})"))
        })?;
        if config.position_embedding_type != "absolute" {
            return Err(EmbedError::model(
                &config_path,
                format!(
                    "position_embedding_type {:?}: shimkit embed runs absolute position embeddings",
                    config.position_embedding_type
                ),
            ));
        }
        let tokenizer = dir.join("tokenizer.json");
        if !tokenizer.is_file() {
            return Err(EmbedError::model(
                dir,
                "no tokenizer.json (the fast tokenizer's file; vocab.txt alone is not read)",
            ));
        }
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            let why = if dir.join("pytorch_model.bin").is_file() {
                "no model.safetensors, only pytorch_model.bin (a pickle, which is not loaded: convert it to safetensors)"
            } else {
                "no model.safetensors (the weights)"
            };
            return Err(EmbedError::model(dir, why));
        }

        let (mut pooling, mut normalize) = (Pooling::Mean, true);
        let modules_path = dir.join("modules.json");
        if modules_path.is_file() {
            let modules: Vec<ModuleEntry> = read_json(&modules_path)?;
            normalize = false;
            for m in &modules {
                match m.kind.rsplit('.').next().unwrap_or("") {
                    "Transformer" => {}
                    "Pooling" => pooling = read_pooling(&dir.join(&m.path).join("config.json"))?,
                    "Normalize" => normalize = true,
                    other => {
                        return Err(EmbedError::model(
                            &modules_path,
                            format!(
                                "a {other} module ({}): shimkit embed runs Transformer, Pooling and Normalize modules",
                                m.path
                            ),
                        ));
                    }
                }
            }
        }
        let mut max_tokens = config.max_position_embeddings;
        let st_config = dir.join("sentence_bert_config.json");
        if st_config.is_file() {
            let v: Value = read_json(&st_config)?;
            if let Some(n) = v.get("max_seq_length").and_then(Value::as_u64) {
                max_tokens = max_tokens.min(n as usize);
            }
        }
        let prompts = dir.join("config_sentence_transformers.json");
        let query_prompt = if prompts.is_file() {
            let v: Value = read_json(&prompts)?;
            v.pointer("/prompts/query")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
        } else {
            None
        };
        Ok(ModelDir {
            dir: dir.to_path_buf(),
            dim: config.hidden_size,
            config,
            tokenizer,
            weights,
            pooling,
            normalize,
            max_tokens,
            query_prompt,
        })
    }
}

fn read_pooling(path: &Path) -> Result<Pooling> {
    let v: Value = read_json(path)?;
    let on = |key: &str| v.get(key).and_then(Value::as_bool).unwrap_or(false);
    let modes: Vec<&str> = [
        "pooling_mode_cls_token",
        "pooling_mode_mean_tokens",
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens",
        "pooling_mode_lasttoken",
    ]
    .into_iter()
    .filter(|k| on(k))
    .collect();
    match modes.as_slice() {
        ["pooling_mode_mean_tokens"] => Ok(Pooling::Mean),
        ["pooling_mode_cls_token"] => Ok(Pooling::Cls),
        other => Err(EmbedError::model(
            path,
            format!("pooling {other:?}: shimkit embed pools by mean or by CLS, one of them"),
        )),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| EmbedError::model(path, e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| EmbedError::model(path, format!("not valid JSON ({e})")))
}
