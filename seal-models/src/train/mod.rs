//! The training toolkit: what every loop that trains a model shares, and the two Llama trainers.
//!
//! - [`adam`]: the model optimizer (Adam with the reference's settings; on CPU one host pass
//!   per parameter).
//! - [`batch`]: right-padded [`TrainBatch`]es and the [`length_groups`] a micro-batch is cut
//!   into, so real data does not pay for padding.
//! - [`step`]: [`GradientStep`], the accumulate-clip-step routine (each pass's backward added to
//!   one gradient, global-norm clipping, one optimizer step) and its optimizer state.
//! - [`sft`]: supervised fine-tuning as a resumable loop; [`preference`]: DPO on pairs of
//!   answers, the same loop over a preference loss; [`objective`]: the bilevel loop's model side
//!   (seal-core's `BilevelModel` over D_safe and D_ft).
//!
//! The reward model's Bradley–Terry loop (seal-eval) steps through the same [`GradientStep`].
//! Trainers report each optimizer step as a [`TrainStep`] to seal-core's
//! [`Observer`](seal_core::Observer), the trait the bilevel loop reports through.

pub mod adam;
pub mod batch;
pub mod objective;
pub mod preference;
pub mod sft;
pub mod step;

pub use adam::{AdamSettings, HostAdam, ModelOptimizer};
pub use batch::{LengthGroup, TrainBatch, eval_losses, grouped_losses, length_groups};
pub use objective::{LlamaObjective, ObjectiveSettings, fork};
pub use preference::{Dpo, PreferenceConfig, PreferenceEpochReport, PreferenceState, TokenizedPair};
pub use sft::{LrSchedule, Sft, SftConfig, SftEpochReport, SftState, example_losses};
pub use step::{GradientStep, TrainStep, clip_global_norm, sft_step};
