//! The Llama side of the bilevel loop: [`LlamaObjective`] implements seal-core's
//! [`BilevelModel`] over tokenized D_safe and D_ft, stepping through the shared
//! [`GradientStep`] (accumulation, global-norm clipping, Adam: DESIGN section 3), and [`fork`]
//! for Algorithm 1's θ̂.

use std::sync::Arc;

use burn::module::{AutodiffModule, Module, ModuleMapper, Param, ParamId};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use seal_core::{BilevelModel, MicroBatch, MicroLosses, TokenizedExample};

use super::adam::AdamSettings;
use super::batch::{LengthGroup, grouped_losses, length_groups};
use super::step::GradientStep;
use crate::error::{ModelError, Result};
use crate::llama::model::Llama;
use crate::loss::response_losses;

/// Model optimizer settings of the bilevel loop.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveSettings {
    /// Adam on θ.
    pub adam: AdamSettings,
    /// Global L2 norm the accumulated gradient is clipped to (DESIGN: 1.0).
    pub clip_norm: f64,
    /// Padding id of the tokenizer.
    pub pad_id: u32,
}

impl Default for ObjectiveSettings {
    fn default() -> Self {
        Self {
            adam: AdamSettings::default(),
            clip_norm: 1.0,
            pad_id: 0,
        }
    }
}

/// A Llama with its data and optimizer, as the bilevel loop drives it.
pub struct LlamaObjective<B: AutodiffBackend> {
    model: Option<Llama<B>>,
    step: GradientStep<Llama<B>, B>,
    safe: Arc<Vec<TokenizedExample>>,
    ft: Arc<Vec<TokenizedExample>>,
    settings: ObjectiveSettings,
}

impl<B: AutodiffBackend> LlamaObjective<B> {
    /// Wraps `model` with D_safe, D_ft and a fresh optimizer.
    pub fn new(
        model: Llama<B>,
        safe: Vec<TokenizedExample>,
        ft: Vec<TokenizedExample>,
        settings: ObjectiveSettings,
    ) -> Self {
        Self {
            model: Some(model),
            step: GradientStep::new(settings.adam.clone(), Some(settings.clip_norm)),
            safe: Arc::new(safe),
            ft: Arc::new(ft),
            settings,
        }
    }

    /// The current model.
    pub fn model(&self) -> &Llama<B> {
        self.model.as_ref().expect("the model is only taken inside apply")
    }

    /// Consumes the objective, returning the model.
    pub fn into_model(mut self) -> Llama<B> {
        self.model.take().expect("the model is only taken inside apply")
    }

    /// Writes the model and its optimizer state into `dir` (created if needed; each file
    /// atomic) so [`load_checkpoint`](Self::load_checkpoint) continues bit for bit.
    ///
    /// # Errors
    /// [`ModelError::Io`] or [`ModelError::Checkpoint`].
    pub fn save_checkpoint(&self, dir: &std::path::Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        crate::checkpoint::save_module(self.model(), &dir.join("model.mpk"))?;
        self.step.save(&dir.join("optimizer.mpk"))
    }

    /// Restores the model and optimizer state written by [`save_checkpoint`](Self::save_checkpoint)
    /// into this objective (whose model must have the same architecture).
    ///
    /// # Errors
    /// [`ModelError::Io`] or [`ModelError::Checkpoint`].
    pub fn load_checkpoint(&mut self, dir: &std::path::Path, device: &B::Device) -> Result<()> {
        let model = self.model.take().expect("the model is only taken inside apply");
        let model = crate::checkpoint::load_module(model, &dir.join("model.mpk"), device)?;
        self.model = Some(model);
        self.step.load(&dir.join("optimizer.mpk"), device)
    }

