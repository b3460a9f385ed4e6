//! Panics of the Parquet and Arrow decoders, turned into errors about the file.
//!
//! The decoders validate most of what they read, but not all: fuzzing found a Parquet
//! footer whose embedded Arrow schema makes arrow-ipc unwrap a missing field
//! (RELIABILITY.md). A malformed file must be an error that names it, never the end of the
//! process, so every entry point that decodes a file runs under [`contain`]. The panic
//! still reaches the panic hook; [`install_panic_filter`] keeps a contained one from being
//! printed as if the program had crashed (or, under a fuzzer, from aborting the run).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::error::{DataError, Result};

thread_local! {
    /// How deep this thread is inside [`contain`] (or a worker it started).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f`; a panic inside becomes a [`DataError::Parquet`] naming `path`.
pub fn contain<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_decoder_panic(f).unwrap_or_else(|message| {
        Err(DataError::Parquet {
            path: path.to_path_buf(),
            source: parquet::errors::ParquetError::General(format!(
                "the decoder failed on malformed data ({message})"
            )),
        })
    })
}

/// Runs `f`; a panic inside becomes `Err` with its message (for decoders of other
/// formats, such as Arrow IPC request bodies).
pub fn catch_decoder_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    result.map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into())
    })
}

/// Marks a worker thread's task as contained by its caller (a rayon task of a contained
/// read), so the filter stays quiet there too.
pub(crate) fn contained_here<T>(f: impl FnOnce() -> T) -> T {
    DEPTH.with(|d| d.set(d.get() + 1));
    let out = f();
    DEPTH.with(|d| d.set(d.get() - 1));
    out
}

/// Wraps the current panic hook so that panics inside [`contain`] are not reported: they
/// become errors. Others go to the previous hook as before. Call once, at start.
pub fn install_panic_filter() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if DEPTH.with(Cell::get) == 0 {
            previous(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_is_an_error_naming_the_file() {
        let e = contain(Path::new("t.parquet"), || -> Result<()> {
            panic!("bad footer")
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("t.parquet") && e.contains("bad footer"), "{e}");
        assert_eq!(contain(Path::new("t"), || Ok(3)).unwrap(), 3);
        assert_eq!(DEPTH.with(Cell::get), 0);
    }
}
