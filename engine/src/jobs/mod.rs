//! The jobs `shimkit` runs through an engine: each registers its inputs, checks them, runs
//! one query, and publishes what it wrote only once it is whole.

mod fit;
mod project;

pub use fit::{FitJob, FitStats, fit_stats};
pub use project::{ProjectJob, ProjectReport, project};
