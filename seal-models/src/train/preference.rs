//! Direct preference optimisation (DPO; Rafailov et al., 2023) of a Llama on pairs of answers to
//! the same request, one preferred (`chosen`) and one not (`rejected`):
//!
//! ```text
//! ℓ_DPO = −log σ( β · [ (log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r)) ] )
//! ```
//!
//! with log π(·) the summed log-probability of the response tokens under the model being
//! trained and π_ref the model as it started (its log-probabilities computed once, before the
//! first step, and recomputed the same way on resume). SFT on demonstrations can only raise the
//! probability of answers; a pair raises one answer *against* another for the same request, the
//! signal that separates a request to refuse from its benign twin.
//!
//! The loss is a mean over the pairs of an effective batch, accumulated from micro-batches of
//! pairs (chosen and rejected rows of a micro-batch in one graph), with global-norm clipping and
//! Adam through [`GradientStep`], a seeded order per epoch and checkpoints at epoch ends from
//! which a resumed run continues bit for bit, as fine-tuning ([`super::sft`]).

use std::path::Path;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::activation::log_sigmoid;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use seal_core::{Observer, TokenizedExample};
use serde::{Deserialize, Serialize};

use super::adam::AdamSettings;
use super::batch::{grouped_losses, length_groups};
use super::sft::{check_progress, load_run_weights, read_run_state, save_run_checkpoint};
use super::step::{GradientStep, TrainStep};
use crate::backend::host_f32;
use crate::error::{ModelError, Result};
use crate::llama::model::Llama;
use crate::loss::response_losses;

/// Settings of a preference run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreferenceConfig {
    /// Passes over the pairs.
    pub epochs: u64,
    /// Pairs per optimizer step.
    pub batch_size: usize,
    /// Pairs per forward/backward pass (twice as many rows).
    pub micro_batch_size: usize,
    /// Adam on the trainable parameters (a constant rate).
    pub adam: AdamSettings,
    /// Global L2 norm of the gradient is clipped to this.
    pub clip_norm: f64,
    /// β, the strength of the pull back to the starting model (DPO's usual 0.1).
    pub beta: f64,
    /// Seed of the per-epoch pair order.
    pub seed: u64,
    /// Padding token id.
    pub pad_id: u32,
}

impl Default for PreferenceConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 16,
            micro_batch_size: 4,
            adam: AdamSettings {
                lr: 2e-6,
                ..AdamSettings::default()
            },
            clip_norm: 1.0,
            beta: 0.1,
            seed: 0,
            pad_id: 0,
        }
    }
}

impl PreferenceConfig {
    /// Checks every setting before anything runs.
    ///
    /// # Errors
    /// [`ModelError::Setting`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, reason: &str| {
            Err(ModelError::Setting(format!(
                "preference setting `{field}`: {reason}"
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
        if !(self.beta.is_finite() && self.beta > 0.0) {
            return bad("beta", "must be a positive number");
        }
        Ok(())
    }

    /// Optimizer steps per epoch over `n` pairs.
    pub fn steps_per_epoch(&self, n: usize) -> u64 {
        n.div_ceil(self.batch_size) as u64
    }
}

/// Two tokenized answers to one prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedPair {
    /// The preferred answer.
    pub chosen: TokenizedExample,
    /// The other.
    pub rejected: TokenizedExample,
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreferenceEpochReport {
    /// The epoch (from 0).
    pub epoch: u64,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Mean DPO loss over the epoch's pairs (before each step's update).
    pub mean_loss: f64,
    /// Share of pairs whose chosen answer gained more over the start than the rejected one
    /// (a positive margin), before each step's update.
    pub accuracy: f64,
    /// Mean margin β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))].
    pub mean_margin: f64,
    /// Tokens processed (padding excluded).
    pub tokens: u64,
    /// Wall time of the epoch.
    pub wall_s: f64,
}

/// Progress of a run, saved beside the model in a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreferenceState {
    /// Completed epochs.
    pub epochs_done: u64,
    /// Optimizer steps taken so far.
    pub global_step: u64,
    /// One report per completed epoch.
    pub history: Vec<PreferenceEpochReport>,
}

/// A DPO run over tokenized pairs.
pub struct Dpo<B: AutodiffBackend> {
    config: PreferenceConfig,
    model: Option<Llama<B>>,
    step: GradientStep<Llama<B>, B>,
    pairs: Vec<TokenizedPair>,
    /// log π_ref(chosen) − log π_ref(rejected) of each pair.
    reference: Vec<f64>,
    state: PreferenceState,
}

