//! Model hyperparameters: the serde mirror of a Hugging Face `config.json` ([`HfLlamaConfig`])
//! and the checked, resolved form the model is built from ([`LlamaConfig`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// The keys of a Hugging Face `config.json` that a Llama-family decoder uses, named as HF names
/// them. Covers `llama`, `mistral`, `qwen2` and SmolLM2 (a `llama`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HfLlamaConfig {
    /// `LlamaForCausalLM`, `MistralForCausalLM`, `Qwen2ForCausalLM`, ...
    #[serde(default)]
    pub architectures: Vec<String>,
    /// `llama`, `mistral` or `qwen2`.
    #[serde(default)]
    pub model_type: Option<String>,
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the SwiGLU feed-forward layer.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention); defaults to `num_attention_heads`.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Per-head width; defaults to `hidden_size / num_attention_heads`.
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// Longest sequence the position tables cover.
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RoPE scaling (`llama3`, `linear`); `null` for none.
    #[serde(default)]
    pub rope_scaling: Option<HfRopeScaling>,
    /// transformers 5 writes RoPE settings here (`rope_theta`, `rope_type` and the scaling
    /// fields) instead of `rope_theta` / `rope_scaling`; when present it wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_parameters: Option<HfRopeScaling>,
    /// Whether `lm_head` shares the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Llama's switch for q/k/v/o biases (qwen2 always has q/k/v biases).
    #[serde(default)]
    pub attention_bias: bool,
    /// Llama's switch for MLP biases.
    #[serde(default)]
    pub mlp_bias: bool,
    /// Activation of the gate; only `silu` is supported.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Beginning-of-sequence token id.
    #[serde(default)]
    pub bos_token_id: Option<TokenIds>,
    /// End-of-sequence token id(s).
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    /// Padding token id.
    #[serde(default)]
    pub pad_token_id: Option<TokenIds>,
    /// dtype the checkpoint was saved in (informational).
    #[serde(default)]
    pub torch_dtype: Option<String>,
    /// Sliding attention window (mistral, qwen2), if any.
    #[serde(default)]
    pub sliding_window: Option<usize>,
    /// Qwen2's switch for the sliding window.
    #[serde(default)]
    pub use_sliding_window: Option<bool>,
}

/// A token id field that HF writes either as one id or as a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    /// One id.
    One(u32),
    /// Several ids (Llama-3 lists several end-of-sequence ids).
    Many(Vec<u32>),
}

impl TokenIds {
    /// All ids, in order.
    pub fn to_vec(&self) -> Vec<u32> {
        match self {
            Self::One(id) => vec![*id],
            Self::Many(ids) => ids.clone(),
        }
    }
}

/// HF's `rope_scaling` object; `rope_type` is called `type` in older configs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HfRopeScaling {
    /// `llama3`, `linear`, `default`, ...
    #[serde(default, alias = "type")]
    pub rope_type: Option<String>,
    /// Scaling factor.
    #[serde(default)]
    pub factor: Option<f64>,
    /// Llama-3: low-frequency factor.
    #[serde(default)]
    pub low_freq_factor: Option<f64>,
    /// Llama-3: high-frequency factor.
    #[serde(default)]
    pub high_freq_factor: Option<f64>,
    /// Llama-3: context length the model was pre-trained with.
    #[serde(default)]
    pub original_max_position_embeddings: Option<usize>,
    /// RoPE base (only in transformers 5's `rope_parameters`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
}

fn default_max_positions() -> usize {
    2048
}
fn default_rms_eps() -> f64 {
    1e-6
}
fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_act() -> String {
    "silu".into()
}

/// How RoPE frequencies are rescaled for long contexts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RopeScaling {
    /// Plain RoPE.
    None,
    /// Positions divided by `factor` (equivalently, frequencies).
    Linear {
        /// Divisor.
        factor: f64,
    },
    /// Llama-3.1's frequency-dependent scaling.
    Llama3 {
        /// Scaling of low frequencies.
        factor: f64,
        /// Wavelengths above `original / low_freq_factor` are fully scaled.
        low_freq_factor: f64,
        /// Wavelengths below `original / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// Pre-training context length.
        original_max_position_embeddings: usize,
    },
}

