//! Batches of tokenized rows: right-padded [`TrainBatch`]es, and [`length_groups`], which cut a
//! micro-batch into groups of similar length so real data does not pay for padding.

use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use seal_core::TokenizedExample;

use crate::backend::host_f32;
use crate::error::Result;
use crate::llama::model::{Llama, TokenBatch};
use crate::loss::response_losses;

/// A token batch with its loss mask (`batch * seq_len`, 1 on response tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainBatch {
    /// Tokens and padding.
    pub tokens: TokenBatch,
    /// 1 where a token is a training target (response, not prompt or padding).
    pub loss_mask: Vec<u8>,
}

impl TrainBatch {
    /// Tokenized rows right-padded with `pad_id` into one batch, the loss mask padded with 0.
    pub fn right_padded(rows: &[&TokenizedExample], pad_id: u32) -> Self {
        let sequences: Vec<Vec<u32>> = rows.iter().map(|r| r.input_ids.clone()).collect();
        let tokens = TokenBatch::right_padded(&sequences, pad_id);
        let mut loss_mask = Vec::with_capacity(tokens.batch * tokens.seq_len);
        for r in rows {
            loss_mask.extend_from_slice(&r.loss_mask);
            loss_mask.extend(std::iter::repeat_n(0u8, tokens.seq_len - r.loss_mask.len()));
        }
        Self { tokens, loss_mask }
    }
}

/// A pass's fixed cost in padded-token equivalents (graph building, per-layer launch and
/// host overheads): a micro-batch is split only where the padding saved exceeds it.
const PASS_OVERHEAD_TOKENS: usize = 128;

/// Rows of one micro-batch, right-padded in groups of similar length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LengthGroup {
    /// Positions of the group's rows in the micro-batch, in the group's row order.
    pub positions: Vec<usize>,
    /// The rows, right-padded to the group's longest.
    pub batch: TrainBatch,
}

/// Splits a micro-batch into padded batches of similar length, so real, variable-length data
/// does not pay for padding: one long row no longer pads every short one to its length.
///
/// Order rule: positions sorted by length, longest first, ties by position; the sorted rows
/// are cut into consecutive groups minimising `Σ (rows·longest + PASS_OVERHEAD_TOKENS)`
/// (exact, by dynamic programming; ties go to the longer last group). The split depends only on the
/// rows' lengths, so a run and its resume group alike; per-example losses do not depend on it
/// beyond float rounding, and gradients summed over groups equal the one-batch gradient up to
/// summation order. Rows of equal length stay one group.
pub fn length_groups(rows: &[&TokenizedExample], pad_id: u32) -> Vec<LengthGroup> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(rows[i].input_ids.len()), i));
    let len = |k: usize| rows[order[k]].input_ids.len();
    let n = order.len();
    // best[b] = (cost, start of the last group) of the best split of the first b sorted rows.
    let mut best = vec![(0usize, 0usize); n + 1];
    for b in 1..=n {
        best[b] = (0..b)
            .map(|a| (best[a].0 + (b - a) * len(a) + PASS_OVERHEAD_TOKENS, a))
            .min_by_key(|&(cost, a)| (cost, a))
            .expect("b > 0 leaves at least one start");
    }
    let mut cuts = Vec::new();
    let mut b = n;
    while b > 0 {
        cuts.push(best[b].1..b);
        b = best[b].1;
    }
    cuts.reverse();
    cuts.into_iter()
        .map(|range| {
            let positions: Vec<usize> = order[range].to_vec();
            let group: Vec<&TokenizedExample> = positions.iter().map(|&p| rows[p]).collect();
            LengthGroup {
                batch: TrainBatch::right_padded(&group, pad_id),
                positions,
            }
        })
        .collect()
}

/// The per-example losses of length groups (no backward taken), in micro-batch order: `n`
/// rows, each group's losses put back at its positions.
///
/// # Errors
/// Invalid rows.
pub fn grouped_losses<B: Backend>(model: &Llama<B>, groups: &[LengthGroup], n: usize) -> Result<Vec<f32>> {
    let mut out = vec![0.0f32; n];
    for group in groups {
        let losses = response_losses(model, &group.batch.tokens, &group.batch.loss_mask)?;
        for (&p, v) in group.positions.iter().zip(host_f32(losses)) {
            out[p] = v;
        }
    }
    Ok(out)
}

/// Evaluates the per-example losses of a batch without building a graph.
///
/// # Errors
/// Invalid batches.
pub fn eval_losses<B: AutodiffBackend>(model: &Llama<B>, batch: &TrainBatch) -> Result<Vec<f32>> {
    Ok(host_f32(response_losses(
        &model.valid(),
        &batch.tokens,
        &batch.loss_mask,
    )?))
}
