//! The interface between the bilevel loop and a model (DESIGN sections 2-3).
//!
//! seal-core never sees tensors: it hands a model index lists into the model's own D_safe
//! (`0..M`) and D_ft (`0..N`), detached weights and the loss coefficients, and reads back
//! per-example losses. seal-models implements [`BilevelModel`] for the Llama on Burn; the tests
//! implement it for a small classifier with hand-written gradients.
//!
//! One call of [`BilevelModel::accumulate`] is one forward and one backward: the per-example losses
//! it returns are those of the parameters *before* the step, which is what Algorithm 2's selector
//! step needs (ℓ_F "from before the θ step"), so no second forward is ever taken. Gradients add
//! up over calls until [`BilevelModel::apply`], which is how micro-batches accumulate to an
//! effective batch.

/// One micro-batch of an optimizer step, and the coefficients of its share of the loss.
///
/// The model accumulates the gradient of
/// `safe_coef · mean_{j∈safe} ℓ_j(θ) + ft_coef · mean_{k} ft_weights[k]·ℓ_{ft[k]}(θ)`,
/// with the weights detached (constants). The loop sets `safe_coef = (|micro| / |batch|)·λ` and
/// `ft_coef = (|micro| / |batch|)·(1 − λ)`, so the gradients summed over a step's micro-batches are
/// those of the effective batch's mean loss `λ·f_S(θ) + (1 − λ)·g_F(θ, ω)` (DESIGN section 2).
/// A coefficient of exactly 0 (e.g. `ft_coef` while γ = 0) lets the model skip that term's
/// backward; the forward of `ft` is still needed for its losses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicroBatch<'a> {
    /// Indices into the model's D_safe (may be empty: then `safe_coef` is 0 and there is no safe
    /// term). Repeats are allowed when D_safe is smaller than a batch.
    pub safe: &'a [usize],
    /// Indices into the model's D_ft; the selector's index i is the D_ft index i.
    pub ft: &'a [usize],
    /// The detached selector weights p_i(ω) of `ft`, in the same order.
    pub ft_weights: &'a [f32],
    /// Multiplies the mean safe loss; 0 for Algorithm 1's auxiliary model.
    pub safe_coef: f64,
    /// Multiplies the weighted mean fine-tuning loss.
    pub ft_coef: f64,
}

/// The detached per-example losses of one [`BilevelModel::accumulate`] call, taken from the same
/// forward as the gradients (so before the parameters change).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MicroLosses {
    /// ℓ_j(θ) for each index of [`MicroBatch::safe`], in order.
    pub safe: Vec<f32>,
    /// ℓ_i(θ) for each index of [`MicroBatch::ft`], in order (unweighted).
    pub ft: Vec<f32>,
}

/// A model the bilevel loop can train: per-example losses, gradient accumulation, an optimizer
/// step, and an independent copy for Algorithm 1's θ̂.
///
/// The model owns its optimizer (Adam, lr, clipping, DESIGN section 3) and its checkpointing; the
/// loop owns the selector, the batch order and the schedule.
pub trait BilevelModel: Sized {
    /// The model's own error, wrapped by the loop into [`CoreError::Model`](crate::CoreError::Model).
    type Error: std::error::Error + Send + Sync + 'static;

    /// M, the number of examples in the model's D_safe.
    fn safe_len(&self) -> usize;

    /// N, the number of examples in the model's D_ft.
    fn ft_len(&self) -> usize;

    /// The tokens the model reads for these examples of D_safe and D_ft (the step's throughput in
    /// the metrics stream); `None` for a model that does not count tokens.
    fn tokens(&self, _safe: &[usize], _ft: &[usize]) -> Option<u64> {
        None
    }

    /// One forward and backward of `batch`: adds the gradient of its loss (see [`MicroBatch`]) to
    /// the accumulated gradients, and returns the per-example losses of that same forward.
    ///
    /// # Errors
    /// Whatever the model cannot do (a bad index, out of memory). Non-finite losses are not errors
    /// here: the loop checks them and names the epoch and step.
    fn accumulate(&mut self, batch: &MicroBatch<'_>) -> Result<MicroLosses, Self::Error>;

    /// The per-example losses of D_ft examples `ft` under the current parameters, with no
    /// gradient to keep (Algorithm 1 with `aux_loss = after` measures θ̂ after its step this way).
    /// The default is [`accumulate`](Self::accumulate) with both coefficients 0, which adds a zero
    /// gradient; a model should skip the backward of a zero coefficient, as the Llama's does.
    ///
    /// # Errors
    /// As [`accumulate`](Self::accumulate).
    fn eval_ft_losses(&mut self, ft: &[usize]) -> Result<Vec<f32>, Self::Error> {
        let weights = vec![0.0; ft.len()];
        let losses = self.accumulate(&MicroBatch {
            safe: &[],
            ft,
            ft_weights: &weights,
            safe_coef: 0.0,
            ft_coef: 0.0,
        })?;
        Ok(losses.ft)
    }

    /// One optimizer step on the accumulated gradients (clip, then Adam), then clears them.
    ///
    /// # Errors
    /// Whatever the model's optimizer cannot do.
    fn apply(&mut self) -> Result<(), Self::Error>;

    /// An independent copy with the same parameter values, new parameter identities and a fresh
    /// optimizer state, and no accumulated gradients: θ̂ of Algorithm 1 (DESIGN section 3; on Burn,
    /// fresh `ParamId`s and autodiff leaves, section 9).
    ///
    /// # Errors
    /// Whatever the model cannot do (e.g. no memory for a second copy).
    fn fork(&self) -> Result<Self, Self::Error>;
}