/// A checked Llama-family architecture: every invariant `forward` relies on holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads; divides `num_attention_heads`.
    pub num_key_value_heads: usize,
    /// Per-head width (even, for RoPE).
    pub head_dim: usize,
    /// Longest supported sequence.
    pub max_position_embeddings: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// RoPE scaling.
    pub rope_scaling: RopeScaling,
    /// Whether `lm_head` is the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Biases on q, k and v (qwen2, or llama with `attention_bias`).
    pub qkv_bias: bool,
    /// Bias on o_proj (llama with `attention_bias`).
    pub o_bias: bool,
    /// Biases on the MLP projections.
    pub mlp_bias: bool,
}

impl LlamaConfig {
    /// Reads and checks a HF `config.json`.
    ///
    /// # Errors
    /// I/O and JSON errors name the file; an invalid config names the field.
    pub fn from_file(path: &Path) -> Result<(Self, HfLlamaConfig)> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let hf: HfLlamaConfig = serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let config = Self::from_hf(&hf, path)?;
        Ok((config, hf))
    }

    /// Checks a parsed HF config; `origin` names it in errors.
    ///
    /// # Errors
    /// [`ModelError::Config`] naming the first invalid field.
    pub fn from_hf(hf: &HfLlamaConfig, origin: &Path) -> Result<Self> {
        let bad = |field: &str, reason: String| ModelError::Config {
            path: origin.to_path_buf(),
            field: field.to_string(),
            reason,
        };
        let model_type = hf.model_type.clone().unwrap_or_else(|| "llama".into());
        if !matches!(model_type.as_str(), "llama" | "mistral" | "qwen2") {
            return Err(bad(
                "model_type",
                format!("`{model_type}` is not a supported Llama-family model (llama, mistral, qwen2)"),
            ));
        }
        for (field, value) in [
            ("vocab_size", hf.vocab_size),
            ("hidden_size", hf.hidden_size),
            ("intermediate_size", hf.intermediate_size),
            ("num_hidden_layers", hf.num_hidden_layers),
            ("num_attention_heads", hf.num_attention_heads),
            ("max_position_embeddings", hf.max_position_embeddings),
        ] {
            if value == 0 {
                return Err(bad(field, "must be positive".into()));
            }
        }
        let heads = hf.num_attention_heads;
        let kv_heads = hf.num_key_value_heads.unwrap_or(heads);
        if kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            return Err(bad(
                "num_key_value_heads",
                format!("{kv_heads} does not divide num_attention_heads {heads}"),
            ));
        }
        let head_dim = match hf.head_dim {
            Some(d) => d,
            None => {
                if !hf.hidden_size.is_multiple_of(heads) {
                    return Err(bad(
                        "hidden_size",
                        format!(
                            "{} is not divisible by num_attention_heads {heads}",
                            hf.hidden_size
                        ),
                    ));
                }
                hf.hidden_size / heads
            }
        };
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(bad(
                "head_dim",
                format!("{head_dim} must be positive and even (RoPE)"),
            ));
        }
        if hf.hidden_act != "silu" {
            return Err(bad(
                "hidden_act",
                format!("`{}` is not supported (silu only)", hf.hidden_act),
            ));
        }
        if !(hf.rms_norm_eps.is_finite() && hf.rms_norm_eps > 0.0) {
            return Err(bad(
                "rms_norm_eps",
                format!("{} must be positive", hf.rms_norm_eps),
            ));
        }
        let rope_theta = hf
            .rope_parameters
            .as_ref()
            .and_then(|p| p.rope_theta)
            .unwrap_or(hf.rope_theta);
        if !(rope_theta.is_finite() && rope_theta > 1.0) {
            return Err(bad("rope_theta", format!("{rope_theta} must be greater than 1")));
        }
        let rope_scaling = match hf.rope_parameters.as_ref().or(hf.rope_scaling.as_ref()) {
            None => RopeScaling::None,
            Some(s) => match s.rope_type.as_deref().unwrap_or("default") {
                "default" => RopeScaling::None,
                "linear" => {
                    let factor = positive(s.factor, "rope_scaling.factor")
                        .map_err(|r| bad("rope_scaling.factor", r))?;
                    RopeScaling::Linear { factor }
                }
                "llama3" => {
                    let field = |v: Option<f64>, name: &str| {
                        positive(v, name).map_err(|r| bad(&format!("rope_scaling.{name}"), r))
                    };
                    let factor = field(s.factor, "factor")?;
                    let low_freq_factor = field(s.low_freq_factor, "low_freq_factor")?;
                    let high_freq_factor = field(s.high_freq_factor, "high_freq_factor")?;
                    if high_freq_factor <= low_freq_factor {
                        return Err(bad(
                            "rope_scaling.high_freq_factor",
                            "must exceed low_freq_factor".into(),
                        ));
                    }
                    let original =
                        s.original_max_position_embeddings
                            .filter(|&n| n > 0)
                            .ok_or_else(|| {
                                bad(
                                    "rope_scaling.original_max_position_embeddings",
                                    "must be a positive integer".into(),
                                )
                            })?;
                    RopeScaling::Llama3 {
                        factor,
                        low_freq_factor,
                        high_freq_factor,
                        original_max_position_embeddings: original,
                    }
                }
                other => {
                    return Err(bad(
                        "rope_scaling.rope_type",
                        format!("`{other}` is not supported (default, linear, llama3)"),
                    ));
                }
            },
        };
        let is_qwen2 = model_type == "qwen2";
        Ok(Self {
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            intermediate_size: hf.intermediate_size,
            num_hidden_layers: hf.num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim,
            max_position_embeddings: hf.max_position_embeddings,
            rms_norm_eps: hf.rms_norm_eps,
            rope_theta,
            rope_scaling,
            tie_word_embeddings: hf.tie_word_embeddings,
            qkv_bias: is_qwen2 || hf.attention_bias,
            o_bias: !is_qwen2 && hf.attention_bias,
            mlp_bias: hf.mlp_bias,
        })
    }

    /// Number of parameters (embedding counted once when tied).
    pub fn num_params(&self) -> usize {
        let h = self.hidden_size;
        let q = self.num_attention_heads * self.head_dim;
        let kv = self.num_key_value_heads * self.head_dim;
        let attn = h * q
            + 2 * h * kv
            + q * h
            + if self.qkv_bias { q + 2 * kv } else { 0 }
            + if self.o_bias { h } else { 0 };
        let mlp = 3 * h * self.intermediate_size
            + if self.mlp_bias {
                2 * self.intermediate_size + h
            } else {
                0
            };
        let layer = attn + mlp + 2 * h;
        let embed = self.vocab_size * h;
        embed + self.num_hidden_layers * layer + h + if self.tie_word_embeddings { 0 } else { embed }
    }
}

