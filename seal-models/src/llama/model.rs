//! The Llama-family decoder: embedding, `num_hidden_layers` pre-norm blocks (grouped-query
//! attention with RoPE, SwiGLU MLP), final RMSNorm and the LM head. Field names follow HF
//! checkpoint keys (`self_attn.q_proj`, `mlp.gate_proj`, ...).

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use super::cache::{KvCache, LayerCache};
use super::config::LlamaConfig;
use super::linear::Linear;
use super::rope::{apply_rope, inverse_frequencies, rope_angles, rope_tables};
use crate::fused::{self, AttentionMask, RopeAngles};

/// Root-mean-square layer norm (`input_layernorm`, `post_attention_layernorm`, `norm`).
#[derive(Module, Debug)]
pub struct RmsNorm<B: Backend> {
    /// `[hidden_size]` gain.
    pub weight: Param<Tensor<B, 1>>,
    /// Added to the mean square before the square root.
    pub eps: f64,
}

impl<B: Backend> RmsNorm<B> {
    /// # Shapes
    /// - `x`: `[batch, seq_len, hidden_size]` -> same
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let (x, weight) = match fused::rms_norm(x, self.weight.val(), self.eps as f32) {
            Ok(y) => return y,
            Err(args) => args,
        };
        let variance = x.clone().square().mean_dim(2); // [batch, seq_len, 1]
        let inv_rms = variance.add_scalar(self.eps).sqrt().recip();
        x * inv_rms * weight.unsqueeze::<3>()
    }
}

/// SwiGLU feed-forward block (`mlp.*`).
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// `hidden -> intermediate`, through SiLU.
    pub gate_proj: Linear<B>,
    /// `hidden -> intermediate`.
    pub up_proj: Linear<B>,
    /// `intermediate -> hidden`.
    pub down_proj: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    /// # Shapes
    /// - `x`: `[batch, seq_len, hidden_size]` -> same
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let gate = self.gate_proj.forward(x.clone()); // [batch, seq_len, intermediate_size]
        let up = self.up_proj.forward(x);
        let hidden = match fused::swiglu(gate, up) {
            Ok(hidden) => hidden,
            Err((gate, up)) => silu(gate) * up,
        };
        self.down_proj.forward(hidden)
    }
}

/// Grouped-query self-attention (`self_attn.*`).
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// `hidden -> heads·head_dim`.
    pub q_proj: Linear<B>,
    /// `hidden -> kv_heads·head_dim`.
    pub k_proj: Linear<B>,
    /// `hidden -> kv_heads·head_dim`.
    pub v_proj: Linear<B>,
    /// `heads·head_dim -> hidden`.
    pub o_proj: Linear<B>,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Per-head width.
    pub head_dim: usize,
}

/// Per-call inputs shared by every layer: the RoPE angles and which keys each query sees, in
/// the form the attention path of backend `B` takes.
pub(crate) enum LayerInputs<B: Backend> {
    /// For the fused CPU operations: host tables.
    Fused {
        /// Key validity and cache offset.
        mask: AttentionMask,
        /// RoPE cosines and sines per position.
        angles: Arc<RopeAngles>,
    },
    /// For Burn's primitive ops, as tensors.
    Decomposed {
        /// `[batch, 1, seq_len, head_dim]` RoPE cosines, broadcast over heads.
        cos: Tensor<B, 4>,
        /// The sines, alike.
        sin: Tensor<B, 4>,
        /// `[batch, 1, seq_len, total_len]`: 0 where a query may attend, a large negative
        /// elsewhere.
        bias: Tensor<B, 4>,
    },
}

