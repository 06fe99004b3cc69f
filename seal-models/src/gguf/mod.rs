//! GGUF import: reading llama.cpp's GGUF files and rebuilding from one everything a Hugging
//! Face Llama folder holds — `config.json`, the f32 weights under HF names, `tokenizer.json`
//! and `tokenizer_config.json`.
//!
//! [`GgufFile`] is the container reader on its own (metadata, tensor infos, dequantized
//! tensors); [`import_gguf`] is the `llama` architecture on top of it. llama.cpp's converter
//! changes a HF checkpoint in three ways that the import undoes: it renames tensors
//! (`blk.N.attn_q.weight`), lists dimensions innermost first, and interleaves the rows of the
//! query and key projections of each head for its RoPE kernel (`LlamaModel.permute` in
//! `convert_hf_to_gguf.py`).

mod dequant;
mod reader;
mod tokenizer;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

pub use dequant::{GgmlType, dequantize, dequantize_into};
pub use reader::{GgufFile, GgufTensorInfo, GgufValue};

use crate::error::Result;
use crate::hf::tensors::{HostTensor, TensorMap};

/// Everything needed to write a HF model folder.
#[derive(Debug, Clone)]
pub struct GgufImport {
    /// A HF `LlamaForCausalLM` `config.json`.
    pub config: Value,
    /// Weights under HF names in PyTorch layout (`lm_head.weight` only if untied).
    pub tensors: TensorMap,
    /// A HF tokenizers `tokenizer.json` (byte-level BPE).
    pub tokenizer_json: String,
    /// `tokenizer_config.json`: chat template and the special tokens' strings.
    pub tokenizer_config: Value,
    /// A few human-readable facts (architecture, quantization types, counts) for logging.
    pub metadata_summary: Vec<(String, String)>,
}

/// Reads the GGUF file at `path` and rebuilds its model as a HF Llama checkpoint.
///
/// # Errors
/// [`crate::ModelError::Io`] if the file cannot be read; [`crate::ModelError::Gguf`] naming
/// the file and the problem if it is malformed, not a `llama`, or uses something seal cannot
/// read (a tensor type, a tokenizer model, a pre-tokenizer).
pub fn import_gguf(path: &Path) -> Result<GgufImport> {
    import_gguf_file(&GgufFile::open(path)?)
}

