//! Reading and writing Llama weights in Hugging Face's safetensors layout.
//!
//! seal reads safetensors itself (rather than through burn-store's adapters) so that every
//! format (single file, sharded index, GGUF) meets in one [`TensorMap`] and every problem is
//! reported with the tensor's name: missing, unexpected, duplicated or mis-shaped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use safetensors::{Dtype, SafeTensors};
use seal_io::{write_atomic, write_json_atomic};
use serde::Deserialize;

use super::tensors::{HostTensor, TensorMap};
use crate::error::{ModelError, Result};
use crate::llama::config::{HfLlamaConfig, LlamaConfig};
use crate::llama::linear::Linear;
use crate::llama::model::{Attention, DecoderLayer, Embedding, Llama, LlamaBody, Mlp, RmsNorm};
use crate::llama::rope::inverse_frequencies;

/// Single-file checkpoint name.
pub const SAFETENSORS_FILE: &str = "model.safetensors";
/// Sharded checkpoint index name.
pub const SAFETENSORS_INDEX: &str = "model.safetensors.index.json";

/// Reads every tensor of one safetensors file, converting f32/f16/bf16 to f32.
///
/// # Errors
/// Truncated or malformed files, unsupported dtypes, duplicate names.
pub fn read_safetensors(path: &Path) -> Result<TensorMap> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|source| ModelError::Safetensors {
        path: path.to_path_buf(),
        source,
    })?;
    let mut map = TensorMap::new();
    for (name, view) in file.tensors() {
        let data = to_f32(view.dtype(), view.data()).ok_or_else(|| ModelError::UnsupportedDtype {
            path: path.to_path_buf(),
            name: name.clone(),
            dtype: format!("{:?}", view.dtype()),
        })?;
        map.insert(name, HostTensor::new(view.shape().to_vec(), data))?;
    }
    Ok(map)
}

fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        _ => return None,
    })
}

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

/// Reads the weights of a HF model folder: `model.safetensors.index.json` with its shards when
/// present, else `model.safetensors`.
///
/// # Errors
/// A missing file, a malformed index, a shard that lacks a tensor its index promises.
pub fn read_checkpoint(dir: &Path) -> Result<TensorMap> {
    let index_path = dir.join(SAFETENSORS_INDEX);
    if index_path.exists() {
        let text = std::fs::read_to_string(&index_path).map_err(|e| ModelError::io(&index_path, e))?;
        let index: ShardIndex = serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: index_path.clone(),
            source,
        })?;
        let shards: BTreeSet<&String> = index.weight_map.values().collect();
        let mut map = TensorMap::new();
        for shard in shards {
            for (name, tensor) in read_safetensors(&dir.join(shard))?.into_iter_sorted() {
                map.insert(name, tensor)?;
            }
        }
        if let Some(name) = index.weight_map.keys().find(|name| !map.contains(name)) {
            return Err(ModelError::MissingTensor { name: name.clone() });
        }
        return Ok(map);
    }
    let single = dir.join(SAFETENSORS_FILE);
    if single.exists() {
        return read_safetensors(&single);
    }
    Err(ModelError::MissingFile {
        dir: dir.to_path_buf(),
        file: format!("{SAFETENSORS_FILE} or {SAFETENSORS_INDEX}"),
    })
}

