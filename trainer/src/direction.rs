//! Which way a shim maps.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Doc-side shims project stored old vectors into the new space (`OldToNew`); query-side
/// shims map new-model queries into the old space (`NewToOld`), so the old index serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    OldToNew,
    NewToOld,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::OldToNew => "old-to-new",
            Direction::NewToOld => "new-to-old",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Direction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "old-to-new" => Ok(Direction::OldToNew),
            "new-to-old" => Ok(Direction::NewToOld),
            other => Err(format!(
                "unknown direction {other:?} (expected old-to-new or new-to-old)"
            )),
        }
    }
}
