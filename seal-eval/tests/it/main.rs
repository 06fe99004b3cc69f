//! Integration tests of seal-eval on the committed fixtures (and SmolLM2 where named).

mod common;
mod generative;
mod http;
mod reward;
