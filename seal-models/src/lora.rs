//! LoRA fine-tuning (Hu et al., 2021): attach adapters to chosen projections, train only them,
//! merge them into the base, and read/write them in PEFT's format (`adapter_model.safetensors`
//! + `adapter_config.json`) so that `peft` loads what seal wrote and the other way round.

use std::path::Path;

use burn::module::{Module, Param, ParamId};
use burn::tensor::{Tensor, TensorData, backend::Backend};
use seal_io::write_json_atomic;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::hf::tensors::{HostTensor, TensorMap};
use crate::hf::weights::{read_safetensors, write_safetensors};
use crate::llama::linear::{Linear, LoraAdapter};
use crate::llama::model::Llama;

/// Projections an adapter can target.
pub const TARGETS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// Adapter hyperparameters (DESIGN section 5 defaults: r 16, α 16 on q_proj and v_proj).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank r of the update.
    pub rank: usize,
    /// α; the update is scaled by α / r.
    pub alpha: f32,
    /// Projection names (see [`TARGETS`]).
    pub target_modules: Vec<String>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self {
            rank: 16,
            alpha: 16.0,
            target_modules: vec!["q_proj".into(), "v_proj".into()],
        }
    }
}

impl LoraConfig {
    /// Checks rank, α and target names.
    ///
    /// # Errors
    /// [`ModelError::Setting`] naming the bad value.
    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            return Err(ModelError::Setting("lora rank must be positive".into()));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(ModelError::Setting(format!(
                "lora alpha {} must be positive",
                self.alpha
            )));
        }
        if self.target_modules.is_empty() {
            return Err(ModelError::Setting("lora target_modules is empty".into()));
        }
        if let Some(bad) = self
            .target_modules
            .iter()
            .find(|t| !TARGETS.contains(&t.as_str()))
        {
            return Err(ModelError::Setting(format!(
                "unknown lora target module `{bad}` (expected one of {TARGETS:?})"
            )));
        }
        Ok(())
    }
}

/// Every projection of the model with its HF module path.
fn projections_mut<B: Backend>(model: &mut Llama<B>) -> Vec<(String, &'static str, &mut Linear<B>)> {
    let mut out = Vec::new();
    for (i, layer) in model.model.layers.iter_mut().enumerate() {
        let a = &mut layer.self_attn;
        let m = &mut layer.mlp;
        for (name, l) in [
            ("q_proj", &mut a.q_proj),
            ("k_proj", &mut a.k_proj),
            ("v_proj", &mut a.v_proj),
            ("o_proj", &mut a.o_proj),
        ] {
            out.push((format!("model.layers.{i}.self_attn.{name}"), name, l));
        }
        for (name, l) in [
            ("gate_proj", &mut m.gate_proj),
            ("up_proj", &mut m.up_proj),
            ("down_proj", &mut m.down_proj),
        ] {
            out.push((format!("model.layers.{i}.mlp.{name}"), name, l));
        }
    }
    out
}

fn replace<B: Backend>(slot: &mut Linear<B>, f: impl FnOnce(Linear<B>) -> Linear<B>) {
    // Linear has no cheap placeholder, so move out through a clone-free swap of its parts.
    let taken = Linear {
        weight: slot.weight.clone(),
        bias: slot.bias.clone(),
        lora: slot.lora.take(),
    };
    *slot = f(taken);
}

/// Freezes every base parameter and attaches fresh adapters (B = 0, so the model's outputs are
/// unchanged) to the targeted projections; only the adapters then receive gradients.
///
/// # Errors
/// An invalid [`LoraConfig`].
pub fn attach_lora<B: Backend>(model: Llama<B>, config: &LoraConfig, device: &B::Device) -> Result<Llama<B>> {
    config.validate()?;
    let mut model = model.no_grad();
    for (_, kind, linear) in projections_mut(&mut model) {
        if config.target_modules.iter().any(|t| t == kind) {
            replace(linear, |l| l.attach_lora(config.rank, config.alpha, device));
        }
    }
    Ok(model)
}

/// Folds every adapter into its base weight (`W + α/r · A·B`) and removes it.
pub fn merge_lora<B: Backend>(mut model: Llama<B>) -> Llama<B> {
    for (_, _, linear) in projections_mut(&mut model) {
        replace(linear, Linear::merge_lora);
    }
    model
}

/// PEFT's `adapter_config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeftConfig {
    /// Always `LORA`.
    pub peft_type: String,
    /// `CAUSAL_LM`.
    #[serde(default)]
    pub task_type: Option<String>,
    /// Rank.
    pub r: usize,
    /// α.
    pub lora_alpha: f32,
    /// Targeted projection names.
    pub target_modules: Vec<String>,
    /// Dropout during training (seal uses none).
    #[serde(default)]
    pub lora_dropout: f32,
    /// Bias training mode; only `none` is supported.
    #[serde(default = "none")]
    pub bias: String,
    /// Whether the base stores weights transposed (never for Llama).
    #[serde(default)]
    pub fan_in_fan_out: bool,
    /// The base model's folder or name.
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
    /// Inference mode flag.
    #[serde(default)]
    pub inference_mode: bool,
    /// rsLoRA scaling (α/√r); not supported.
    #[serde(default)]
    pub use_rslora: bool,
}

