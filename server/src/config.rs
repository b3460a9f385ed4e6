//! The server's settings, merged from three places: command-line flags (and their
//! `SHIMKIT_*` environment variables, which clap reads) win over an optional TOML file,
//! which wins over the defaults.
//!
//! ```toml
//! # shimkit-serve.toml; relative paths are relative to this file
//! addr = "0.0.0.0:8080"
//! shims = "shims"
//! api_key_file = "keys.txt"
//! max_body_bytes = 67108864
//! max_batch = 65536
//! max_answer_bytes = 268435456     # largest answer one request may produce
//! max_inflight_bytes = 1073741824  # large batches held at once (inputs and answers)
//! max_connections = 4096
//! header_timeout_secs = 10         # also the idle keep-alive timeout
//! body_timeout_secs = 60
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::listen::ConnectionLimits;

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// 64 MiB: 16k vectors of 1024 f32 as raw bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;
pub const DEFAULT_MAX_BATCH: usize = 65_536;
/// 256 MiB: 65,536 vectors of 1024 f32 as raw bytes, or 16k of them as JSON.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 256 << 20;
/// 1 GiB of batches held at once, whatever the number of connections.
pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 1 << 30;
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings as given, each optional: what flags, the environment or a TOML file say.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PartialConfig {
    pub addr: Option<String>,
    pub shims: Option<PathBuf>,
    pub api_key_file: Option<PathBuf>,
    pub max_body_bytes: Option<usize>,
    pub max_batch: Option<usize>,
    pub max_answer_bytes: Option<usize>,
    pub max_inflight_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub header_timeout_secs: Option<f64>,
    pub body_timeout_secs: Option<f64>,
}

/// What the server runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// The directory of `.safetensors` shims (and `aliases.json`).
    pub shims: PathBuf,
    pub api_key_file: Option<PathBuf>,
    pub limits: Limits,
    pub connections: ConnectionLimits,
}

/// Request limits: over the sizes a request gets 413, past the body timeout 408.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one request body; a larger `Content-Length` is refused before reading.
    pub max_body_bytes: usize,
    /// Vectors in one request.
    pub max_batch: usize,
    /// Bytes one answer may take, in its encoding: the cap on what a request can make the
    /// server build (a 48 MB JSON body of 384-d vectors asks for a 600 MB answer at 768-d).
    pub max_answer_bytes: usize,
    /// Bytes of decoded batches and answers held at once across all requests; a request
    /// waits for its share, and answers 503 if it cannot have it in time.
    pub max_inflight_bytes: usize,
    /// Time to receive a whole request body.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch: DEFAULT_MAX_BATCH,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{field}: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
}

