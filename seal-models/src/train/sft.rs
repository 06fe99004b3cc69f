//! Supervised fine-tuning as a resumable loop (DESIGN section 5): per-example response-only loss,
//! mean over an effective batch accumulated from micro-batches, global-norm clipping, Adam, a
//! constant or cosine-with-warm-up learning rate, a seeded order per epoch, and checkpoints at
//! epoch ends from which a resumed run continues bit for bit.
//!
//! The fine-tuning stage and the embedded world's pre-training both run through it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use seal_core::{Observer, TokenizedExample};
use seal_io::write_json_atomic;
use serde::{Deserialize, Serialize};

use super::adam::AdamSettings;
use super::batch::{grouped_losses, length_groups};
use super::step::{GradientStep, TrainStep};
use crate::checkpoint::{load_module, save_module};
use crate::error::{ModelError, Result};
use crate::llama::model::Llama;
use crate::loss::response_losses;

/// Learning-rate schedule over optimizer steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// The base rate throughout.
    Constant,
    /// Linear warm-up over the first `warmup_ratio` of all steps, then cosine decay to 0 at
    /// the last step (the usual HF `cosine` schedule).
    Cosine {
        /// Share of all optimizer steps spent warming up, in [0, 1).
        warmup_ratio: f64,
    },
}

impl LrSchedule {
    /// The multiplier of the base rate at optimizer step `step` (from 0) of `total`.
    pub fn factor(&self, step: u64, total: u64) -> f64 {
        match *self {
            Self::Constant => 1.0,
            Self::Cosine { warmup_ratio } => {
                let warmup_steps = (warmup_ratio * total as f64).ceil() as u64;
                if step < warmup_steps {
                    return (step + 1) as f64 / warmup_steps as f64;
                }
                let decay = total.saturating_sub(warmup_steps).max(1);
                let progress = (step - warmup_steps) as f64 / decay as f64;
                0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
            }
        }
    }
}

/// Settings of a fine-tuning run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftConfig {
    /// Passes over the data.
    pub epochs: u64,
    /// Examples per optimizer step (the effective batch).
    pub batch_size: usize,
    /// Examples per forward/backward pass; gradients accumulate up to `batch_size`.
    pub micro_batch_size: usize,
    /// Adam on the trainable parameters.
    pub adam: AdamSettings,
    /// Global L2 norm of the gradient is clipped to this (DESIGN: 1.0).
    pub clip_norm: f64,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// Seed of the per-epoch example order.
    pub seed: u64,
    /// Padding token id.
    pub pad_id: u32,
}

impl Default for SftConfig {
    fn default() -> Self {
        Self {
            epochs: 2,
            batch_size: 64,
            micro_batch_size: 8,
            adam: AdamSettings::default(),
            clip_norm: 1.0,
            schedule: LrSchedule::Constant,
            seed: 0,
            pad_id: 0,
        }
    }
}

impl SftConfig {
    /// Checks every setting before anything runs.
    ///
    /// # Errors
    /// [`ModelError::Setting`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, reason: &str| {
            Err(ModelError::Setting(format!(
                "fine-tuning setting `{field}`: {reason}"
            )))
        };
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.micro_batch_size == 0 {
            return bad("micro_batch_size", "must be at least 1");
        }
        if !(self.adam.lr.is_finite() && self.adam.lr > 0.0) {
            return bad("adam.lr", "must be a positive number");
        }
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return bad("clip_norm", "must be a positive number");
        }
        if let LrSchedule::Cosine { warmup_ratio } = self.schedule
            && !(0.0..1.0).contains(&warmup_ratio)
        {
            return bad("schedule.warmup_ratio", "must be in [0, 1)");
        }
        Ok(())
    }

    /// Optimizer steps per epoch over `n` examples.
    pub fn steps_per_epoch(&self, n: usize) -> u64 {
        n.div_ceil(self.batch_size) as u64
    }
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftEpochReport {
    /// The epoch (from 0).
    pub epoch: u64,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Mean per-example loss over the epoch (before each step's update).
    pub mean_loss: f64,
    /// Tokens processed (padding excluded).
    pub tokens: u64,
    /// Wall time of the epoch.
    pub wall_s: f64,
    /// Tokens per second.
    pub tokens_per_s: f64,
    /// Learning rate of the epoch's last step.
    pub lr_last: f64,
}

/// Progress of a run, saved beside the model in a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SftState {
    /// Completed epochs.
    pub epochs_done: u64,
    /// Optimizer steps taken so far.
    pub global_step: u64,
    /// One report per completed epoch.
    pub history: Vec<SftEpochReport>,
}

/// A fine-tuning run over tokenized examples.
pub struct Sft<B: AutodiffBackend> {
    config: SftConfig,
    model: Option<Llama<B>>,
    step: GradientStep<Llama<B>, B>,
    data: Vec<TokenizedExample>,
    state: SftState,
}

const MODEL_FILE: &str = "model.mpk";
const OPTIM_FILE: &str = "optimizer.mpk";
const STATE_FILE: &str = "state.json";