/// Builds the model from HF-named tensors, checking every name and shape; tensors the
/// architecture does not use are an error (RoPE caches and a tied `lm_head` copy excepted).
///
/// # Errors
/// [`ModelError::MissingTensor`], [`ModelError::TensorShape`], [`ModelError::UnexpectedTensors`].
pub fn build_llama<B: Backend>(
    config: &LlamaConfig,
    mut map: TensorMap,
    device: &B::Device,
) -> Result<Llama<B>> {
    let h = config.hidden_size;
    let q = config.num_attention_heads * config.head_dim;
    let kv = config.num_key_value_heads * config.head_dim;
    let inter = config.intermediate_size;

    let tensor1 = |t: HostTensor| Tensor::<B, 1>::from_data(TensorData::new(t.data, t.shape), device);
    let tensor2 = |t: HostTensor| Tensor::<B, 2>::from_data(TensorData::new(t.data, t.shape), device);
    // HF Linear weights are [out, in]; seal's are [in, out].
    let linear = |map: &mut TensorMap, prefix: &str, i: usize, o: usize, bias: bool| -> Result<Linear<B>> {
        let w = map.take(&format!("{prefix}.weight"), &[o, i])?.transposed();
        let b = if bias {
            Some(tensor1(map.take(&format!("{prefix}.bias"), &[o])?))
        } else {
            None
        };
        Ok(Linear::from_tensors(tensor2(w), b))
    };
    let norm = |map: &mut TensorMap, name: &str| -> Result<RmsNorm<B>> {
        Ok(RmsNorm {
            weight: Param::from_tensor(tensor1(map.take(name, &[h])?)),
            eps: config.rms_norm_eps,
        })
    };

    let embed = tensor2(map.take("model.embed_tokens.weight", &[config.vocab_size, h])?);
    let mut layers = Vec::with_capacity(config.num_hidden_layers);
    for i in 0..config.num_hidden_layers {
        let p = format!("model.layers.{i}");
        layers.push(DecoderLayer {
            input_layernorm: norm(&mut map, &format!("{p}.input_layernorm.weight"))?,
            self_attn: Attention {
                q_proj: linear(&mut map, &format!("{p}.self_attn.q_proj"), h, q, config.qkv_bias)?,
                k_proj: linear(&mut map, &format!("{p}.self_attn.k_proj"), h, kv, config.qkv_bias)?,
                v_proj: linear(&mut map, &format!("{p}.self_attn.v_proj"), h, kv, config.qkv_bias)?,
                o_proj: linear(&mut map, &format!("{p}.self_attn.o_proj"), q, h, config.o_bias)?,
                num_heads: config.num_attention_heads,
                num_kv_heads: config.num_key_value_heads,
                head_dim: config.head_dim,
            },
            post_attention_layernorm: norm(&mut map, &format!("{p}.post_attention_layernorm.weight"))?,
            mlp: Mlp {
                gate_proj: linear(&mut map, &format!("{p}.mlp.gate_proj"), h, inter, config.mlp_bias)?,
                up_proj: linear(&mut map, &format!("{p}.mlp.up_proj"), h, inter, config.mlp_bias)?,
                down_proj: linear(&mut map, &format!("{p}.mlp.down_proj"), inter, h, config.mlp_bias)?,
            },
        });
        // Older checkpoints carry the RoPE table as a buffer; it is recomputed from the config.
        map.remove(&format!("{p}.self_attn.rotary_emb.inv_freq"));
    }
    let final_norm = norm(&mut map, "model.norm.weight")?;
    let lm_head = if config.tie_word_embeddings {
        // Some exporters also write the tied head; it must then equal the embedding's shape.
        if map.contains("lm_head.weight") {
            map.take("lm_head.weight", &[config.vocab_size, h])?;
        }
        None
    } else {
        Some(linear(&mut map, "lm_head", h, config.vocab_size, false)?)
    };
    if !map.is_empty() {
        return Err(ModelError::UnexpectedTensors {
            names: map.names().take(8).map(str::to_string).collect(),
        });
    }
    Ok(Llama {
        model: LlamaBody {
            embed_tokens: Embedding {
                weight: Param::from_tensor(embed),
            },
            layers,
            norm: final_norm,
        },
        lm_head,
        inv_freq: inverse_frequencies(config),
        max_position_embeddings: config.max_position_embeddings,
    })
}

/// A model read from a HF folder, with its config in both forms.
#[derive(Debug)]
pub struct LoadedModel<B: Backend> {
    /// The model.
    pub model: Llama<B>,
    /// The checked config.
    pub config: LlamaConfig,
    /// The config as the folder wrote it (kept to write it back).
    pub hf_config: HfLlamaConfig,
    /// The folder.
    pub dir: PathBuf,
}

