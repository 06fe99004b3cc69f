//! The Llama-family decoder on Burn.

pub mod cache;
pub mod config;
pub mod linear;
pub mod model;
pub mod rope;
