//! Input paths must be regular files after following links.
//!
//! Opening a FIFO blocks until a writer appears, so a named pipe given as a table, a qrels
//! file or a shim would hang the command forever; a dangling link or a link loop read as
//! part of a directory would silently shrink the table. Every input file goes through
//! [`require_regular_file`] first, which names what the path really is.

use std::path::Path;

use crate::error::{DataError, Result};

/// `Ok` when `path` is a regular file (after following symbolic links); otherwise an error
/// that says what it is instead: a FIFO, a socket, a device, a directory, a dangling link,
/// a link loop.
pub fn require_regular_file(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(meta) => Err(not_regular(path, kind(&meta.file_type()))),
        Err(e) => {
            let is_link = std::fs::symlink_metadata(path)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false);
            if !is_link {
                return Err(DataError::io(path, e));
            }
            let what = if e.kind() == std::io::ErrorKind::NotFound {
                "a symbolic link whose target does not exist".to_owned()
            } else if is_loop(&e) {
                "a symbolic link loop".to_owned()
            } else {
                format!("a symbolic link that cannot be followed ({e})")
            };
            Err(not_regular(path, &what))
        }
    }
}

/// Reads a whole regular file.
pub fn read_regular(path: &Path) -> Result<Vec<u8>> {
    require_regular_file(path)?;
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

/// Reads a whole regular file as UTF-8, without a leading byte-order mark.
pub fn read_regular_text(path: &Path) -> Result<String> {
    let bytes = read_regular(path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        DataError::Dataset {
            path: path.to_path_buf(),
            message: format!("not UTF-8 text (line {line}: invalid byte at offset {at})"),
        }
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

fn not_regular(path: &Path, what: &str) -> DataError {
    DataError::NotRegularFile {
        path: path.to_path_buf(),
        what: what.to_owned(),
    }
}

fn kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

fn is_loop(e: &std::io::Error) -> bool {
    // ELOOP: 40 on Linux, 62 on the BSDs and macOS.
    matches!(e.raw_os_error(), Some(40) if cfg!(target_os = "linux"))
        || matches!(e.raw_os_error(), Some(62) if cfg!(any(target_os = "macos", target_os = "freebsd")))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn names_what_a_path_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.parquet");
        std::fs::write(&file, b"x").unwrap();
        assert!(require_regular_file(&file).is_ok());

        let link = dir.path().join("link.parquet");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(
            require_regular_file(&link).is_ok(),
            "a link to a file is fine"
        );

        let dangling = dir.path().join("dangling.parquet");
        std::os::unix::fs::symlink(dir.path().join("gone"), &dangling).unwrap();
        let e = require_regular_file(&dangling).unwrap_err().to_string();
        assert!(
            e.contains("dangling.parquet") && e.contains("target does not exist"),
            "{e}"
        );

        let looped = dir.path().join("loop.parquet");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        let e = require_regular_file(&looped).unwrap_err().to_string();
        assert!(e.contains("loop.parquet") && e.contains("loop"), "{e}");

        let e = require_regular_file(dir.path()).unwrap_err().to_string();
        assert!(e.contains("a directory"), "{e}");

        let fifo = dir.path().join("pipe.parquet");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let e = require_regular_file(&fifo).unwrap_err().to_string();
        assert!(e.contains("pipe.parquet") && e.contains("FIFO"), "{e}");

        let missing = dir.path().join("missing.parquet");
        assert!(matches!(
            require_regular_file(&missing),
            Err(DataError::Io { .. })
        ));
    }

    #[test]
    fn text_loses_its_byte_order_mark() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.tsv");
        std::fs::write(&p, "\u{feff}a\tb\t1\n").unwrap();
        assert_eq!(read_regular_text(&p).unwrap(), "a\tb\t1\n");
        std::fs::write(&p, [0x61, 0xff, 0x62]).unwrap();
        let e = read_regular_text(&p).unwrap_err().to_string();
        assert!(e.contains("not UTF-8") && e.contains("offset 1"), "{e}");
    }
}
