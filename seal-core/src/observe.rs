//! Progress and measurements of the training loops, reported to an [`Observer`] instead of
//! printed (STYLE: libraries don't print; seal-cli draws bars and writes metrics.jsonl from these).

use serde::{Deserialize, Serialize};

/// What one optimizer step did. Losses are means over the step's effective batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The epoch (0-based).
    pub epoch: u64,
    /// The step within the epoch (0-based).
    pub step: u64,
    /// Steps in this epoch (⌈N / batch_size⌉).
    pub steps: u64,
    /// The global optimizer step (0-based, counted across epochs), the `t` of the `ramp` schedule.
    pub global_step: u64,
    /// Examples in this step's fine-tuning batch (the last batch of an epoch may be short).
    pub batch_size: usize,
    /// Tokens of the step's safe and fine-tuning examples, where the model counts them
    /// ([`BilevelModel::tokens`](crate::BilevelModel::tokens)).
    #[serde(default)]
    pub tokens: Option<u64>,
    /// The penalty γ_t used.
    pub gamma: f64,
    /// The upper-level weight λ = 1/(1 + γ_t) used.
    pub lambda: f64,
    /// mean_{j∈S} ℓ_j(θ): the safe loss f_S before the θ step.
    pub safe_loss: f64,
    /// mean_{i∈I} ℓ_i(θ) before the θ step, unweighted.
    pub ft_loss: f64,
    /// mean_{i∈I} p_i(ω)·ℓ_i(θ) before the θ step: the lower-level loss g_F.
    pub weighted_ft_loss: f64,
    /// mean_{i∈I} ℓ_i(θ̂) before the θ̂ steps (Algorithm 1 only).
    pub aux_ft_loss: Option<f64>,
    /// The selector objective mean_{i∈I} p_i(ω)·c_i before the ω step.
    pub selector_objective: f64,
    /// The L2 norm of the selector gradient before clipping.
    pub selector_grad_norm: f64,
}

/// What one epoch did. Losses are per-example means over the epoch (each step weighted by its
/// batch size); γ and λ are recorded as used (DESIGN section 7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// The epoch (0-based).
    pub epoch: u64,
    /// Optimizer steps taken in it.
    pub steps: u64,
    /// The global step of its first optimizer step.
    pub first_global_step: u64,
    /// γ at its first step (for every schedule but `ramp`, γ of the whole epoch).
    pub gamma_first: f64,
    /// γ at its last step.
    pub gamma_last: f64,
    /// λ at its first step.
    pub lambda_first: f64,
    /// λ at its last step.
    pub lambda_last: f64,
    /// Mean safe loss ℓ_j(θ), before each step.
    pub safe_loss: f64,
    /// Mean unweighted fine-tuning loss ℓ_i(θ), before each step.
    pub ft_loss: f64,
    /// Mean weighted fine-tuning loss p_i(ω)·ℓ_i(θ), before each step.
    pub weighted_ft_loss: f64,
    /// Mean ℓ_i(θ̂) before each step (Algorithm 1 only).
    pub aux_ft_loss: Option<f64>,
    /// Wall time of the epoch, in seconds.
    pub wall_seconds: f64,
}

/// Receives a training loop's reports as they happen (progress bars, metrics files, tests).
///
/// One trait for every loop seal runs: the bilevel loop here reports [`StepReport`] and
/// [`EpochReport`] (the defaults), and seal-models' trainers (fine-tuning, the reward model)
/// report their own step and epoch types through the same trait. A closure over a step report
/// is an observer that ignores epochs.
pub trait Observer<Step = StepReport, Epoch = EpochReport> {
    /// After every optimizer step.
    fn on_step(&mut self, _report: &Step) {}
    /// After every epoch.
    fn on_epoch(&mut self, _report: &Epoch) {}
}

impl<Step, Epoch, F: FnMut(&Step)> Observer<Step, Epoch> for F {
    fn on_step(&mut self, report: &Step) {
        self(report);
    }
}

/// An [`Observer`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl<Step, Epoch> Observer<Step, Epoch> for NoopObserver {}
