//! Per-example causal-LM loss (DESIGN section 2): token cross-entropy over response tokens only,
//! averaged per example. Burn's `CrossEntropyLoss` always reduces over the batch, and the
//! selector needs one differentiable loss per example, so it is written out here.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use crate::error::{ModelError, Result};
use crate::fused;
use crate::llama::model::{Llama, TokenBatch};

/// `ℓ_i` for every row of a batch: logits at position `t` predict token `t + 1`, counted where
/// `loss_mask[t + 1]` and `attention_mask[t + 1]` are set; a row with no such token gets 0.
///
/// # Shapes
/// - `logits`: `[batch, seq_len, vocab_size]`; `loss_mask`: `batch * seq_len` -> `[batch]`
///
/// # Errors
/// [`ModelError::Batch`] if the sizes disagree or `seq_len < 2`.
pub fn per_example_loss<B: Backend>(
    logits: Tensor<B, 3>,
    tokens: &TokenBatch,
    loss_mask: &[u8],
) -> Result<Tensor<B, 1>> {
    let [b, s, _vocab] = logits.dims();
    if b != tokens.batch || s != tokens.seq_len || loss_mask.len() != b * s {
        return Err(ModelError::Batch(format!(
            "logits {b}x{s} do not match a batch of {}x{} with {} loss-mask entries",
            tokens.batch,
            tokens.seq_len,
            loss_mask.len()
        )));
    }
    if s < 2 {
        return Err(ModelError::Batch(
            "sequences need at least 2 tokens for a next-token loss".into(),
        ));
    }
    let device = logits.device();
    let mut targets = Vec::with_capacity(b * (s - 1));
    let mut weights = Vec::with_capacity(b * (s - 1));
    let mut inv_counts = Vec::with_capacity(b);
    for row in 0..b {
        let mut count = 0usize;
        for t in 1..s {
            let i = row * s + t;
            let counted = loss_mask[i] != 0 && tokens.attention_mask[i] != 0;
            targets.push(i64::from(tokens.input_ids[i]));
            weights.push(if counted { 1.0f32 } else { 0.0 });
            count += usize::from(counted);
        }
        inv_counts.push(1.0 / count.max(1) as f32);
    }
    let targets = Tensor::<B, 3, Int>::from_data(TensorData::new(targets, [b, s - 1, 1]), &device);
    let weights = Tensor::<B, 2>::from_data(TensorData::new(weights, [b, s - 1]), &device);
    let inv_counts = Tensor::<B, 1>::from_data(TensorData::new(inv_counts, [b]), &device);

    let log_probs = log_softmax(logits.narrow(1, 0, s - 1), 2);
    let picked = log_probs.gather(2, targets).reshape([b, s - 1]);
    let summed = (picked * weights).sum_dim(1).reshape([b]);
    Ok(summed.neg() * inv_counts)
}

/// The same per-example losses as [`per_example_loss`], computed from the model while
/// projecting only the scored positions through the LM head.
///
/// The head is a large share of a small model's work (30% of the bench model's FLOPs) and
/// of its activation memory (`[batch, seq_len, vocab]` logits); prompt and padding positions
/// never need it. Each scored row's loss is `logsumexp(z) − z[target]`
/// ([`Llama::token_losses`], the fused head and cross-entropy), and rows are averaged per
/// example through a `[batch, rows]` averaging matrix so gradients flow to every example.
///
/// # Shapes
/// - `loss_mask`: `batch * seq_len` -> `[batch]`
///
/// # Errors
/// [`ModelError::Batch`] if the sizes disagree or `seq_len < 2`, and the model's input errors.
pub fn response_losses<B: Backend>(
    model: &Llama<B>,
    tokens: &TokenBatch,
    loss_mask: &[u8],
) -> Result<Tensor<B, 1>> {
    let (b, s) = (tokens.batch, tokens.seq_len);
    if loss_mask.len() != b * s {
        return Err(ModelError::Batch(format!(
            "loss mask has {} entries for a batch of {b}x{s}",
            loss_mask.len()
        )));
    }
    if s < 2 {
        return Err(ModelError::Batch(
            "sequences need at least 2 tokens for a next-token loss".into(),
        ));
    }
    let hidden = model.hidden_states(tokens)?; // [b, s, h]
    let device = hidden.device();
    let h = hidden.dims()[2];

    // Scored position t (1..s) of row r: hidden state at t - 1 predicts token t.
    let mut sources = Vec::new();
    let mut targets = Vec::new();
    let mut owner = Vec::new();
    let mut counts = vec![0usize; b];
    for (row, count) in counts.iter_mut().enumerate() {
        for t in 1..s {
            let i = row * s + t;
            if loss_mask[i] != 0 && tokens.attention_mask[i] != 0 {
                sources.push((i - 1) as i64);
                targets.push(i64::from(tokens.input_ids[i]));
                owner.push(row);
                *count += 1;
            }
        }
    }
    let rows = sources.len();
    if rows == 0 {
        // Nothing is scored: zero losses that still belong to the graph.
        return Ok(hidden.sum().mul_scalar(0.0).repeat_dim(0, b));
    }
    let sources = Tensor::<B, 1, Int>::from_data(TensorData::new(sources, [rows]), &device);
    let targets = Tensor::<B, 1, Int>::from_data(TensorData::new(targets, [rows]), &device);
    let mut averaging = vec![0.0f32; b * rows];
    for (k, &row) in owner.iter().enumerate() {
        averaging[row * rows + k] = 1.0 / counts[row] as f32;
    }
    let averaging = Tensor::<B, 2>::from_data(TensorData::new(averaging, [b, rows]), &device);

    let picked = fused::reshape(hidden, [b * s, h]).select(0, sources); // [rows, h]
    let token_loss = model.token_losses(picked, targets).reshape([rows, 1]);
    Ok(averaging.matmul(token_loss).reshape([b]))
}
