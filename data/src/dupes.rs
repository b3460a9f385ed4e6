//! Finding duplicate ids in a table too large to keep its ids in memory.
//!
//! The streaming reader keeps one 64-bit hash per row (8 bytes, against 3 KiB for a 768-d
//! vector). Two equal hashes are only a suspicion: a second pass over the id column alone
//! confirms an exact duplicate, so the check never reports a false positive.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use crate::error::{DataError, Result};

pub(crate) fn id_hash(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Hashes seen so far, in row order.
#[derive(Default)]
pub(crate) struct HashLog {
    hashes: Vec<u64>,
}

impl HashLog {
    pub fn push(&mut self, id: &str) {
        self.hashes.push(id_hash(id));
    }

    /// Hashes that occur more than once.
    pub fn suspects(mut self) -> HashSet<u64> {
        self.hashes.sort_unstable();
        self.hashes
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect()
    }
}

/// Exact duplicate search over ids given in row order as (file, row, id).
pub(crate) struct ExactCheck {
    seen: HashMap<String, (usize, u64)>,
    files: Vec<PathBuf>,
}

impl ExactCheck {
    pub fn new(files: Vec<PathBuf>) -> Self {
        ExactCheck {
            seen: HashMap::new(),
            files,
        }
    }

    pub fn check(&mut self, file: usize, row: u64, id: &str) -> Result<()> {
        if let Some(&(first_file, first_row)) = self.seen.get(id) {
            return Err(DataError::DuplicateId {
                path: self.files[file].clone(),
                row,
                id: id.to_owned(),
                first_path: self.files[first_file].clone(),
                first_row,
            });
        }
        self.seen.insert(id.to_owned(), (file, row));
        Ok(())
    }
}
