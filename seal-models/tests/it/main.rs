//! Integration tests of seal-models (one binary, one link step).

mod bad_input;
mod common;
mod lora;
mod parity;
mod tokenizer;
