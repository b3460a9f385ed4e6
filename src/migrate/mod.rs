//! A migration run as an operation on a PostgreSQL table: its spec ([`spec`]), a cycle's
//! scoring of the store and decision ([`score`]), what its history says ([`status`]: the
//! cycles, the decision of the last one, whether the gate holds for a cutover, the cost
//! spent and to go), the shims it fits on its re-embedded pairs ([`shim`]), and the
//! dashboard's view of it ([`source`]).

pub mod score;
pub mod shim;
pub mod source;
pub mod spec;
pub mod status;

pub use source::source;
pub use spec::MigrationSpec;
pub use status::{Status, open};