impl<B: Backend> Attention<B> {
    fn forward(
        &self,
        x: Tensor<B, 3>,
        inputs: &LayerInputs<B>,
        cache: Option<&mut LayerCache<B>>,
    ) -> Tensor<B, 3> {
        let [batch, seq_len, _] = x.dims();
        // The fused operations read the projections as they come, `[batch, seq, heads, d]`;
        // the decomposed ops want heads first, `[batch, heads, seq, d]`.
        let split = matches!(inputs, LayerInputs::Decomposed { .. });
        let heads = |t: Tensor<B, 3>, n: usize| {
            let t = fused::reshape(t, [batch, seq_len, n, self.head_dim]);
            if split { t.swap_dims(1, 2) } else { t }
        };
        let q = heads(self.q_proj.forward(x.clone()), self.num_heads);
        let k = heads(self.k_proj.forward(x.clone()), self.num_kv_heads);
        let v = heads(self.v_proj.forward(x), self.num_kv_heads);
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let context = match inputs {
            LayerInputs::Fused { mask, angles } => {
                let q = fused::rope(q, angles).unwrap_or_else(|_| unreachable!("{UNFUSED}"));
                let k = fused::rope(k, angles).unwrap_or_else(|_| unreachable!("{UNFUSED}"));
                let (q, k, v) = match cache {
                    // Generation on the CPU: the cache stays on the host, read in place.
                    Some(cache) => {
                        match fused::attention_cached(q, k, v, cache.host_mut(), mask, scale as f32) {
                            Ok(context) => return self.project_out(context, batch, seq_len),
                            Err((q, k, v)) => {
                                let (k, v) = cache.append(k, v, 1);
                                (q, k, v)
                            }
                        }
                    }
                    None => (q, k, v),
                };
                fused::attention(q, k, v, mask, scale as f32).unwrap_or_else(|_| unreachable!("{UNFUSED}"))
            }
            LayerInputs::Decomposed { cos, sin, bias } => {
                let q = apply_rope(q, cos.clone(), sin.clone());
                let k = apply_rope(k, cos.clone(), sin.clone());
                let (k, v) = match cache {
                    Some(cache) => cache.append(k, v, 2),
                    None => (k, v),
                };
                self.decomposed_attention(q, k, v, bias.clone(), scale)
                    .swap_dims(1, 2)
            }
        }; // [batch, seq_len, heads, head_dim]
        self.project_out(context, batch, seq_len)
    }

    /// `o_proj` of the `[batch, seq_len, heads, head_dim]` attention output.
    fn project_out(&self, context: Tensor<B, 4>, batch: usize, seq_len: usize) -> Tensor<B, 3> {
        let context = fused::reshape(context, [batch, seq_len, self.num_heads * self.head_dim]);
        self.o_proj.forward(context)
    }

    /// Attention as Burn's primitive ops (backends without [`fused::attention`]): the same
    /// result, with the `seq x total` scores and probabilities kept for backward.
    fn decomposed_attention(
        &self,
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        bias: Tensor<B, 4>,
        scale: f64,
    ) -> Tensor<B, 4> {
        let [batch, _, seq_len, d] = q.dims();
        // Grouped-query attention without materialising repeated keys and values: the n_rep
        // query heads sharing kv head g are stacked as [n_rep·seq_len] rows of one product
        // (HF's `repeat_kv` maps query head h to kv head h / n_rep, i.e. heads are grouped
        // consecutively, which is the row-major order of [kv_heads, n_rep]).
        let n_rep = self.num_heads / self.num_kv_heads;
        let total = k.dims()[2];
        let q = q.reshape([batch, self.num_kv_heads, n_rep * seq_len, d]);
        let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale); // [b, kv, n_rep·s, t]
        let scores = scores.reshape([batch, self.num_heads, seq_len, total]) + bias;
        let probs = softmax(scores, 3).reshape([batch, self.num_kv_heads, n_rep * seq_len, total]);
        probs.matmul(v).reshape([batch, self.num_heads, seq_len, d])
    }
}