/// [`import_gguf`] for a file already opened.
///
/// # Errors
/// As [`import_gguf`].
pub fn import_gguf_file(file: &GgufFile) -> Result<GgufImport> {
    let arch = file.str("general.architecture")?;
    if arch != "llama" {
        return Err(file.error(format!("architecture `{arch}` is not supported (only llama)")));
    }
    let hp = Hyperparams::read(file)?;
    let tokenizer = tokenizer::rebuild_tokenizer(file, Some(hp.context_length as u64))?;
    let tensors = read_tensors(file, &hp)?;

    let vocab_size = tensors.get("model.embed_tokens.weight").map_or(0, |t| t.shape[0]);
    if tokenizer.n_tokens > vocab_size {
        return Err(file.error(format!(
            "the tokenizer has {} tokens but `token_embd.weight` only {vocab_size} rows",
            tokenizer.n_tokens
        )));
    }
    if let Some(declared) = file.u64_opt("llama.vocab_size")?
        && declared != vocab_size as u64
    {
        return Err(file.error(format!(
            "`llama.vocab_size` is {declared} but `token_embd.weight` has {vocab_size} rows"
        )));
    }
    let tied = !tensors.contains("lm_head.weight");

    let mut config = Map::new();
    config.insert("architectures".into(), json!(["LlamaForCausalLM"]));
    config.insert("model_type".into(), json!("llama"));
    config.insert("vocab_size".into(), json!(vocab_size));
    config.insert("hidden_size".into(), json!(hp.hidden));
    config.insert("intermediate_size".into(), json!(hp.intermediate));
    config.insert("num_hidden_layers".into(), json!(hp.layers));
    config.insert("num_attention_heads".into(), json!(hp.heads));
    config.insert("num_key_value_heads".into(), json!(hp.kv_heads));
    config.insert("head_dim".into(), json!(hp.head_dim));
    config.insert("hidden_act".into(), json!("silu"));
    config.insert("rms_norm_eps".into(), json!(hp.rms_norm_eps));
    config.insert("rope_theta".into(), json!(hp.rope_theta));
    config.insert("rope_scaling".into(), hp.rope_scaling.clone());
    config.insert("max_position_embeddings".into(), json!(hp.context_length));
    config.insert("tie_word_embeddings".into(), json!(tied));
    config.insert("attention_bias".into(), json!(false));
    config.insert("mlp_bias".into(), json!(false));
    for (name, key) in [
        ("bos_token_id", "tokenizer.ggml.bos_token_id"),
        ("eos_token_id", "tokenizer.ggml.eos_token_id"),
        ("pad_token_id", "tokenizer.ggml.padding_token_id"),
    ] {
        if let Some(id) = file.u64_opt(key)? {
            config.insert(name.into(), json!(id));
        }
    }
    config.insert("torch_dtype".into(), json!("float32"));

    let mut summary = vec![
        ("architecture".to_string(), arch.to_string()),
        ("gguf version".into(), file.version().to_string()),
    ];
    if let Some(name) = file.str_opt("general.name")? {
        summary.push(("name".into(), name.to_string()));
    }
    let mut type_counts: BTreeMap<GgmlType, usize> = BTreeMap::new();
    for info in file.tensors() {
        *type_counts.entry(info.ggml_type).or_default() += 1;
    }
    let types: Vec<String> = type_counts.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
    summary.push(("tensor types".into(), types.join(", ")));
    let params: u64 = file.tensors().iter().map(|t| t.n_elements).sum();
    summary.push((
        "parameters".into(),
        format!("{params} in {} tensors", file.tensors().len()),
    ));
    summary.push((
        "shape".into(),
        format!(
            "{} layers, hidden {}, ffn {}, {} heads / {} kv heads of {}, vocab {vocab_size}, {} embeddings",
            hp.layers,
            hp.hidden,
            hp.intermediate,
            hp.heads,
            hp.kv_heads,
            hp.head_dim,
            if tied { "tied" } else { "untied" }
        ),
    ));
    summary.extend(tokenizer.summary);

    Ok(GgufImport {
        config: Value::Object(config),
        tensors,
        tokenizer_json: tokenizer.json,
        tokenizer_config: tokenizer.config,
        metadata_summary: summary,
    })
}

/// The `llama.*` hyperparameters the import needs, checked for consistency.
struct Hyperparams {
    layers: usize,
    hidden: usize,
    intermediate: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    /// `heads · head_dim`, rows of the query projection.
    q_dim: usize,
    /// `kv_heads · head_dim`, rows of the key and value projections.
    kv_dim: usize,
    context_length: usize,
    rms_norm_eps: f64,
    rope_theta: f64,
    rope_scaling: Value,
}

impl Hyperparams {
    fn read(file: &GgufFile) -> Result<Self> {
        let size = |key: &str| -> Result<usize> {
            let value = file.u64(key)?;
            usize::try_from(value).ok().filter(|&v| v > 0).ok_or_else(|| {
                file.error(format!(
                    "metadata key `{key}` is {value}, expected a positive size"
                ))
            })
        };
        let layers = size("llama.block_count")?;
        let hidden = size("llama.embedding_length")?;
        let intermediate = size("llama.feed_forward_length")?;
        let heads = size("llama.attention.head_count")?;
        let kv_heads = match file.get("llama.attention.head_count_kv") {
            Some(_) => size("llama.attention.head_count_kv")?,
            None => heads,
        };
        if heads % kv_heads != 0 {
            return Err(file.error(format!(
                "{kv_heads} kv heads do not divide {heads} attention heads"
            )));
        }
        let head_dim = match file.get("llama.attention.key_length") {
            Some(_) => size("llama.attention.key_length")?,
            None if hidden % heads == 0 => hidden / heads,
            None => {
                return Err(file.error(format!("hidden size {hidden} is not divisible by {heads} heads")));
            }
        };
        if let Some(value_length) = file.u64_opt("llama.attention.value_length")?
            && value_length != head_dim as u64
        {
            return Err(file.error(format!(
                "value head size {value_length} differs from key head size {head_dim}"
            )));
        }
        // llama.cpp's un-permutation pairs rows within each head, and RoPE rotates pairs.
        if head_dim % 2 != 0 {
            return Err(file.error(format!("head size {head_dim} is odd")));
        }
        if let Some(rope_dims) = file.u64_opt("llama.rope.dimension_count")?
            && rope_dims != head_dim as u64
        {
            return Err(file.error(format!(
                "partial rotary embeddings (`llama.rope.dimension_count` {rope_dims} of head size {head_dim}) are not supported"
            )));
        }
        // Sizes come from the file: multiply with care.
        let (q_dim, kv_dim) = match (heads.checked_mul(head_dim), kv_heads.checked_mul(head_dim)) {
            (Some(q), Some(kv)) => (q, kv),
            _ => return Err(file.error(format!("{heads} heads of size {head_dim} overflow"))),
        };
        let context_length = size("llama.context_length")?;
        let rms_norm_eps = file
            .f64_opt("llama.attention.layer_norm_rms_epsilon")?
            .ok_or_else(|| {
                file.error("missing metadata key `llama.attention.layer_norm_rms_epsilon`".into())
            })?;
        let rope_theta = file.f64_opt("llama.rope.freq_base")?.unwrap_or(10_000.0);
        Ok(Self {
            layers,
            hidden,
            intermediate,
            heads,
            kv_heads,
            head_dim,
            q_dim,
            kv_dim,
            context_length,
            rms_norm_eps,
            rope_theta,
            rope_scaling: rope_scaling(file)?,
        })
    }
}

