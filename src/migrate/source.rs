//! The dashboard's view of a migration: `serve --migration SPEC` reads the history afresh
//! on every request, so a cycle `migrate run` records shows on the next refresh.

use std::path::Path;
use std::sync::Arc;

use shimkit_server::migration::{MigrationSource, MigrationUnavailable};

use super::{MigrationSpec, open};

/// A migration's status, read from its store.
#[derive(Debug)]
pub struct SpecSource {
    spec: MigrationSpec,
}

impl MigrationSource for SpecSource {
    fn status(&self) -> Result<serde_json::Value, MigrationUnavailable> {
        open(&self.spec)
            .map(|(_, status)| status.to_json())
            .map_err(|e| MigrationUnavailable(format!("{e:#}")))
    }
}

/// The source for the spec at `path`: the spec is read and checked now, so a bad one
/// stops the server from starting rather than showing an error page.
pub fn source(path: &Path) -> anyhow::Result<Arc<dyn MigrationSource>> {
    let spec = MigrationSpec::read(path)?;
    Ok(Arc::new(SpecSource { spec }))
}