/// One pre-norm decoder layer (`model.layers.{i}`).
#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    /// Norm before attention.
    pub input_layernorm: RmsNorm<B>,
    /// Self-attention.
    pub self_attn: Attention<B>,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm<B>,
    /// Feed-forward.
    pub mlp: Mlp<B>,
}

impl<B: Backend> DecoderLayer<B> {
    fn forward(
        &self,
        x: Tensor<B, 3>,
        inputs: &LayerInputs<B>,
        cache: Option<&mut LayerCache<B>>,
    ) -> Tensor<B, 3> {
        let h = x.clone()
            + self
                .self_attn
                .forward(self.input_layernorm.forward(x), inputs, cache);
        h.clone() + self.mlp.forward(self.post_attention_layernorm.forward(h))
    }
}

/// Token embedding (`model.embed_tokens`).
#[derive(Module, Debug)]
pub struct Embedding<B: Backend> {
    /// `[vocab_size, hidden_size]`.
    pub weight: Param<Tensor<B, 2>>,
}

/// The decoder stack without the head (`model.*`).
#[derive(Module, Debug)]
pub struct LlamaBody<B: Backend> {
    /// Token embedding.
    pub embed_tokens: Embedding<B>,
    /// Decoder layers.
    pub layers: Vec<DecoderLayer<B>>,
    /// Final norm.
    pub norm: RmsNorm<B>,
}

/// A Llama-family causal language model.
#[derive(Module, Debug)]
pub struct Llama<B: Backend> {
    /// The decoder stack.
    pub model: LlamaBody<B>,
    /// Output projection; `None` when tied to the embedding.
    pub lm_head: Option<Linear<B>>,
    /// RoPE inverse frequencies (a constant, not a parameter).
    pub inv_freq: Vec<f32>,
    /// Longest sequence (positions beyond it are an input error).
    pub max_position_embeddings: usize,
}

/// A batch of token sequences with their padding, as the model consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    /// `batch * seq_len` token ids, row-major.
    pub input_ids: Vec<u32>,
    /// `batch * seq_len`: 1 for real tokens, 0 for padding (left or right).
    pub attention_mask: Vec<u8>,
    /// Rows.
    pub batch: usize,
    /// Columns.
    pub seq_len: usize,
}

impl TokenBatch {
    /// Right-pads `sequences` with `pad_id` to the longest one.
    pub fn right_padded(sequences: &[Vec<u32>], pad_id: u32) -> Self {
        let seq_len = sequences.iter().map(Vec::len).max().unwrap_or(0);
        let mut input_ids = Vec::with_capacity(sequences.len() * seq_len);
        let mut attention_mask = Vec::with_capacity(sequences.len() * seq_len);
        for s in sequences {
            input_ids.extend_from_slice(s);
            input_ids.extend(std::iter::repeat_n(pad_id, seq_len - s.len()));
            attention_mask.extend(std::iter::repeat_n(1u8, s.len()));
            attention_mask.extend(std::iter::repeat_n(0u8, seq_len - s.len()));
        }
        Self {
            input_ids,
            attention_mask,
            batch: sequences.len(),
            seq_len,
        }
    }

    /// Left-pads `sequences` with `pad_id` to the longest one (for batched generation).
    pub fn left_padded(sequences: &[Vec<u32>], pad_id: u32) -> Self {
        let seq_len = sequences.iter().map(Vec::len).max().unwrap_or(0);
        let mut input_ids = Vec::with_capacity(sequences.len() * seq_len);
        let mut attention_mask = Vec::with_capacity(sequences.len() * seq_len);
        for s in sequences {
            input_ids.extend(std::iter::repeat_n(pad_id, seq_len - s.len()));
            input_ids.extend_from_slice(s);
            attention_mask.extend(std::iter::repeat_n(0u8, seq_len - s.len()));
            attention_mask.extend(std::iter::repeat_n(1u8, s.len()));
        }
        Self {
            input_ids,
            attention_mask,
            batch: sequences.len(),
            seq_len,
        }
    }
}