/// HF's `rope_scaling` from `llama.rope.scaling.*` (or the older `llama.rope.scale_linear`);
/// `null` when the file scales nothing.
fn rope_scaling(file: &GgufFile) -> Result<Value> {
    let kind = file.str_opt("llama.rope.scaling.type")?;
    let factor = file.f64_opt("llama.rope.scaling.factor")?;
    let original = file.u64_opt("llama.rope.scaling.original_context_length")?;
    let (kind, factor) = match (kind, factor) {
        (None | Some("none"), _) => match file.f64_opt("llama.rope.scale_linear")? {
            Some(f) if f != 1.0 => ("linear", f),
            _ => return Ok(Value::Null),
        },
        (Some(kind), Some(factor)) => (kind, factor),
        (Some(kind), None) => {
            return Err(file.error(format!(
                "rope scaling `{kind}` without `llama.rope.scaling.factor`"
            )));
        }
    };
    let mut scaling = Map::new();
    scaling.insert("rope_type".into(), json!(kind));
    scaling.insert("factor".into(), json!(factor));
    if let Some(original) = original {
        scaling.insert("original_max_position_embeddings".into(), json!(original));
    }
    Ok(Value::Object(scaling))
}

/// How a GGUF tensor turns into its HF counterpart.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reorder {
    /// Same values, same row-major order.
    None,
    /// Undo llama.cpp's per-head row interleave with this many heads.
    Unpermute(usize),
}

/// The HF name, expected HF shape and reordering of the `llama` tensor `name`, or `None` if a
/// `llama` has no such tensor.
fn hf_tensor(name: &str, hp: &Hyperparams, vocab: usize) -> Option<(String, Vec<usize>, Reorder)> {
    let (h, i) = (hp.hidden, hp.intermediate);
    let (q, kv) = (hp.q_dim, hp.kv_dim);
    let global = match name {
        "token_embd.weight" => Some(("model.embed_tokens.weight", vec![vocab, h])),
        "output_norm.weight" => Some(("model.norm.weight", vec![h])),
        "output.weight" => Some(("lm_head.weight", vec![vocab, h])),
        _ => None,
    };
    if let Some((hf, shape)) = global {
        return Some((hf.to_string(), shape, Reorder::None));
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, suffix) = rest.split_once('.')?;
    // Reject `blk.01` and the like: the layer must be spelled as llama.cpp writes it.
    let n: usize = layer
        .parse()
        .ok()
        .filter(|n: &usize| *n < hp.layers && n.to_string() == layer)?;
    let (hf, shape, reorder) = match suffix {
        "attn_q.weight" => (
            "self_attn.q_proj.weight",
            vec![q, h],
            Reorder::Unpermute(hp.heads),
        ),
        "attn_k.weight" => (
            "self_attn.k_proj.weight",
            vec![kv, h],
            Reorder::Unpermute(hp.kv_heads),
        ),
        "attn_v.weight" => ("self_attn.v_proj.weight", vec![kv, h], Reorder::None),
        "attn_output.weight" => ("self_attn.o_proj.weight", vec![h, q], Reorder::None),
        "ffn_gate.weight" => ("mlp.gate_proj.weight", vec![i, h], Reorder::None),
        "ffn_up.weight" => ("mlp.up_proj.weight", vec![i, h], Reorder::None),
        "ffn_down.weight" => ("mlp.down_proj.weight", vec![h, i], Reorder::None),
        "attn_norm.weight" => ("input_layernorm.weight", vec![h], Reorder::None),
        "ffn_norm.weight" => ("post_attention_layernorm.weight", vec![h], Reorder::None),
        _ => return None,
    };
    Some((format!("model.layers.{n}.{hf}"), shape, reorder))
}