impl<B: AutodiffBackend> Sft<B> {
    /// A fresh run of `model` (its trainable parameters; LoRA-frozen ones stay fixed) on `data`.
    ///
    /// # Errors
    /// [`ModelError::Setting`] for an invalid config; [`ModelError::TrainingData`] for an empty
    /// dataset, or a row whose mask does not fit its tokens or that has no response token.
    pub fn new(model: Llama<B>, data: Vec<TokenizedExample>, config: SftConfig) -> Result<Self> {
        config.validate()?;
        if data.is_empty() {
            return Err(ModelError::TrainingData(
                "nothing to fine-tune on: the dataset is empty".into(),
            ));
        }
        if let Some(i) = data
            .iter()
            .position(|e| e.input_ids.len() != e.loss_mask.len() || !e.loss_mask.contains(&1))
        {
            return Err(ModelError::TrainingData(format!(
                "training row {i} has a loss mask that does not fit its tokens or no response token"
            )));
        }
        Ok(Self {
            step: GradientStep::new(config.adam.clone(), Some(config.clip_norm)),
            config,
            model: Some(model),
            data,
            state: SftState::default(),
        })
    }

    /// Continues a run from the checkpoint folder `dir` written by [`save_checkpoint`](Self::save_checkpoint):
    /// `skeleton` is a model of the same architecture (and LoRA layout), whose values are replaced.
    ///
    /// # Errors
    /// As [`new`](Self::new), and [`ModelError::Checkpoint`] if the checkpoint is unreadable or
    /// was made by a run with a different dataset size or more epochs than planned.
    pub fn resume(
        skeleton: Llama<B>,
        data: Vec<TokenizedExample>,
        config: SftConfig,
        dir: &Path,
        device: &B::Device,
    ) -> Result<Self> {
        let mut run = Self::new(skeleton, data, config)?;
        let state: SftState = read_run_state(dir)?;
        let steps = run.config.steps_per_epoch(run.data.len());
        check_progress(
            dir,
            (state.epochs_done, state.global_step, state.history.len()),
            run.config.epochs,
            steps,
        )?;
        let model = run.model.take().expect("set by new");
        run.model = Some(load_run_weights(dir, model, &mut run.step, device)?);
        run.state = state;
        Ok(run)
    }

    /// Writes the model, optimizer and progress into `dir` (created if needed; each file atomic,
    /// the state last, so a checkpoint whose state file exists is complete).
    ///
    /// # Errors
    /// [`ModelError::Io`] or [`ModelError::Checkpoint`].
    pub fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        save_run_checkpoint(dir, self.model(), &self.step, &self.state)
    }

    /// Whether every planned epoch has run.
    pub fn is_done(&self) -> bool {
        self.state.epochs_done >= self.config.epochs
    }

    /// Progress so far.
    pub fn state(&self) -> &SftState {
        &self.state
    }

    /// The settings.
    pub fn config(&self) -> &SftConfig {
        &self.config
    }

    /// The current model.
    pub fn model(&self) -> &Llama<B> {
        self.model
            .as_ref()
            .expect("the model is only taken inside a step")
    }

    /// Consumes the run, returning the model.
    pub fn into_model(mut self) -> Llama<B> {
        self.model.take().expect("the model is only taken inside a step")
    }

    /// Runs the next epoch, reporting every optimizer step and then the epoch to `observer`.
    ///
    /// # Errors
    /// [`ModelError::Finished`] once every epoch has run; [`ModelError::NonFiniteLoss`] naming the
    /// epoch and step (the model is then left as it was before that step).
    pub fn run_epoch(
        &mut self,
        observer: &mut dyn Observer<TrainStep, SftEpochReport>,
    ) -> Result<SftEpochReport> {
        if self.is_done() {
            return Err(ModelError::Finished {
                epochs: self.config.epochs,
            });
        }
        let started = Instant::now();
        let epoch = self.state.epochs_done;
        let n = self.data.len();
        let order = seal_core::epoch_order(self.config.seed, epoch, n);
        let steps = self.config.steps_per_epoch(n);
        let total_steps = steps * self.config.epochs;
        let (mut loss_sum, mut tokens, mut lr) = (0.0f64, 0u64, 0.0f64);
        for (step, batch) in order.chunks(self.config.batch_size).enumerate() {
            let step = step as u64;
            lr = self.config.adam.lr * self.config.schedule.factor(self.state.global_step, total_steps);
            let (batch_loss, batch_tokens) = self.step(batch, lr, epoch, step)?;
            loss_sum += batch_loss * batch.len() as f64;
            tokens += batch_tokens;
            observer.on_step(&TrainStep {
                epoch,
                step,
                steps,
                global_step: self.state.global_step,
                total_steps,
                loss: batch_loss,
                lr,
                tokens: batch_tokens,
            });
            self.state.global_step += 1;
        }
        let wall_s = started.elapsed().as_secs_f64();
        let report = SftEpochReport {
            epoch,
            steps,
            mean_loss: loss_sum / n as f64,
            tokens,
            wall_s,
            tokens_per_s: tokens as f64 / wall_s.max(1e-9),
            lr_last: lr,
        };
        self.state.history.push(report.clone());
        self.state.epochs_done += 1;
        observer.on_epoch(&report);
        Ok(report)
    }

    /// One optimizer step on the examples `batch`; returns their mean loss and token count.
    fn step(&mut self, batch: &[usize], lr: f64, epoch: u64, step: u64) -> Result<(f64, u64)> {
        let model = self
            .model
            .as_ref()
            .expect("the model is only taken inside a step");
        let (mut loss_sum, mut tokens) = (0.0f64, 0u64);
        for micro in batch.chunks(self.config.micro_batch_size) {
            let rows: Vec<&TokenizedExample> = micro.iter().map(|&i| &self.data[i]).collect();
            tokens += rows.iter().map(|r| r.input_ids.len() as u64).sum::<u64>();
            for group in length_groups(&rows, self.config.pad_id) {
                let rows = group.batch;
                let losses = response_losses(model, &rows.tokens, &rows.loss_mask)?;
                // Each example counts 1/|batch|, so accumulated micro-batches give the batch mean.
                let coef = vec![1.0 / batch.len() as f32; group.positions.len()];
                for v in self.step.backward_weighted(model, losses, &coef) {
                    if !v.is_finite() {
                        self.step.discard();
                        return Err(ModelError::NonFiniteLoss { loss: v, epoch, step });
                    }
                    loss_sum += f64::from(v);
                }
            }
        }
        let model = self.model.take().expect("the model is only taken inside a step");
        self.model = Some(self.step.apply(model, lr));
        Ok((loss_sum / batch.len() as f64, tokens))
    }
}

