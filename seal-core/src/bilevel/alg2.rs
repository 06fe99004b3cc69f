//! Algorithm 2, the memory-efficient one (DESIGN section 3; SEAL, Shen et al. 2025, Algorithm 2):
//! one model, and the selector's coefficients are θ's own per-example losses.
//!
//! ```text
//! ℓ_F  = per-example losses of θ on F                    (kept, detached, for the selector)
//! θ   <- Adam step on  λ·f_S(θ) + (1 − λ)·mean_{i∈I} stopgrad(p_i(ω))·ℓ_i(θ)
//! ω   <- Adam step on  mean_{i∈I} p_i(ω)·stopgrad(ℓ_F[i])     (ℓ_F from before the θ step)
//! ```
//! It drops ∇_ω v(ω), i.e. treats the lower-level optimum's per-example losses as equal.

use super::{Role, SelectorTrainer, StepBatch, StepOutcome, apply, forward_pass};
use crate::error::Result;
use crate::objective::BilevelModel;

/// One outer step of Algorithm 2 on `batch`.
pub(super) fn step<M: BilevelModel>(
    model: &mut M,
    selector: &mut SelectorTrainer,
    batch: &StepBatch<'_>,
) -> Result<StepOutcome> {
    // stopgrad(p_i(ω)) for the whole effective batch, before the ω step; one call so the batch
    // scope normalises over the same set the selector objective below sums over.
    let weights = selector.selector.weights_for(batch.ft)?;
    // Line 1 and 2 in one go: each micro-batch's forward gives ℓ_F and θ's gradient.
    let theta = forward_pass(model, Role::Main, batch, &weights)?;
    apply(model, Role::Main, batch)?;
    // Line 3, once per effective batch, in lock-step with θ; a short last batch's mean is over B
    // (see `StepBatch::nominal_batch_size`).
    let selector_step = selector.step(batch.ft, &theta.ft, batch.short_batch_scale())?;
    Ok(StepOutcome::new(&theta, &weights, None, selector_step))
}