/// Loads `config.json` and the weights of a HF model folder.
///
/// # Errors
/// Any config, file or tensor problem, naming the file, field or tensor.
pub fn load_llama<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedModel<B>> {
    let config_path = dir.join("config.json");
    if !config_path.exists() {
        return Err(ModelError::MissingFile {
            dir: dir.to_path_buf(),
            file: "config.json".into(),
        });
    }
    let (config, hf_config) = LlamaConfig::from_file(&config_path)?;
    let map = read_checkpoint(dir)?;
    let model = build_llama(&config, map, device)?;
    Ok(LoadedModel {
        model,
        config,
        hf_config,
        dir: dir.to_path_buf(),
    })
}

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> HostTensor {
    let shape = t.dims().to_vec();
    HostTensor::new(shape, crate::backend::host_f32(t))
}

/// The model's parameters under HF names and in HF layout (LoRA adapters merged first).
pub fn to_tensor_map<B: Backend>(model: &Llama<B>) -> TensorMap {
    let mut map = TensorMap::new();
    let mut put = |name: String, t: HostTensor| map.insert(name, t).expect("model tensor names are unique");
    let linear = |put: &mut dyn FnMut(String, HostTensor), prefix: String, l: &Linear<B>| {
        let merged = l.clone().merge_lora();
        put(format!("{prefix}.weight"), host(merged.weight.val()).transposed());
        if let Some(b) = &merged.bias {
            put(format!("{prefix}.bias"), host(b.val()));
        }
    };
    put(
        "model.embed_tokens.weight".into(),
        host(model.model.embed_tokens.weight.val()),
    );
    for (i, layer) in model.model.layers.iter().enumerate() {
        let p = format!("model.layers.{i}");
        put(
            format!("{p}.input_layernorm.weight"),
            host(layer.input_layernorm.weight.val()),
        );
        put(
            format!("{p}.post_attention_layernorm.weight"),
            host(layer.post_attention_layernorm.weight.val()),
        );
        let a = &layer.self_attn;
        for (name, l) in [
            ("q_proj", &a.q_proj),
            ("k_proj", &a.k_proj),
            ("v_proj", &a.v_proj),
            ("o_proj", &a.o_proj),
        ] {
            linear(&mut put, format!("{p}.self_attn.{name}"), l);
        }
        let m = &layer.mlp;
        for (name, l) in [
            ("gate_proj", &m.gate_proj),
            ("up_proj", &m.up_proj),
            ("down_proj", &m.down_proj),
        ] {
            linear(&mut put, format!("{p}.mlp.{name}"), l);
        }
    }
    put("model.norm.weight".into(), host(model.model.norm.weight.val()));
    if let Some(head) = &model.lm_head {
        linear(&mut put, "lm_head".into(), head);
    }
    map
}

/// Serialises tensors as one f32 safetensors file, atomically.
///
/// # Errors
/// [`ModelError::Io`] naming the file.
pub fn write_safetensors(path: &Path, map: &TensorMap) -> Result<()> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = map
        .names()
        .map(|name| {
            let t = map.get(name).expect("name listed by the map");
            (
                name.to_string(),
                t.shape.clone(),
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = bytes.iter().map(|(name, shape, data)| {
        let view = safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), data)
            .expect("byte length matches the shape by construction");
        (name.clone(), view)
    });
    let mut metadata = std::collections::HashMap::new();
    metadata.insert("format".to_string(), "pt".to_string());
    let buffer =
        safetensors::tensor::serialize(views, Some(metadata)).map_err(|source| ModelError::Safetensors {
            path: path.to_path_buf(),
            source,
        })?;
    write_atomic(path, &buffer)?;
    Ok(())
}

/// Writes a HF model folder (`config.json` + `model.safetensors`, f32) that `transformers`
/// loads with `from_pretrained`. Adapters are merged into the written weights.
///
/// # Errors
/// [`ModelError::Io`] naming the file.
pub fn save_llama<B: Backend>(model: &Llama<B>, hf_config: &HfLlamaConfig, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let mut config = serde_json::to_value(hf_config).expect("config serialises");
    if let Some(obj) = config.as_object_mut() {
        obj.insert("torch_dtype".into(), "float32".into());
        // Drop nulls so transformers applies its own defaults.
        obj.retain(|_, v| !v.is_null());
    }
    write_safetensors(&dir.join(SAFETENSORS_FILE), &to_tensor_map(model))?;
    write_json_atomic(&dir.join("config.json"), &config)?;
    Ok(())
}
