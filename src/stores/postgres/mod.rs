//! The commands' PostgreSQL side: projecting into a column with a paced and resumable
//! backfill and loading re-embedded vectors (`backfill.rs`), inspecting a table
//! (`inspect.rs`), and searching for the evaluation (`search.rs`). Cutting over needs no
//! more than the store's own call (`commands/cutover.rs`).

mod backfill;
mod inspect;
mod search;

pub use backfill::{BackfillOptions, load, project_into};
pub use inspect::inspect;
pub use search::PgSearcher;