/// Why a fused operation cannot decline: [`LayerInputs::Fused`] is built only for a backend
/// that has them.
const UNFUSED: &str = "fused inputs are built only for a backend with the fused operations";

/// Large negative added to masked attention scores. Finite on purpose: a fully masked row (a
/// left-padding query) then softmaxes to a harmless uniform row instead of NaN, and NaN would
/// leak into real rows through `0 · NaN` in the next matmul.
const MASKED: f32 = -1e9;

impl<B: Backend> Llama<B> {
    /// Logits for every position of a padded batch.
    ///
    /// # Shapes
    /// - returns `[batch, seq_len, vocab_size]`
    ///
    /// # Errors
    /// [`crate::ModelError::Batch`] if the batch is empty, inconsistent, a token id is out of
    /// the vocabulary or a position exceeds `max_position_embeddings`.
    pub fn forward(&self, batch: &TokenBatch) -> crate::Result<Tensor<B, 3>> {
        self.forward_inner(batch, None, false, false)
    }

    /// Logits for new tokens, extending `cache` (which must have been made for this batch size).
    /// The mask covers only the new tokens; earlier ones are remembered by the cache.
    ///
    /// # Errors
    /// As [`Llama::forward`], and if the cache's batch size differs.
    pub fn forward_cached(&self, batch: &TokenBatch, cache: &mut KvCache<B>) -> crate::Result<Tensor<B, 3>> {
        self.forward_inner(batch, Some(cache), false, false)
    }

    /// Like [`Llama::forward_cached`], but projects only the last position to the vocabulary
    /// (all generation needs), returning `[batch, 1, vocab_size]`.
    ///
    /// # Errors
    /// As [`Llama::forward_cached`].
    pub fn forward_cached_last(
        &self,
        batch: &TokenBatch,
        cache: &mut KvCache<B>,
    ) -> crate::Result<Tensor<B, 3>> {
        self.forward_inner(batch, Some(cache), true, false)
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.model.embed_tokens.weight.val().dims()[0]
    }

    /// Number of decoder layers.
    pub fn num_layers(&self) -> usize {
        self.model.layers.len()
    }

