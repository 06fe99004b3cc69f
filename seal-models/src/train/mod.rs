//! The training toolkit: what every loop that trains a model shares, and the two Llama trainers.
//!
//! - [`adam`]: the model optimizer (Adam with the reference's settings; on CPU one host pass
//!   per parameter).
//! - [`batch`]: right-padded [`TrainBatch`]es and the [`length_groups`] a micro-batch is cut
//!   into, so real data does not pay for padding.
//! - [`step`]: [`GradientStep`], the accumulate-clip-step routine (each pass's backward added to
//!   one gradient, global-norm clipping, one optimizer step) and its optimizer state.
//! - [`sft`]: supervised fine-tuning as a resumable loop; [`objective`]: the bilevel loop's
//!   model side (seal-core's `BilevelModel` over D_safe and D_ft).
//!
//! The reward model's Bradley–Terry loop (seal-eval) steps through the same [`GradientStep`].
//! Trainers report each optimizer step as a [`TrainStep`] to seal-core's
//! [`Observer`](seal_core::Observer), the trait the bilevel loop reports through.

pub mod adam;
pub mod batch;
pub mod objective;
pub mod sft;
pub mod step;

pub use adam::{AdamSettings, HostAdam, ModelOptimizer};
pub use batch::{LengthGroup, TrainBatch, eval_losses, grouped_losses, length_groups};
pub use objective::{LlamaObjective, ObjectiveSettings, fork};
pub use sft::{LrSchedule, Sft, SftConfig, SftEpochReport, SftState, example_losses};
pub use step::{GradientStep, clip_global_norm, sft_step};

/// One optimizer step of a model trainer (fine-tuning, the reward model), as its observer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainStep {
    /// The epoch (from 0).
    pub epoch: u64,
    /// The step within the epoch (from 0).
    pub step: u64,
    /// Steps per epoch.
    pub steps: u64,
    /// The optimizer step counted across epochs (from 0).
    pub global_step: u64,
    /// Steps of the whole run.
    pub total_steps: u64,
    /// Mean loss of the step's batch (before its update).
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Tokens of the step's batch (padding excluded).
    pub tokens: u64,
}
