//! Per-example causal-LM loss (DESIGN section 2): token cross-entropy over response tokens only,
//! averaged per example. Burn's `CrossEntropyLoss` always reduces over the batch, and the
//! selector needs one differentiable loss per example, so it is written out here.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use crate::error::{ModelError, Result};
use crate::llama::model::TokenBatch;

/// `ℓ_i` for every row of a batch: logits at position `t` predict token `t + 1`, counted where
/// `loss_mask[t + 1]` and `attention_mask[t + 1]` are set; a row with no such token gets 0.
///
/// # Shapes
/// - `logits`: `[batch, seq_len, vocab_size]`; `loss_mask`: `batch * seq_len` -> `[batch]`
///
/// # Errors
/// [`ModelError::Input`] if the sizes disagree or `seq_len < 2`.
pub fn per_example_loss<B: Backend>(
    logits: Tensor<B, 3>,
    tokens: &TokenBatch,
    loss_mask: &[u8],
) -> Result<Tensor<B, 1>> {
    let [b, s, _vocab] = logits.dims();
    if b != tokens.batch || s != tokens.seq_len || loss_mask.len() != b * s {
        return Err(ModelError::Input(format!(
            "logits {b}x{s} do not match a batch of {}x{} with {} loss-mask entries",
            tokens.batch,
            tokens.seq_len,
            loss_mask.len()
        )));
    }
    if s < 2 {
        return Err(ModelError::Input(
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