impl<B: AutodiffBackend> Dpo<B> {
    /// A fresh run of `model` on `pairs`; `model` is also the reference π_ref.
    ///
    /// # Errors
    /// [`ModelError::Setting`] for an invalid config; [`ModelError::TrainingData`] for no pairs,
    /// or an answer whose mask does not fit its tokens or that has no response token.
    pub fn new(model: Llama<B>, pairs: Vec<TokenizedPair>, config: PreferenceConfig) -> Result<Self> {
        config.validate()?;
        if pairs.is_empty() {
            return Err(ModelError::TrainingData(
                "nothing to train on: there are no preference pairs".into(),
            ));
        }
        let bad_row =
            |e: &TokenizedExample| e.input_ids.len() != e.loss_mask.len() || !e.loss_mask.contains(&1);
        if let Some(i) = pairs
            .iter()
            .position(|p| bad_row(&p.chosen) || bad_row(&p.rejected))
        {
            return Err(ModelError::TrainingData(format!(
                "preference pair {i} has an answer whose loss mask does not fit its tokens or has no \
                 response token"
            )));
        }
        let reference = reference_margins(&model, &pairs, &config)?;
        Ok(Self {
            step: GradientStep::new(config.adam.clone(), Some(config.clip_norm)),
            config,
            model: Some(model),
            pairs,
            reference,
            state: PreferenceState::default(),
        })
    }