    fn forward_inner(
        &self,
        batch: &TokenBatch,
        mut cache: Option<&mut KvCache<B>>,
        last_only: bool,
        hidden_only: bool,
    ) -> crate::Result<Tensor<B, 3>> {
        let (b, s) = (batch.batch, batch.seq_len);
        if b == 0 || s == 0 {
            return Err(crate::ModelError::Batch("empty batch".into()));
        }
        if batch.input_ids.len() != b * s || batch.attention_mask.len() != b * s {
            return Err(crate::ModelError::Batch(format!(
                "batch of {b}x{s} has {} ids and {} mask entries",
                batch.input_ids.len(),
                batch.attention_mask.len()
            )));
        }
        let vocab = self.vocab_size();
        if let Some(&bad) = batch.input_ids.iter().find(|&&id| id as usize >= vocab) {
            return Err(crate::ModelError::Batch(format!(
                "token id {bad} is outside the vocabulary of {vocab}"
            )));
        }
        let device = self.model.embed_tokens.weight.device();

        // Key mask over cached + new tokens, and positions of the new tokens: HF derives
        // positions from the mask (`cumsum - 1`), so left padding does not shift them.
        let (past_len, mut key_mask, mut next_pos) = match cache.as_deref() {
            Some(c) => {
                if c.batch() != b {
                    return Err(crate::ModelError::Batch(format!(
                        "cache holds {} rows, batch has {b}",
                        c.batch()
                    )));
                }
                (c.len(), c.key_mask().to_vec(), c.next_positions().to_vec())
            }
            None => (0, vec![Vec::new(); b], vec![0usize; b]),
        };
        let total = past_len + s;
        let mut positions = Vec::with_capacity(b * s);
        for row in 0..b {
            for col in 0..s {
                let m = batch.attention_mask[row * s + col];
                key_mask[row].push(m);
                if m != 0 {
                    positions.push(next_pos[row]);
                    next_pos[row] += 1;
                } else {
                    // A padding query's output is never used; giving it its column index (as
                    // transformers' default `arange` positions do) keeps golden logits
                    // comparable at every position.
                    positions.push((past_len + col).min(self.max_position_embeddings.saturating_sub(1)));
                }
            }
        }
        if let Some(&p) = next_pos.iter().max()
            && p > self.max_position_embeddings
        {
            return Err(crate::ModelError::Batch(format!(
                "sequence of {p} positions exceeds max_position_embeddings {}",
                self.max_position_embeddings
            )));
        }
        // A real token at position p attends to real keys up to and including itself.
        let inputs = if fused::attention_is_fused::<B>() {
            LayerInputs::Fused {
                mask: AttentionMask {
                    key_valid: key_mask.concat(),
                    past_len,
                },
                angles: Arc::new(rope_angles(&self.inv_freq, &positions)),
            }
        } else {
            let mut bias = vec![MASKED; b * s * total];
            for row in 0..b {
                for i in 0..s {
                    let query_abs = past_len + i;
                    let out = &mut bias[(row * s + i) * total..(row * s + i + 1) * total];
                    for (j, slot) in out.iter_mut().enumerate().take(query_abs + 1) {
                        if key_mask[row][j] != 0 {
                            *slot = 0.0;
                        }
                    }
                }
            }
            let (cos, sin) = rope_tables::<B>(&self.inv_freq, &positions, b, s, &device);
            LayerInputs::Decomposed {
                cos,
                sin,
                bias: Tensor::from_data(TensorData::new(bias, [b, 1, s, total]), &device),
            }
        };

        let ids: Vec<i64> = batch.input_ids.iter().map(|&t| i64::from(t)).collect();
        let ids = Tensor::<B, 1, Int>::from_data(TensorData::new(ids, [b * s]), &device);
        let hidden = self.model.embed_tokens.weight.val().select(0, ids);
        let hidden_size = hidden.dims()[1];
        let mut x = fused::reshape(hidden, [b, s, hidden_size]);
        for (i, layer) in self.model.layers.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| c.layer_mut(i));
            x = layer.forward(x, &inputs, layer_cache);
        }
        if let Some(c) = cache {
            c.commit(key_mask, next_pos);
        }
        let x = if last_only { x.narrow(1, s - 1, 1) } else { x };
        let x = self.model.norm.forward(x);
        Ok(if hidden_only { x } else { self.project_vocab(x) })
    }

    /// Final hidden states (after the last norm), before the LM head.
    ///
    /// # Shapes
    /// - returns `[batch, seq_len, hidden_size]`
    ///
    /// # Errors
    /// As [`Llama::forward`].
    pub fn hidden_states(&self, batch: &TokenBatch) -> crate::Result<Tensor<B, 3>> {
        self.forward_inner(batch, None, false, true)
    }

    /// The LM head over rows of hidden states.
    ///
    /// # Shapes
    /// - `x`: `[rows, hidden_size]` -> `[rows, vocab_size]`
    pub fn project_rows(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let [rows, hidden] = x.dims();
        let logits = self.project_vocab(fused::reshape(x, [1, rows, hidden]));
        let vocab = logits.dims()[2];
        fused::reshape(logits, [rows, vocab])
    }

    /// Each row's next-token loss `logsumexp(z) − z[target]` for hidden rows `[rows, hidden]`
    /// and `targets` `[rows]`, through [`fused::lm_loss`] where the head is a plain weight
    /// (no bias, no adapter): the `[rows, vocab]` logits are never kept for backward.
    pub fn token_losses(&self, x: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        let head = match &self.lm_head {
            None => Some((
                fused::HeadLayout::VocabByHidden,
                self.model.embed_tokens.weight.val(),
            )),
            Some(head) if head.bias.is_none() && head.lora.is_none() => {
                Some((fused::HeadLayout::HiddenByVocab, head.weight.val()))
            }
            Some(_) => None,
        };
        let (x, targets) = match head {
            Some((layout, weight)) => match fused::lm_loss(layout, x, weight, targets) {
                Ok(losses) => return losses,
                Err((x, _, targets)) => (x, targets),
            },
            None => (x, targets),
        };
        // Decomposed: the row maximum is held constant (its gradient cancels exactly).
        let rows = targets.dims()[0];
        let logits = self.project_rows(x); // [rows, vocab]
        let max = logits.clone().max_dim(1).detach(); // [rows, 1]
        let lse = (logits.clone() - max.clone()).exp().sum_dim(1).log() + max;
        (lse - logits.gather(1, targets.reshape([rows, 1]))).reshape([rows])
    }

    /// The LM head: `lm_head`, or the transposed embedding when tied.
    fn project_vocab(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        match &self.lm_head {
            Some(head) => head.forward(x),
            None => {
                let [b, s, h] = x.dims();
                let w = self.model.embed_tokens.weight.val(); // [vocab, hidden]
                let vocab = w.dims()[0];
                let x = fused::reshape(x, [b * s, h]);
                // The CPU reads the embedding in place as the head's `[hidden, vocab]`
                // (`fused::matmul` takes the transposed view without copying it).
                fused::reshape(fused::matmul(x, w.transpose()), [b, s, vocab])
            }
        }
    }

    /// A new, empty KV cache for `batch` rows.
    pub fn new_cache(&self, batch: usize) -> KvCache<B> {
        KvCache::new(self.model.layers.len(), batch)
    }
}

