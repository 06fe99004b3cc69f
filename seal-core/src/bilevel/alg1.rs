//! Algorithm 1 (DESIGN section 3; SEAL, Shen et al. 2025, Algorithm 1): an auxiliary model
//! θ̂ ≈ θ*(ω), forked from θ with its own optimizer, estimates the lower-level optimum, and the
//! selector follows the penalty's gradient in ω.
//!
//! ```text
//! ℓ_F  = per-example losses of θ on F;   ℓ̂_F = per-example losses of θ̂ on F
//! θ̂   <- T inner Adam steps (default 1) on  mean_{i∈I} stopgrad(p_i(ω))·ℓ_i(θ̂)
//! θ   <- Adam step on  λ·f_S(θ) + (1 − λ)·mean_{i∈I} stopgrad(p_i(ω))·ℓ_i(θ)
//! ω   <- Adam step on  mean_{i∈I} p_i(ω)·stopgrad(ℓ_F[i] − ℓ̂_F[i])
//! ```
//! ℓ̂_F is taken from θ̂'s first forward of the step, before θ̂ moves (`aux_loss = before`, the
//! default), or from one more forward after its inner steps (`aux_loss = after`, V-PBGD's order).
//! The ω step is ∇_ω[g(θ, ω) − g(θ̂, ω)] without the factor c(γ)·γ = γ/(1 + γ), which Adam
//! normalises away; `keep_penalty_factor` keeps it (and so freezes ω while γ = 0).

use super::{AuxLoss, Role, SelectorTrainer, StepBatch, StepOutcome, apply, forward_pass, loss_pass};
use crate::error::Result;
use crate::objective::BilevelModel;

/// Algorithm 1's own settings (see [`Algorithm::Alg1`](super::Algorithm::Alg1)).
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    pub inner_steps: usize,
    pub keep_penalty_factor: bool,
    pub aux_loss: AuxLoss,
}

/// One outer step of Algorithm 1 on `batch`.
pub(super) fn step<M: BilevelModel>(
    model: &mut M,
    aux: &mut M,
    selector: &mut SelectorTrainer,
    batch: &StepBatch<'_>,
    options: Options,
) -> Result<StepOutcome> {
    // One set of detached weights for θ, θ̂ and the ω step, as in Algorithm 2.
    let weights = selector.selector.weights_for(batch.ft)?;
    // ℓ_F and θ's gradients; θ steps only after θ̂'s passes, so that a non-finite loss in either
    // is found before θ moves.
    let theta = forward_pass(model, Role::Main, batch, &weights)?;
    // With `aux_loss = before`, ℓ̂_F comes from θ̂'s first pass, before its own step. Later inner
    // steps reuse the batch; their losses are checked but feed nothing.
    let first = forward_pass(aux, Role::Aux, batch, &weights)?;
    apply(aux, Role::Aux, batch)?;
    for _ in 1..options.inner_steps {
        forward_pass(aux, Role::Aux, batch, &weights)?;
        apply(aux, Role::Aux, batch)?;
    }
    let theta_hat_ft = match options.aux_loss {
        AuxLoss::Before => first.ft,
        // One more forward of θ̂, without a backward, at the point its steps reached.
        AuxLoss::After => loss_pass(aux, Role::Aux, batch)?,
    };
    apply(model, Role::Main, batch)?;
    let coeffs: Vec<f32> = theta
        .ft
        .iter()
        .zip(&theta_hat_ft)
        .map(|(l, l_hat)| l - l_hat)
        .collect();
    // c(γ)·γ = γ/(1 + γ) = 1 − λ; a short last batch's mean is over B.
    let penalty = if options.keep_penalty_factor {
        1.0 - batch.lambda
    } else {
        1.0
    };
    let selector_step = selector.step(batch.ft, &coeffs, penalty * batch.short_batch_scale())?;
    Ok(StepOutcome::new(
        &theta,
        &weights,
        Some(&theta_hat_ft),
        selector_step,
    ))
}