    /// The rows of `indices` in `set` (`name` for errors), grouped by length.
    fn rows(&self, set: &[TokenizedExample], indices: &[usize], name: &str) -> Result<Vec<LengthGroup>> {
        let rows = indices
            .iter()
            .map(|&i| {
                set.get(i).ok_or_else(|| {
                    ModelError::Batch(format!("index {i} is outside {name} of {} examples", set.len()))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(length_groups(&rows, self.settings.pad_id))
    }

    /// One forward and backward per length group of the rows, with per-row loss coefficients;
    /// accumulates the gradients and returns the detached per-example losses in row order.
    fn pass(&mut self, groups: &[LengthGroup], coef: &[f32]) -> Result<Vec<f32>> {
        let model = self.model.as_ref().expect("the model is only taken inside apply");
        let mut out = vec![0.0f32; coef.len()];
        for group in groups {
            let rows = &group.batch;
            let losses = response_losses(model, &rows.tokens, &rows.loss_mask)?;
            let c: Vec<f32> = group.positions.iter().map(|&p| coef[p]).collect();
            for (&p, loss) in group
                .positions
                .iter()
                .zip(self.step.backward_weighted(model, losses, &c))
            {
                out[p] = loss;
            }
        }
        Ok(out)
    }
}

impl<B: AutodiffBackend> BilevelModel for LlamaObjective<B> {
    type Error = ModelError;

    fn safe_len(&self) -> usize {
        self.safe.len()
    }

    fn ft_len(&self) -> usize {
        self.ft.len()
    }

    fn tokens(&self, safe: &[usize], ft: &[usize]) -> Option<u64> {
        let count = |set: &[TokenizedExample], at: &[usize]| -> u64 {
            at.iter()
                .filter_map(|&i| set.get(i))
                .map(|e| e.input_ids.len() as u64)
                .sum()
        };
        Some(count(&self.safe, safe) + count(&self.ft, ft))
    }

    fn accumulate(&mut self, batch: &MicroBatch<'_>) -> Result<MicroLosses> {
        if batch.ft.len() != batch.ft_weights.len() {
            return Err(ModelError::Batch(format!(
                "{} fine-tuning examples with {} weights",
                batch.ft.len(),
                batch.ft_weights.len()
            )));
        }
        // Safe and fine-tuning rows go through separate passes, each backward right after its
        // forward, so only one micro-batch of activations is alive at a time: Algorithm 2 then
        // costs SFT's activation memory plus the selector (issue 4's memory goal).
        let mut out = MicroLosses::default();
        if !batch.safe.is_empty() {
            let safe = Arc::clone(&self.safe);
            let rows = self.rows(&safe, batch.safe, "D_safe")?;
            let coef = vec![(batch.safe_coef / batch.safe.len() as f64) as f32; batch.safe.len()];
            out.safe = self.pass(&rows, &coef)?;
        }
        if !batch.ft.is_empty() {
            let ft = Arc::clone(&self.ft);
            let rows = self.rows(&ft, batch.ft, "D_ft")?;
            let n = batch.ft.len() as f64;
            out.ft = if batch.ft_coef == 0.0 {
                // The term contributes nothing to θ's gradient (λ = 1, e.g. epoch 0 of the
                // `reference` schedule): its losses, for the selector, come from a forward
                // without a graph, the same numbers without the backward.
                grouped_losses(&self.model().valid(), &rows, batch.ft.len())?
            } else {
                let coef: Vec<f32> = batch
                    .ft_weights
                    .iter()
                    .map(|&w| (batch.ft_coef * f64::from(w) / n) as f32)
                    .collect();
                self.pass(&rows, &coef)?
            };
        }
        Ok(out)
    }

    fn apply(&mut self) -> Result<()> {
        let model = self.model.take().expect("the model is only taken inside apply");
        self.model = Some(self.step.apply(model, self.settings.adam.lr));
        Ok(())
    }

    fn fork(&self) -> Result<Self> {
        Ok(Self {
            model: Some(fork(self.model())),
            step: self.step.fresh(),
            safe: Arc::clone(&self.safe),
            ft: Arc::clone(&self.ft),
            settings: self.settings.clone(),
        })
    }
}

/// An independent copy of `model` for Algorithm 1's auxiliary θ̂ (DESIGN section 9): fresh
/// `ParamId`s, so an optimizer keyed by them keeps separate state, and fresh autodiff leaves,
/// so gradients of one never reach the other. `Module::clone` shares both.
pub fn fork<B: Backend>(model: &Llama<B>) -> Llama<B> {
    struct Fork;
    impl<B: Backend> ModuleMapper<B> for Fork {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (_, tensor, _) = param.consume();
            let trainable = tensor.is_require_grad();
            Param::initialized(ParamId::new(), tensor.detach().set_require_grad(trainable))
        }
    }
    model.clone().map(&mut Fork)
}