fn positive(value: Option<f64>, name: &str) -> std::result::Result<f64, String> {
    match value {
        Some(v) if v.is_finite() && v > 0.0 => Ok(v),
        Some(v) => Err(format!("{name} = {v} must be positive")),
        None => Err(format!("{name} is required")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hf(json: &str) -> HfLlamaConfig {
        serde_json::from_str(json).expect("test config parses")
    }

    const BASE: &str = r#"{"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}"#;

    #[test]
    fn resolves_gqa_head_dim() {
        let c = LlamaConfig::from_hf(&hf(BASE), Path::new("c.json")).unwrap();
        assert_eq!((c.head_dim, c.num_key_value_heads), (16, 2));
        assert!(!c.qkv_bias);
    }

    #[test]
    fn hidden_size_not_divisible_by_heads_names_the_field() {
        let json = BASE.replace("\"hidden_size\": 64", "\"hidden_size\": 66");
        let err = LlamaConfig::from_hf(&hf(&json), Path::new("c.json")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("hidden_size") && msg.contains("c.json"), "{msg}");
    }

    #[test]
    fn kv_heads_must_divide_heads() {
        let json = BASE.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3");
        let err = LlamaConfig::from_hf(&hf(&json), Path::new("c.json")).unwrap_err();
        assert!(err.to_string().contains("num_key_value_heads"));
    }

    #[test]
    fn qwen2_has_qkv_biases() {
        let json = BASE.replace("{", "{\"model_type\": \"qwen2\",");
        let c = LlamaConfig::from_hf(&hf(&json), Path::new("c.json")).unwrap();
        assert!(c.qkv_bias && !c.o_bias);
    }

    #[test]
    fn unknown_rope_type_is_an_error() {
        let json = BASE.replace("{", "{\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 2.0},");
        let err = LlamaConfig::from_hf(&hf(&json), Path::new("c.json")).unwrap_err();
        assert!(err.to_string().contains("yarn"));
    }
}
