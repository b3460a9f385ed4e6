//! The re-embed path, natively: sentence embeddings from a local model directory in the
//! Hugging Face layout, with BERT written on candle ([`bert`]), on the CPU or (with the `cuda`
//! feature) an NVIDIA GPU.
//!
//! This crate owns reading a model directory the way sentence-transformers does
//! ([`ModelDir`]: architecture, tokenizer, weights, pooling, normalisation, truncation,
//! prompts) and running it ([`Embedder`]). It does not read corpora or write tables (that
//! is `shimkit-data`, and `shimkit embed` joins the two).
//!
//! ```no_run
//! use shimkit_embed::{Embedder, ModelDir, device};
//!
//! let dir = ModelDir::open("all-MiniLM-L6-v2".as_ref())?;
//! let embedder = Embedder::load(&dir, &device("cpu")?, None)?;
//! let vectors = embedder.embed(&["a wing in a slipstream", "boundary layers"], 32, &|_| {})?;
//! assert_eq!(vectors[0].len(), 384);
//! # Ok::<(), shimkit_embed::EmbedError>(())
//! ```

pub mod bert;
mod embedder;
mod error;
mod kernels;
mod model_dir;

pub use embedder::{Embedder, device};
pub use error::{EmbedError, Result};
pub use model_dir::{ModelDir, Pooling, SUPPORTED};
