//! The accumulate-clip-step routine every trainer of seal shares: fine-tuning
//! ([`Sft`](super::Sft)), the bilevel objective ([`LlamaObjective`](super::LlamaObjective)) and
//! the reward model's Bradley–Terry loop (seal-eval). Each pass's backward goes into one
//! accumulated gradient; [`GradientStep::apply`] clips it by its global norm (where the trainer
//! clips) and takes one Adam step. The optimizer state lives here, so a checkpoint saves it
//! with [`GradientStep::save`] and a resumed run continues bit for bit.

use std::path::Path;

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor, TensorData};

use super::adam::{AdamSettings, ModelOptimizer};
use super::batch::TrainBatch;
use crate::backend::host_f32;
use crate::checkpoint::{load_optimizer, save_optimizer};
use crate::error::Result;
use crate::llama::model::Llama;
use crate::loss::response_losses;

/// Gradients accumulated over the passes of one optimizer step, and the optimizer that takes it.
pub struct GradientStep<M: AutodiffModule<B>, B: AutodiffBackend> {
    adam: AdamSettings,
    clip_norm: Option<f64>,
    optim: ModelOptimizer<M, B>,
    grads: GradientsAccumulator<M>,
}

impl<M: AutodiffModule<B>, B: AutodiffBackend> GradientStep<M, B> {
    /// A fresh optimizer with `adam`'s settings; `clip_norm`, where given, is the global L2
    /// norm every accumulated gradient is clipped to before its step.
    pub fn new(adam: AdamSettings, clip_norm: Option<f64>) -> Self {
        Self {
            optim: adam.optimizer(),
            grads: GradientsAccumulator::new(),
            adam,
            clip_norm,
        }
    }

    /// The same settings with a fresh optimizer state and nothing accumulated (Algorithm 1's θ̂
    /// gets its own).
    pub fn fresh(&self) -> Self {
        Self::new(self.adam.clone(), self.clip_norm)
    }

    /// Adds the gradient of the scalar `loss` (one element) with respect to `model`.
    pub fn backward(&mut self, model: &M, loss: Tensor<B, 1>) {
        let grads = GradientsParams::from_grads(loss.backward(), model);
        self.grads.accumulate(model, grads);
    }

    /// Adds the gradient of `Σ_i coef_i · losses_i` and returns the per-example losses, detached,
    /// on the host: one backward for a pass of rows whatever each row's weight.
    pub fn backward_weighted(&mut self, model: &M, losses: Tensor<B, 1>, coef: &[f32]) -> Vec<f32> {
        let coef = Tensor::<B, 1>::from_data(TensorData::new(coef.to_vec(), [coef.len()]), &losses.device());
        self.backward(model, (losses.clone() * coef).sum());
        host_f32(losses.inner())
    }

    /// Drops what was accumulated since the last step (a step abandoned part-way).
    pub fn discard(&mut self) {
        self.grads = GradientsAccumulator::new();
    }

    /// Clips the accumulated gradient (if this step clips), takes one optimizer step at rate
    /// `lr`, and starts the next accumulation; returns the updated model.
    pub fn apply(&mut self, model: M, lr: f64) -> M {
        let mut grads = self.grads.grads();
        if let Some(max_norm) = self.clip_norm {
            clip_global_norm(&model, &mut grads, max_norm);
        }
        self.optim.step(lr, model, grads)
    }

    /// Writes the optimizer state to `path` (atomically).
    ///
    /// # Errors
    /// [`crate::ModelError::Io`] or [`crate::ModelError::Checkpoint`].
    pub fn save(&self, path: &Path) -> Result<()> {
        save_optimizer::<B, M, _>(&self.optim, path)
    }

    /// Restores the optimizer state written by [`save`](Self::save).
    ///
    /// # Errors
    /// [`crate::ModelError::Io`] or [`crate::ModelError::Checkpoint`].
    pub fn load(&mut self, path: &Path, device: &B::Device) -> Result<()> {
        let optim = std::mem::replace(&mut self.optim, self.adam.optimizer());
        self.optim = load_optimizer::<B, M, _>(optim, path, device)?;
        Ok(())
    }
}

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

/// One unclipped step on the mean per-example loss of `batch` (the `seal bench train-step`
/// loop); returns the updated model and the loss.
///
/// # Errors
/// Invalid batches ([`crate::ModelError::Batch`]).
pub fn sft_step<B: AutodiffBackend>(
    model: Llama<B>,
    step: &mut GradientStep<Llama<B>, B>,
    batch: &TrainBatch,
    lr: f64,
) -> Result<(Llama<B>, f32)> {
    let loss = response_losses(&model, &batch.tokens, &batch.loss_mask)?.mean();
    step.backward(&model, loss.clone());
    let value = loss.into_scalar().elem::<f32>();
    Ok((step.apply(model, lr), value))
}

/// Scales all gradients by `min(1, max_norm / (‖g‖ + 1e-6))`, ‖g‖ the L2 norm over every
/// parameter together, as `torch.nn.utils.clip_grad_norm_` does. Burn's own clipping works per
/// parameter, which is not the reference's rule. Returns the norm before clipping.
pub fn clip_global_norm<B: AutodiffBackend, M: Module<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    struct SquaredNorm<'a, B: AutodiffBackend> {
        grads: &'a GradientsParams,
        total: f64,
        _b: std::marker::PhantomData<B>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                // One host sync per parameter tensor: cheap beside a training step.
                self.total += f64::from(g.square().sum().into_scalar().elem::<f32>());
            }
        }
    }
    struct Scale<'a, B: AutodiffBackend> {
        grads: &'a mut GradientsParams,
        factor: f64,
        _b: std::marker::PhantomData<B>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.grads.register(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    let mut norm = SquaredNorm::<B> {
        grads,
        total: 0.0,
        _b: std::marker::PhantomData,
    };
    model.visit(&mut norm);
    let total = norm.total.sqrt();
    let factor = max_norm / (total + 1e-6);
    if factor < 1.0 {
        let mut scale = Scale::<B> {
            grads,
            factor,
            _b: std::marker::PhantomData,
        };
        model.visit(&mut scale);
    }
    total
}