/// Mean response-only loss of each example under `model`, without building a graph (used for
/// evaluation and for the `loss-rank` baseline).
///
/// # Errors
/// Invalid rows.
pub fn example_losses<B: AutodiffBackend>(
    model: &Llama<B>,
    data: &[TokenizedExample],
    micro_batch_size: usize,
    pad_id: u32,
) -> Result<Vec<f32>> {
    let model = model.valid();
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks(micro_batch_size.max(1)) {
        let rows: Vec<&TokenizedExample> = chunk.iter().collect();
        out.extend(grouped_losses(&model, &length_groups(&rows, pad_id), rows.len())?);
    }
    Ok(out)
}

/// Writes a trainer's checkpoint into `dir` (created if needed): the model, its optimizer, then
/// the trainer's progress `state`, each file atomic and the state last, so a checkpoint whose
/// state file exists is complete ([`latest_checkpoint`] looks for it).
pub(super) fn save_run_checkpoint<B: AutodiffBackend>(
    dir: &Path,
    model: &Llama<B>,
    step: &GradientStep<Llama<B>, B>,
    state: &impl Serialize,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    save_module(model, &dir.join(MODEL_FILE))?;
    step.save(&dir.join(OPTIM_FILE))?;
    let state = serde_json::to_value(state).expect("state serialises");
    write_json_atomic(&dir.join(STATE_FILE), &state)?;
    Ok(())
}

/// Checks that a checkpoint's progress `(epochs done, global step, epoch reports)` fits a run
/// of `epochs` epochs of `steps` steps each.
pub(super) fn check_progress(
    dir: &Path,
    (epochs_done, global_step, reports): (u64, u64, usize),
    epochs: u64,
    steps: u64,
) -> Result<()> {
    if epochs_done > epochs || global_step != epochs_done * steps || reports as u64 != epochs_done {
        return Err(ModelError::Checkpoint {
            path: dir.to_path_buf(),
            reason: format!(
                "it holds {epochs_done} epochs / {global_step} steps, which does not fit {epochs} epochs \
                 of {steps} steps (was it made with other data or settings?)"
            ),
        });
    }
    Ok(())
}

/// The progress state of a checkpoint written by [`save_run_checkpoint`].
pub(super) fn read_run_state<S: serde::de::DeserializeOwned>(dir: &Path) -> Result<S> {
    let state_path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&state_path).map_err(|e| ModelError::io(&state_path, e))?;
    serde_json::from_str(&text).map_err(|source| ModelError::Json {
        path: state_path.clone(),
        source,
    })
}

/// The model and optimizer state of a checkpoint written by [`save_run_checkpoint`], loaded
/// into `skeleton` (same architecture) and `step`.
pub(super) fn load_run_weights<B: AutodiffBackend>(
    dir: &Path,
    skeleton: Llama<B>,
    step: &mut GradientStep<Llama<B>, B>,
    device: &B::Device,
) -> Result<Llama<B>> {
    let model = load_module(skeleton, &dir.join(MODEL_FILE), device)?;
    step.load(&dir.join(OPTIM_FILE), device)?;
    Ok(model)
}

/// The checkpoint folder of epoch `epoch` (from 0) under `root`: `root/epoch-0001` for the first.
pub fn epoch_dir(root: &Path, epoch: u64) -> PathBuf {
    root.join(format!("epoch-{:04}", epoch + 1))
}

/// The last complete checkpoint under `root` (the highest `epoch-NNNN` holding a state file).
pub fn latest_checkpoint(root: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("epoch-"))
                && p.join(STATE_FILE).is_file()
        })
        .collect();
    found.sort();
    found.pop()
}