/// Dequantizes every tensor, renames it, checks its shape and undoes the q/k interleave.
fn read_tensors(file: &GgufFile, hp: &Hyperparams) -> Result<TensorMap> {
    let embed = file
        .tensor_info("token_embd.weight")
        .ok_or_else(|| file.error("missing tensor `token_embd.weight`".into()))?;
    let vocab = match embed.shape[..] {
        [rows, _] => rows,
        _ => {
            return Err(file.error(format!(
                "tensor `token_embd.weight` has dims {:?}, expected 2",
                embed.dims
            )));
        }
    };
    // Everything a llama needs must be there; `output.weight` is optional (tied embeddings).
    // Checked layer by layer so that a corrupt `block_count` fails at the first missing tensor.
    let per_layer = [
        "attn_q",
        "attn_k",
        "attn_v",
        "attn_output",
        "ffn_gate",
        "ffn_up",
        "ffn_down",
        "attn_norm",
        "ffn_norm",
    ];
    let layer_names =
        (0..hp.layers).flat_map(|n| per_layer.iter().map(move |s| format!("blk.{n}.{s}.weight")));
    for name in ["output_norm.weight".to_string()].into_iter().chain(layer_names) {
        if file.tensor_info(&name).is_none() {
            return Err(file.error(format!("missing tensor `{name}`")));
        }
    }
    // Check every name and shape before the (slow) dequantization.
    let mut plan = Vec::with_capacity(file.tensors().len());
    for info in file.tensors() {
        let Some((hf_name, shape, reorder)) = hf_tensor(&info.name, hp, vocab) else {
            let reason = if info.name == "rope_freqs.weight" {
                "tensor `rope_freqs.weight` (llama 3 rope scaling factors) is not supported yet".to_string()
            } else {
                format!("unexpected tensor `{}` for architecture llama", info.name)
            };
            return Err(file.error(reason));
        };
        if info.shape != shape {
            return Err(file.error(format!(
                "tensor `{}` has shape {:?} (HF order), expected {shape:?} from the metadata",
                info.name, info.shape
            )));
        }
        plan.push((info, hf_name, reorder));
    }
    let mut out = TensorMap::new();
    for (info, hf_name, reorder) in plan {
        let mut tensor = file.dequantize(info)?;
        if let Reorder::Unpermute(n_head) = reorder {
            tensor = unpermute_rows(&tensor, n_head);
        }
        out.insert(hf_name, tensor)?;
    }
    Ok(out)
}

/// Undoes `LlamaModel.permute` of llama.cpp's converter, which turned each head's rows
/// `[x_0 .. x_{d/2}, y_0 .. y_{d/2}]` (HF's rotate-half RoPE layout) into `[x_0, y_0, x_1, y_1, ..]`
/// (ggml's interleaved layout): row `2i + j` of a head goes back to row `j·d/2 + i`.
///
/// The caller has checked that the rows split into `n_head` heads of an even size.
fn unpermute_rows(tensor: &HostTensor, n_head: usize) -> HostTensor {
    let rows = tensor.shape[0];
    let cols: usize = tensor.shape[1..].iter().product();
    let head = rows / n_head;
    let half = head / 2;
    let mut data = vec![0.0f32; tensor.data.len()];
    for h in 0..n_head {
        for i in 0..half {
            for j in 0..2 {
                let src = (h * head + 2 * i + j) * cols;
                let dst = (h * head + j * half + i) * cols;
                data[dst..dst + cols].copy_from_slice(&tensor.data[src..src + cols]);
            }
        }
    }
    HostTensor {
        shape: tensor.shape.clone(),
        data,
    }
}