/// Builds an untrained model (for tests and benchmarks; real weights come from `hf::load`).
pub fn init_random<B: Backend>(config: &LlamaConfig, std: f64, device: &B::Device) -> Llama<B> {
    use burn::tensor::Distribution;
    let dist = Distribution::Normal(0.0, std);
    let linear = |i: usize, o: usize, bias: bool| {
        Linear::from_tensors(
            Tensor::random([i, o], dist, device),
            bias.then(|| Tensor::zeros([o], device)),
        )
    };
    let norm = |n: usize| RmsNorm {
        weight: Param::from_tensor(Tensor::ones([n], device)),
        eps: config.rms_norm_eps,
    };
    let h = config.hidden_size;
    let q = config.num_attention_heads * config.head_dim;
    let kv = config.num_key_value_heads * config.head_dim;
    let layers = (0..config.num_hidden_layers)
        .map(|_| DecoderLayer {
            input_layernorm: norm(h),
            self_attn: Attention {
                q_proj: linear(h, q, config.qkv_bias),
                k_proj: linear(h, kv, config.qkv_bias),
                v_proj: linear(h, kv, config.qkv_bias),
                o_proj: linear(q, h, config.o_bias),
                num_heads: config.num_attention_heads,
                num_kv_heads: config.num_key_value_heads,
                head_dim: config.head_dim,
            },
            post_attention_layernorm: norm(h),
            mlp: Mlp {
                gate_proj: linear(h, config.intermediate_size, config.mlp_bias),
                up_proj: linear(h, config.intermediate_size, config.mlp_bias),
                down_proj: linear(config.intermediate_size, h, config.mlp_bias),
            },
        })
        .collect();
    Llama {
        model: LlamaBody {
            embed_tokens: Embedding {
                weight: Param::from_tensor(Tensor::random([config.vocab_size, h], dist, device)),
            },
            layers,
            norm: norm(h),
        },
        lm_head: (!config.tie_word_embeddings).then(|| linear(h, config.vocab_size, false)),
        inv_freq: inverse_frequencies(config),
        max_position_embeddings: config.max_position_embeddings,
    }
}
