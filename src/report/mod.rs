//! Rendering an [`EvalReport`](shimkit_trainer::eval::EvalReport) for people: a table for
//! the terminal and a self-contained HTML page with charts.

pub mod html;
pub mod table;
