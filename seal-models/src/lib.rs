//! seal-models: the Llama-family decoder every stage of seal trains and samples.
//!
//! It owns the model on Burn (CPU by default, CUDA behind the `cuda` feature), reading and
//! writing Hugging Face folders (config, single and sharded safetensors in f32/f16/bf16),
//! GGUF import (with the `tokenizer.json` a GGUF file implies), LoRA adapters, per-example losses,
//! training and KV-cache generation. It works on token ids: tokenizers and chat templates are
//! seal-data's (its `text` module).
//!
//! ```
//! use seal_models::backend::{Cpu, cpu_device};
//! use seal_models::{LlamaConfig, TokenBatch, init_random};
//!
//! let hf = serde_json::from_str(r#"{"vocab_size": 32, "hidden_size": 16,
//!     "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}"#).unwrap();
//! let config = LlamaConfig::from_hf(&hf, "inline".as_ref()).unwrap();
//! let model = init_random::<Cpu>(&config, 0.02, &cpu_device());
//! let logits = model.forward(&TokenBatch::right_padded(&[vec![1, 2, 3]], 0)).unwrap();
//! assert_eq!(logits.dims(), [1, 3, 32]);
//! ```

pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod error;
pub mod fused;
pub mod generate;
pub mod gguf;
pub mod hf;
pub mod import;
pub mod llama;
pub mod lora;
pub mod loss;
pub mod train;

pub use error::{ModelError, Result};
pub use generate::{SamplingConfig, generate};
pub use gguf::{GgufFile, GgufImport, import_gguf};
pub use hf::tensors::{HostTensor, TensorMap};
pub use hf::weights::{LoadedModel, load_llama, read_checkpoint, save_llama};
pub use llama::cache::KvCache;
pub use llama::config::{HfLlamaConfig, LlamaConfig, RopeScaling};
pub use llama::model::{Llama, TokenBatch, init_random};
pub use lora::{LoraConfig, attach_lora, load_adapter, merge_lora, save_adapter};
pub use loss::{per_example_loss, response_losses};
pub use train::{
    AdamSettings, Dpo, GradientStep, HostAdam, LengthGroup, LlamaObjective, LrSchedule, ModelOptimizer,
    ObjectiveSettings, PreferenceConfig, PreferenceEpochReport, Sft, SftConfig, SftEpochReport, SftState,
    TokenizedPair, TrainBatch, TrainStep, clip_global_norm, eval_losses, example_losses, fork, length_groups,
    sft_step,
};