impl PartialConfig {
    /// Reads a TOML file; relative paths in it are taken relative to the file.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError::File {
            path: path.to_path_buf(),
            message,
        };
        let text = shimkit_data::read_regular_text(path).map_err(|e| err(e.to_string()))?;
        Self::from_toml_str(&text, path.parent().unwrap_or(Path::new(""))).map_err(err)
    }

    /// Parses the TOML text of a config file; relative paths in it are taken relative to
    /// `base`.
    pub fn from_toml_str(text: &str, base: &Path) -> Result<Self, String> {
        let mut cfg: PartialConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        for p in [&mut cfg.shims, &mut cfg.api_key_file]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }

    /// `self` where it says something, else `lower`.
    pub fn or(self, lower: PartialConfig) -> PartialConfig {
        PartialConfig {
            addr: self.addr.or(lower.addr),
            shims: self.shims.or(lower.shims),
            api_key_file: self.api_key_file.or(lower.api_key_file),
            max_body_bytes: self.max_body_bytes.or(lower.max_body_bytes),
            max_batch: self.max_batch.or(lower.max_batch),
            max_answer_bytes: self.max_answer_bytes.or(lower.max_answer_bytes),
            max_inflight_bytes: self.max_inflight_bytes.or(lower.max_inflight_bytes),
            max_connections: self.max_connections.or(lower.max_connections),
            header_timeout_secs: self.header_timeout_secs.or(lower.header_timeout_secs),
            body_timeout_secs: self.body_timeout_secs.or(lower.body_timeout_secs),
        }
    }

    /// Fills the defaults and checks every field.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let addr_text = self.addr.unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let addr = addr_text.parse().map_err(|e| ConfigError::Field {
            field: "addr",
            message: format!("{addr_text:?} is not a socket address like 127.0.0.1:8080 ({e})"),
        })?;
        let shims = self.shims.ok_or(ConfigError::Field {
            field: "shims",
            message:
                "no shim directory: give --shims DIR, SHIMKIT_SHIMS or `shims` in the config file"
                    .into(),
        })?;
        let positive = |field: &'static str, v: Option<usize>, default: usize| match v {
            Some(0) => Err(ConfigError::Field {
                field,
                message: "must be at least 1".into(),
            }),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        let seconds = |field: &'static str, v: Option<f64>, default: Duration| match v {
            None => Ok(default),
            Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
            Some(s) => Err(ConfigError::Field {
                field,
                message: format!("{s} is not a number of seconds between 0 and 86400"),
            }),
        };
        let defaults = ConnectionLimits::default();
        let limits = Limits {
            max_body_bytes: positive(
                "max_body_bytes",
                self.max_body_bytes,
                DEFAULT_MAX_BODY_BYTES,
            )?,
            max_batch: positive("max_batch", self.max_batch, DEFAULT_MAX_BATCH)?,
            max_answer_bytes: positive(
                "max_answer_bytes",
                self.max_answer_bytes,
                DEFAULT_MAX_ANSWER_BYTES,
            )?,
            max_inflight_bytes: positive(
                "max_inflight_bytes",
                self.max_inflight_bytes,
                DEFAULT_MAX_INFLIGHT_BYTES,
            )?,
            body_timeout: seconds(
                "body_timeout_secs",
                self.body_timeout_secs,
                DEFAULT_BODY_TIMEOUT,
            )?,
        };
        if limits.max_inflight_bytes < limits.max_answer_bytes {
            return Err(ConfigError::Field {
                field: "max_inflight_bytes",
                message: format!(
                    "{} is under max_answer_bytes ({}): the largest answer could never be served",
                    limits.max_inflight_bytes, limits.max_answer_bytes
                ),
            });
        }
        Ok(ServeConfig {
            addr,
            shims,
            api_key_file: self.api_key_file,
            limits,
            connections: ConnectionLimits {
                max_connections: positive(
                    "max_connections",
                    self.max_connections,
                    defaults.max_connections,
                )?,
                header_timeout: seconds(
                    "header_timeout_secs",
                    self.header_timeout_secs,
                    defaults.header_timeout,
                )?,
                drain_timeout: defaults.drain_timeout,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(
            &path,
            "addr = \"0.0.0.0:9000\"\nshims = \"s\"\nmax_batch = 10\n",
        )
        .unwrap();
        let file = PartialConfig::from_toml_file(&path).unwrap();
        assert_eq!(file.shims, Some(dir.path().join("s")));
        let flags = PartialConfig {
            max_batch: Some(20),
            ..PartialConfig::default()
        };
        let cfg = flags.or(file).resolve().unwrap();
        assert_eq!(cfg.addr, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(cfg.limits.max_batch, 20);
        assert_eq!(cfg.limits.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    }

    #[test]
    fn bad_settings_name_the_field_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(&path, "adress = \"x\"\n").unwrap();
        let e = PartialConfig::from_toml_file(&path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("serve.toml") && e.contains("adress"), "{e}");
        let e = PartialConfig::default().resolve().unwrap_err().to_string();
        assert!(e.starts_with("shims:"), "{e}");
        let cfg = PartialConfig {
            shims: Some("d".into()),
            addr: Some("localhost".into()),
            ..PartialConfig::default()
        };
        assert!(cfg.resolve().unwrap_err().to_string().starts_with("addr:"));
        let cfg = PartialConfig {
            shims: Some("d".into()),
            max_batch: Some(0),
            ..PartialConfig::default()
        };
        assert!(
            cfg.resolve()
                .unwrap_err()
                .to_string()
                .starts_with("max_batch:")
        );
    }
}
