//! A migration run as an operation on a PostgreSQL table: its spec ([`spec`]), a cycle's
//! scoring of the store and decision ([`score`]), and what its history says ([`status`]):
//! the cycles, the decision of the last one, and whether the gate holds for a cutover.

pub mod score;
pub mod spec;
pub mod status;

pub use spec::MigrationSpec;
pub use status::{Status, plan};