fn none() -> String {
    "none".into()
}

const PEFT_PREFIX: &str = "base_model.model.";

fn host<B: Backend>(t: Tensor<B, 2>) -> HostTensor {
    let shape = t.dims().to_vec();
    HostTensor::new(shape, crate::backend::host_f32(t))
}

/// Writes the model's adapters in PEFT layout: `adapter_model.safetensors` with
/// `base_model.model.<module>.lora_A.weight` `[r, in]` / `lora_B.weight` `[out, r]`, and
/// `adapter_config.json`.
///
/// # Errors
/// [`ModelError::NoAdapter`] if the model has no adapter; I/O errors name the file.
pub fn save_adapter<B: Backend>(model: &Llama<B>, base_model: &str, dir: &Path) -> Result<()> {
    let mut model = model.clone();
    let mut map = TensorMap::new();
    let mut kinds: Vec<String> = Vec::new();
    let (mut rank, mut alpha) = (0, 0.0);
    for (path, kind, linear) in projections_mut(&mut model) {
        if let Some(lora) = &linear.lora {
            let a = host(lora.lora_a.val()).transposed();
            rank = a.shape[0];
            alpha = lora.scaling * rank as f32;
            map.insert(format!("{PEFT_PREFIX}{path}.lora_A.weight"), a)?;
            map.insert(
                format!("{PEFT_PREFIX}{path}.lora_B.weight"),
                host(lora.lora_b.val()).transposed(),
            )?;
            if !kinds.iter().any(|k| k == kind) {
                kinds.push(kind.to_string());
            }
        }
    }
    if map.is_empty() {
        return Err(ModelError::NoAdapter);
    }
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let config = PeftConfig {
        peft_type: "LORA".into(),
        task_type: Some("CAUSAL_LM".into()),
        r: rank,
        lora_alpha: alpha,
        target_modules: kinds,
        lora_dropout: 0.0,
        bias: "none".into(),
        fan_in_fan_out: false,
        base_model_name_or_path: Some(base_model.to_string()),
        inference_mode: true,
        use_rslora: false,
    };
    write_safetensors(&dir.join("adapter_model.safetensors"), &map)?;
    write_json_atomic(
        &dir.join("adapter_config.json"),
        &serde_json::to_value(config).expect("config serialises"),
    )?;
    Ok(())
}

/// Loads a PEFT LoRA adapter onto `model` (replacing any adapter it has).
///
/// # Errors
/// Missing files, an unsupported PEFT config, or adapter tensors that are missing, unexpected or
/// mis-shaped for this model, each named.
pub fn load_adapter<B: Backend>(model: Llama<B>, dir: &Path, device: &B::Device) -> Result<Llama<B>> {
    let config_path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| ModelError::io(&config_path, e))?;
    let config: PeftConfig = serde_json::from_str(&text).map_err(|source| ModelError::Json {
        path: config_path.clone(),
        source,
    })?;
    let bad = |field: &str, reason: String| ModelError::Config {
        path: config_path.clone(),
        field: field.into(),
        reason,
    };
    if config.peft_type != "LORA" {
        return Err(bad("peft_type", format!("`{}` is not LORA", config.peft_type)));
    }
    if config.bias != "none" || config.fan_in_fan_out || config.use_rslora {
        return Err(bad(
            "bias",
            "only bias = none without fan_in_fan_out or rslora is supported".into(),
        ));
    }
    let mut map = read_safetensors(&dir.join("adapter_model.safetensors"))?;
    let scaling = config.lora_alpha / config.r as f32;
    let mut model = model;
    for (path, kind, linear) in projections_mut(&mut model) {
        if !config.target_modules.iter().any(|t| t == kind) {
            continue;
        }
        let (in_f, out_f) = linear.dims();
        let a = map
            .take(&format!("{PEFT_PREFIX}{path}.lora_A.weight"), &[config.r, in_f])?
            .transposed();
        let b = map
            .take(&format!("{PEFT_PREFIX}{path}.lora_B.weight"), &[out_f, config.r])?
            .transposed();
        let to_param = |t: HostTensor| {
            Param::initialized(
                ParamId::new(),
                Tensor::<B, 2>::from_data(TensorData::new(t.data, t.shape), device),
            )
        };
        linear.lora = Some(LoraAdapter {
            lora_a: to_param(a),
            lora_b: to_param(b),
            scaling,
        });
    }
    if !map.is_empty() {
        return Err(ModelError::UnexpectedTensors {
            names: map.names().take(8).map(str::to_string).collect(),
        });
    }
    Ok(model)
}
