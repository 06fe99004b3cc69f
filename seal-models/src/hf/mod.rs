//! Hugging Face model folders: `config.json`, single or sharded safetensors in f32/f16/bf16,
//! and writing them back so that `transformers` loads what seal wrote.

pub mod tensors;
pub mod weights;
