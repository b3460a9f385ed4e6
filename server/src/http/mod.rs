//! The HTTP layer: routes and handlers ([`server`]), bodies and their schemas ([`types`]),
//! the three encodings of a projection ([`encoding`], with [`fast_json`] for the common
//! JSON body), and the OpenAPI document
//! ([`openapi`]).

pub mod body;
pub mod encoding;
pub mod fast_json;
pub mod openapi;
pub mod server;
pub mod types;

pub use server::{AppState, router};
