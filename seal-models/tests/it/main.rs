//! Integration tests of seal-models (one binary, one link step).

mod arbitrary;
mod bad_input;
mod common;
mod fused;
mod gguf;
mod gpu;
mod lora;
mod objective;
mod parity;
mod preference;
mod sft;
mod smollm2;
mod train;