    /// Continues a run from the checkpoint folder `dir` written by
    /// [`save_checkpoint`](Self::save_checkpoint): `start` is the model the run started from
    /// (it is the reference again), whose values are then replaced by the checkpoint's.
    ///
    /// # Errors
    /// As [`new`](Self::new), and [`ModelError::Checkpoint`] if the checkpoint is unreadable or
    /// was made by a run with another number of pairs or more epochs than planned.
    pub fn resume(
        start: Llama<B>,
        pairs: Vec<TokenizedPair>,
        config: PreferenceConfig,
        dir: &Path,
        device: &B::Device,
    ) -> Result<Self> {
        let mut run = Self::new(start, pairs, config)?;
        let state: PreferenceState = read_run_state(dir)?;
        let steps = run.config.steps_per_epoch(run.pairs.len());
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

    /// Writes the model, optimizer and progress into `dir` (each file atomic, the state last).
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
    pub fn state(&self) -> &PreferenceState {
        &self.state
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
        observer: &mut dyn Observer<TrainStep, PreferenceEpochReport>,
    ) -> Result<PreferenceEpochReport> {
        if self.is_done() {
            return Err(ModelError::Finished {
                epochs: self.config.epochs,
            });
        }
        let started = Instant::now();
        let epoch = self.state.epochs_done;
        let n = self.pairs.len();
        let order = seal_core::epoch_order(self.config.seed, epoch, n);
        let steps = self.config.steps_per_epoch(n);
        let total_steps = steps * self.config.epochs;
        let mut totals = BatchTotals::default();
        for (step, batch) in order.chunks(self.config.batch_size).enumerate() {
            let step = step as u64;
            let lr = self.config.adam.lr;
            let batch_totals = self.step(batch, lr, epoch, step)?;
            observer.on_step(&TrainStep {
                epoch,
                step,
                steps,
                global_step: self.state.global_step,
                total_steps,
                loss: batch_totals.loss / batch.len() as f64,
                lr,
                tokens: batch_totals.tokens,
            });
            totals.add(&batch_totals);
            self.state.global_step += 1;
        }
        let report = PreferenceEpochReport {
            epoch,
            steps,
            mean_loss: totals.loss / n as f64,
            accuracy: totals.correct as f64 / n as f64,
            mean_margin: totals.margin / n as f64,
            tokens: totals.tokens,
            wall_s: started.elapsed().as_secs_f64(),
        };
        self.state.history.push(report.clone());
        self.state.epochs_done += 1;
        observer.on_epoch(&report);
        Ok(report)
    }

    /// One optimizer step on the pairs `batch`.
    fn step(&mut self, batch: &[usize], lr: f64, epoch: u64, step: u64) -> Result<BatchTotals> {
        let model = self
            .model
            .as_ref()
            .expect("the model is only taken inside a step");
        let beta = self.config.beta;
        let mut totals = BatchTotals::default();
        for micro in batch.chunks(self.config.micro_batch_size) {
            let m = micro.len();
            let rows: Vec<&TokenizedExample> = micro
                .iter()
                .map(|&i| &self.pairs[i].chosen)
                .chain(micro.iter().map(|&i| &self.pairs[i].rejected))
                .collect();
            totals.tokens += rows.iter().map(|r| r.input_ids.len() as u64).sum::<u64>();
            let logps = sequence_logps(model, &rows, self.config.pad_id)?;
            let device = logps.device();
            let reference: Vec<f32> = micro.iter().map(|&i| self.reference[i] as f32).collect();
            let reference = Tensor::<B, 1>::from_data(TensorData::new(reference, [m]), &device);
            let margin = (logps.clone().narrow(0, 0, m) - logps.narrow(0, m, m) - reference).mul_scalar(beta);
            let losses = log_sigmoid(margin.clone()).neg();
            // Each pair counts 1/|batch|, so accumulated micro-batches give the batch mean.
            let coef = vec![1.0 / batch.len() as f32; m];
            let values = self.step.backward_weighted(model, losses, &coef);
            for (v, g) in values.into_iter().zip(host_f32(margin.inner())) {
                if !v.is_finite() {
                    self.step.discard();
                    return Err(ModelError::NonFiniteLoss { loss: v, epoch, step });
                }
                totals.loss += f64::from(v);
                totals.margin += f64::from(g);
                totals.correct += u64::from(g > 0.0);
            }
        }
        let model = self.model.take().expect("the model is only taken inside a step");
        self.model = Some(self.step.apply(model, lr));
        Ok(totals)
    }
}

/// Sums over a batch's pairs.
#[derive(Debug, Default)]
struct BatchTotals {
    loss: f64,
    margin: f64,
    correct: u64,
    tokens: u64,
}

impl BatchTotals {
    fn add(&mut self, other: &Self) {
        self.loss += other.loss;
        self.margin += other.margin;
        self.correct += other.correct;
        self.tokens += other.tokens;
    }
}

/// Response tokens of a row: the targets its loss counts (DESIGN section 2).
fn response_tokens(row: &TokenizedExample) -> usize {
    row.loss_mask.iter().skip(1).filter(|&&m| m != 0).count()
}

/// log π of each row's response (the summed log-probability of its response tokens), in row
/// order, with the graph of `model` (rows in length groups, put back in order).
///
/// # Errors
/// Invalid rows.
pub fn sequence_logps<B: Backend>(
    model: &Llama<B>,
    rows: &[&TokenizedExample],
    pad_id: u32,
) -> Result<Tensor<B, 1>> {
    let groups = length_groups(rows, pad_id);
    let mut parts = Vec::with_capacity(groups.len());
    let mut position_of = vec![0i64; rows.len()];
    let mut at = 0i64;
    for group in &groups {
        let losses = response_losses(model, &group.batch.tokens, &group.batch.loss_mask)?;
        // The loss is a per-token mean: times the token count, it is −log π.
        let counts: Vec<f32> = group
            .positions
            .iter()
            .map(|&p| -(response_tokens(rows[p]) as f32))
            .collect();
        let counts =
            Tensor::<B, 1>::from_data(TensorData::new(counts, [group.positions.len()]), &losses.device());
        parts.push(losses * counts);
        for &p in &group.positions {
            position_of[p] = at;
            at += 1;
        }
    }
    let device = parts[0].device();
    let order = Tensor::<B, 1, Int>::from_data(TensorData::new(position_of, [rows.len()]), &device);
    Ok(Tensor::cat(parts, 0).select(0, order))
}

/// log π_ref(chosen) − log π_ref(rejected) of every pair, without a graph.
fn reference_margins<B: AutodiffBackend>(
    model: &Llama<B>,
    pairs: &[TokenizedPair],
    config: &PreferenceConfig,
) -> Result<Vec<f64>> {
    let model = model.valid();
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(config.micro_batch_size) {
        let rows: Vec<&TokenizedExample> = chunk
            .iter()
            .map(|p| &p.chosen)
            .chain(chunk.iter().map(|p| &p.rejected))
            .collect();
        let losses = grouped_losses(&model, &length_groups(&rows, config.pad_id), rows.len())?;
        let logp = |k: usize| -f64::from(losses[k]) * response_tokens(rows[k]) as f64;
        out.extend((0..chunk.len()).map(|k| logp(k) - logp(chunk.len() + k)));
    }
    Ok(out)
}
