//! The bilevel training loop: Algorithms 1 and 2 of DESIGN section 3 over any [`BilevelModel`].
//!
//! One optimizer step takes an effective batch of `batch_size` fine-tuning examples F (ids I) and
//! as many safe examples S, split into micro-batches of `micro_batch_size`. Each micro-batch is one
//! forward and backward of the model, whose per-example losses also feed the selector, so the model
//! and the selector step in lock-step, once per effective batch. γ_t comes from the penalty
//! schedule (section 4) and the model's loss is `λ·f_S + (1 − λ)·g_F` with `λ = 1/(1 + γ_t)`.
//!
//! [`Bilevel`] owns the selector, its optimizer state, the model and (Algorithm 1) θ̂. The batch
//! order is a pure function of the seed and the epoch, so [`Bilevel::state`] written at the end of
//! an epoch and [`Bilevel::from_state`] resume a run bit-for-bit (given the model's own checkpoint).

mod alg1;
mod alg2;
mod batches;

pub use batches::epoch_order;

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::ids::ExampleId;
use crate::objective::{BilevelModel, MicroBatch};
use crate::observe::{EpochReport, Observer, StepReport};
use crate::optim::{OptimizerState, SelectorOptimizer};
use crate::schedule::PenaltySchedule;
use crate::selection::Selection;
use crate::selector::{Selector, SoftmaxScope, WeightKind};

fn default_inner_steps() -> usize {
    1
}

/// Which bilevel algorithm trains the selector (DESIGN section 3). In TOML:
/// `algorithm = { kind = "alg1", inner_steps = 1 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Algorithm {
    /// Algorithm 2, memory-efficient (one model; the reference's default): the selector's
    /// coefficients are θ's per-example losses ℓ_F.
    Alg2 {},
    /// Algorithm 1, with an auxiliary model θ̂ ≈ θ*(ω) (a second copy of the model with its own
    /// optimizer): the coefficients are ℓ_F(θ) − ℓ_F(θ̂).
    Alg1 {
        /// θ̂'s optimizer steps per outer step, ≥ 1; default 1. Every inner step reuses the outer
        /// step's micro-batches.
        #[serde(default = "default_inner_steps")]
        inner_steps: usize,
        /// Multiply the selector gradient by the penalty's factor c(γ)·γ = γ/(1 + γ); default
        /// false. Adam normalises the factor away, and with it ω stays frozen while γ = 0.
        #[serde(default)]
        keep_penalty_factor: bool,
        /// When θ̂'s losses ℓ̂_F are measured; default `before` its inner steps (see [`AuxLoss`]).
        #[serde(default, skip_serializing_if = "AuxLoss::is_before")]
        aux_loss: AuxLoss,
    },
}

/// When Algorithm 1 measures θ̂'s per-example losses ℓ̂_F, the second term of the selector's
/// coefficients ℓ_F(θ) − ℓ̂_F(θ̂). In TOML: `algorithm = { kind = "alg1", aux_loss = "after" }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuxLoss {
    /// From θ̂'s first forward of the step, before it steps (the default, and this loop's
    /// behaviour since the start): no extra forward, but in epoch 0 θ̂ has never been trained on
    /// example i when ℓ̂_i is taken, so the difference is mostly θ's drift.
    #[default]
    Before,
    /// From one more forward (no backward) after θ̂'s inner steps, as V-PBGD measures the
    /// lower-level value at the updated auxiliary point: θ̂ has then seen the batch.
    After,
}

impl AuxLoss {
    fn is_before(&self) -> bool {
        *self == AuxLoss::Before
    }

    /// `before` or `after`, as in configs.
    pub fn name(self) -> &'static str {
        match self {
            AuxLoss::Before => "before",
            AuxLoss::After => "after",
        }
    }
}

impl std::str::FromStr for AuxLoss {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "before" => Ok(AuxLoss::Before),
            "after" => Ok(AuxLoss::After),
            other => Err(format!("expected before or after, got `{other}`")),
        }
    }
}

impl Default for Algorithm {
    fn default() -> Self {
        Self::Alg2 {}
    }
}

impl Algorithm {
    /// `"alg1"` or `"alg2"`, as in configs and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Alg1 { .. } => "alg1",
            Self::Alg2 {} => "alg2",
        }
    }
}

/// Settings of the bilevel loop; the model's own optimizer settings belong to the model.
///
/// In TOML every key is optional: `[bilevel]` `batch_size = 64`, `penalty = { kind = "reference" }`,
/// `selector_optimizer = { kind = "adam", lr = 5e-3 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BilevelConfig {
    /// Algorithm 1 or 2; default 2.
    pub algorithm: Algorithm,
    /// Fine-tuning examples per optimizer step (the effective batch), > 0; default 64. Each step
    /// also reads as many safe examples. An epoch's last batch takes the remainder.
    pub batch_size: usize,
    /// Examples per forward, > 0; default 8. Gradients accumulate over a step's micro-batches, so
    /// this trades memory for speed and leaves the updates unchanged.
    pub micro_batch_size: usize,
    /// Passes over D_ft; default 3.
    pub epochs: u64,
    /// Seed of the batch order.
    pub seed: u64,
    /// The penalty schedule γ(epoch, step); default `reference`.
    pub penalty: PenaltySchedule,
    /// How logits become weights; default `softmax`.
    pub weights: WeightKind,
    /// What the softmax normalises over; default `global`. `batch` normalises over the
    /// optimizer step's effective batch (not each micro-batch), so the micro-batch size stays a
    /// memory setting only.
    pub softmax_scope: SoftmaxScope,
    /// The optimizer of the selector logits; default Adam, lr 5e-3, β = (0.9, 0.95), clip 10.
    pub selector_optimizer: SelectorOptimizer,
}

impl Default for BilevelConfig {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::default(),
            batch_size: 64,
            micro_batch_size: 8,
            epochs: 3,
            seed: 0,
            penalty: PenaltySchedule::default(),
            weights: WeightKind::default(),
            softmax_scope: SoftmaxScope::default(),
            selector_optimizer: SelectorOptimizer::default(),
        }
    }
}

impl BilevelConfig {
    /// Checks every setting, including the schedule over `epochs` epochs.
    ///
    /// # Errors
    /// [`CoreError::BilevelParam`] for a zero batch size, micro-batch size or `inner_steps`, and
    /// the schedule's and the selector optimizer's own validation errors.
    pub fn validate(&self) -> Result<()> {
        let positive = |field, value: usize| {
            if value > 0 {
                Ok(())
            } else {
                Err(CoreError::BilevelParam {
                    field,
                    reason: "must be > 0",
                })
            }
        };
        positive("batch_size", self.batch_size)?;
        positive("micro_batch_size", self.micro_batch_size)?;
        // Zero epochs would "succeed" with the untrained, all-equal ranking.
        if self.epochs == 0 {
            return Err(CoreError::BilevelParam {
                field: "epochs",
                reason: "must be > 0",
            });
        }
        if let Algorithm::Alg1 { inner_steps, .. } = self.algorithm {
            positive("inner_steps", inner_steps)?;
        }
        self.penalty.validate(self.epochs)?;
        self.selector_optimizer.validate()
    }
}

/// Everything of the loop a checkpoint needs besides the models' own state: written at the end of
/// an epoch, it resumes the run exactly (see [`Bilevel::from_state`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BilevelState {
    /// Epochs completed.
    pub epochs_done: u64,
    /// Optimizer steps taken, across epochs.
    pub global_step: u64,
    /// The fine-tuning example ids, in D_ft index order (the logits are keyed by them).
    pub ids: Vec<ExampleId>,
    /// The selector logits ω.
    pub logits: Vec<f32>,
    /// The selector optimizer's state.
    pub optimizer: OptimizerState,
    /// The reports of the completed epochs.
    pub history: Vec<EpochReport>,
}

/// The outcome of selector training: SEAL's [`Selection`] of D_ft by final logit (candidates in
/// D_ft index order, each score the logit ω_i), with the final weights and the epochs' reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelectorOutcome {
    /// The top ⌊p·N⌋ by final logit, ties by id (DESIGN section 5).
    pub selection: Selection,
    /// The final weights p_i(ω), with the softmax (either scope) over all N examples.
    pub weights: Vec<f32>,
    /// The algorithm that trained the selector.
    pub algorithm: Algorithm,
    /// One report per epoch, with the γ and λ used (DESIGN section 7).
    pub epochs: Vec<EpochReport>,
}

impl SelectorOutcome {
    /// The final logits ω in D_ft index order (the selection's scores, exactly: an `f32` widened
    /// to `f64` narrows back unchanged).
    pub fn logits(&self) -> Vec<f32> {
        self.selection
            .candidates()
            .iter()
            .map(|c| c.score as f32)
            .collect()
    }
}

/// The selector, its optimizer and that optimizer's state: the ω side of every step.
struct SelectorTrainer {
    selector: Selector,
    optimizer: SelectorOptimizer,
    state: OptimizerState,
}

impl SelectorTrainer {
    /// One optimizer step on `J(ω) = mean_k p_{batch[k]}(ω)·coeffs[k]`, the gradient scaled by
    /// `factor` (1 leaves it as it is); returns J and the gradient's norm before clipping.
    fn step(&mut self, batch: &[usize], coeffs: &[f32], factor: f64) -> Result<(f64, f64)> {
        let mut grad = self.selector.objective_grad(batch, coeffs)?;
        if factor != 1.0 {
            for g in &mut grad.grad {
                *g = (f64::from(*g) * factor) as f32;
            }
        }
        let norm = self
            .optimizer
            .step(&mut self.state, self.selector.logits_mut(), &grad.grad)?;
        Ok((grad.objective, norm))
    }
}

/// The batches of one optimizer step and where it is in the run.
struct StepBatch<'a> {
    epoch: u64,
    global_step: u64,
    /// Safe indices, as many as `ft`.
    safe: &'a [usize],
    /// Fine-tuning indices: the selector's batch I.
    ft: &'a [usize],
    micro_batch_size: usize,
    /// The configured batch size B. Every step's losses are means over B, not over |I|, so a
    /// short last batch weighs each of its examples as much as a full batch does (a mean over
    /// |I| would give each of them B/|I| times the gradient of an example in a full batch).
    nominal_batch_size: usize,
    /// λ = 1/(1 + γ_t) of this step.
    lambda: f64,
}

impl StepBatch<'_> {
    /// |I| / B: 1 for a full batch, less for a short last one.
    fn short_batch_scale(&self) -> f64 {
        self.ft.len() as f64 / self.nominal_batch_size.max(self.ft.len()) as f64
    }
}

/// The model a pass runs on, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// θ.
    Main,
    /// θ̂ of Algorithm 1.
    Aux,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Aux => "auxiliary",
        }
    }

    fn forward_op(self) -> &'static str {
        match self {
            Self::Main => "forward of the main model",
            Self::Aux => "forward of the auxiliary model",
        }
    }

    fn apply_op(self) -> &'static str {
        match self {
            Self::Main => "optimizer step of the main model",
            Self::Aux => "optimizer step of the auxiliary model",
        }
    }
}

/// Wraps a model's error with where it happened.
fn model_error<E>(op: &'static str, epoch: u64, step: u64) -> impl FnOnce(E) -> CoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |source| CoreError::Model {
        op,
        epoch,
        step,
        source: Box::new(source),
    }
}

/// The per-example losses of one pass over a step's micro-batches, before any parameter changes.
struct Pass {
    safe: Vec<f32>,
    ft: Vec<f32>,
}

/// Accumulates the gradients of one effective batch into `model`, one micro-batch at a time, and
/// collects the per-example losses of those same forwards. The main model sees
/// `λ·f_S + (1 − λ)·g_F`; the auxiliary one only the weighted term (no safe batch).
fn forward_pass<M: BilevelModel>(
    model: &mut M,
    role: Role,
    batch: &StepBatch<'_>,
    weights: &[f32],
) -> Result<Pass> {
    let total = batch.nominal_batch_size.max(batch.ft.len()) as f64;
    let (lambda, safe) = match role {
        Role::Main => (batch.lambda, batch.safe),
        Role::Aux => (0.0, &[][..]),
    };
    let mut pass = Pass {
        safe: Vec::with_capacity(safe.len()),
        ft: Vec::with_capacity(batch.ft.len()),
    };
    for (k, ft) in batch.ft.chunks(batch.micro_batch_size).enumerate() {
        let range = k * batch.micro_batch_size..k * batch.micro_batch_size + ft.len();
        let safe = if safe.is_empty() {
            &[][..]
        } else {
            &safe[range.clone()]
        };
        // Each micro-batch's mean is weighted by its share of the nominal batch B, so the summed
        // gradient is that of the batch's loss sum over B: the mean of a full batch, and for a
        // short last batch each example weighs what it would in a full one.
        let scale = ft.len() as f64 / total;
        let micro = MicroBatch {
            safe,
            ft,
            ft_weights: &weights[range],
            safe_coef: scale * lambda,
            ft_coef: scale * (1.0 - lambda),
        };
        let losses = model.accumulate(&micro).map_err(model_error(
            role.forward_op(),
            batch.epoch,
            batch.global_step,
        ))?;
        check_losses(role, "safe", safe, &losses.safe, batch)?;
        check_losses(role, "fine-tuning", ft, &losses.ft, batch)?;
        pass.safe.extend(losses.safe);
        pass.ft.extend(losses.ft);
    }
    Ok(pass)
}

/// The per-example fine-tuning losses of `model` on the step's batch, one forward per
/// micro-batch and no gradient (Algorithm 1's `aux_loss = after`).
fn loss_pass<M: BilevelModel>(model: &mut M, role: Role, batch: &StepBatch<'_>) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(batch.ft.len());
    for ft in batch.ft.chunks(batch.micro_batch_size) {
        let losses = model.eval_ft_losses(ft).map_err(model_error(
            role.forward_op(),
            batch.epoch,
            batch.global_step,
        ))?;
        check_losses(role, "fine-tuning", ft, &losses, batch)?;
        out.extend(losses);
    }
    Ok(out)
}

/// One loss per index, all finite: a NaN or infinite loss stops the run naming epoch and step.
fn check_losses(
    role: Role,
    set: &'static str,
    indices: &[usize],
    losses: &[f32],
    batch: &StepBatch<'_>,
) -> Result<()> {
    if losses.len() != indices.len() {
        return Err(CoreError::LengthMismatch {
            what: if set == "safe" {
                "safe losses from the model"
            } else {
                "fine-tuning losses from the model"
            },
            expected: indices.len(),
            found: losses.len(),
        });
    }
    match losses.iter().position(|l| !l.is_finite()) {
        Some(k) => Err(CoreError::NonFiniteLoss {
            model: role.name(),
            set,
            index: indices[k],
            epoch: batch.epoch,
            step: batch.global_step,
        }),
        None => Ok(()),
    }
}

/// One optimizer step on `model` (after its micro-batches have accumulated).
fn apply<M: BilevelModel>(model: &mut M, role: Role, batch: &StepBatch<'_>) -> Result<()> {
    model
        .apply()
        .map_err(model_error(role.apply_op(), batch.epoch, batch.global_step))
}

/// The means a step reports, besides γ and λ.
struct StepOutcome {
    safe_loss: f64,
    ft_loss: f64,
    weighted_ft_loss: f64,
    aux_ft_loss: Option<f64>,
    selector_objective: f64,
    selector_grad_norm: f64,
}

fn mean(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len().max(1) as f64
}

impl StepOutcome {
    fn new(theta: &Pass, weights: &[f32], aux_ft: Option<&[f32]>, selector: (f64, f64)) -> Self {
        let weighted = theta
            .ft
            .iter()
            .zip(weights)
            .map(|(&l, &w)| f64::from(l) * f64::from(w))
            .sum::<f64>()
            / theta.ft.len().max(1) as f64;
        Self {
            safe_loss: mean(&theta.safe),
            ft_loss: mean(&theta.ft),
            weighted_ft_loss: weighted,
            aux_ft_loss: aux_ft.map(mean),
            selector_objective: selector.0,
            selector_grad_norm: selector.1,
        }
    }
}

/// Sums of a running epoch, for its [`EpochReport`].
#[derive(Default)]
struct EpochSums {
    examples: f64,
    safe_loss: f64,
    ft_loss: f64,
    weighted_ft_loss: f64,
    aux_ft_loss: Option<f64>,
}

impl EpochSums {
    fn add(&mut self, step: &StepReport) {
        let n = step.batch_size as f64;
        self.examples += n;
        self.safe_loss += n * step.safe_loss;
        self.ft_loss += n * step.ft_loss;
        self.weighted_ft_loss += n * step.weighted_ft_loss;
        if let Some(aux) = step.aux_ft_loss {
            *self.aux_ft_loss.get_or_insert(0.0) += n * aux;
        }
    }
}

/// The bilevel selector trainer over a model `M` (DESIGN section 3).
///
/// ```text
/// let mut run = Bilevel::new(config, ids, model)?;
/// while !run.is_done() {
///     run.run_epoch(&mut observer)?;
///     save(run.state(), run.model());   // the caller's checkpoint
/// }
/// let result = run.selection(0.8)?;
/// ```
pub struct Bilevel<M> {
    config: BilevelConfig,
    selector: SelectorTrainer,
    model: M,
    /// θ̂ (Algorithm 1 only).
    aux: Option<M>,
    epochs_done: u64,
    global_step: u64,
    history: Vec<EpochReport>,
}

impl<M: BilevelModel> Bilevel<M> {
    /// A fresh run: the selector at its initial logits, θ̂ (Algorithm 1) forked from `model`.
    /// `ids[i]` is the id of the model's D_ft example i.
    ///
    /// # Errors
    /// The config's validation errors, [`CoreError::EmptyDataset`],
    /// [`CoreError::LengthMismatch`] if `ids` and the model's D_ft differ in length,
    /// [`CoreError::DuplicateId`], and [`CoreError::Model`] if the fork fails.
    pub fn new(config: BilevelConfig, ids: Vec<ExampleId>, model: M) -> Result<Self> {
        let state = BilevelState {
            epochs_done: 0,
            global_step: 0,
            logits: vec![config.weights.init_logit(); ids.len()],
            optimizer: config.selector_optimizer.init_state(ids.len()),
            ids,
            history: Vec::new(),
        };
        Self::from_state(config, model, None, state)
    }

    /// Resumes a run from `state` (written by [`state`](Self::state) at the end of an epoch) with
    /// the models as they were then. Running the remaining epochs gives bit-identical logits to an
    /// uninterrupted run if the models are restored exactly and the config is the same (`epochs`
    /// may grow). For Algorithm 1 pass the checkpointed θ̂ as `aux`; with `None` θ̂ is forked
    /// afresh from `model`, which continues the run but not bit-for-bit.
    ///
    /// # Errors
    /// As [`new`](Self::new), and [`CoreError::StateMismatch`] if the state's ids differ from the
    /// model's D_ft size, its history or optimizer state do not fit, it has run more epochs than
    /// planned, or `aux` is given to Algorithm 2.
    pub fn from_state(config: BilevelConfig, model: M, aux: Option<M>, state: BilevelState) -> Result<Self> {
        config.validate()?;
        if model.safe_len() == 0 {
            return Err(CoreError::EmptyDataset { set: "safe" });
        }
        if model.ft_len() == 0 {
            return Err(CoreError::EmptyDataset { set: "fine-tuning" });
        }
        if state.ids.len() != model.ft_len() {
            return Err(CoreError::LengthMismatch {
                what: "example ids (one per D_ft example of the model)",
                expected: model.ft_len(),
                found: state.ids.len(),
            });
        }
        let mismatch = |what| Err(CoreError::StateMismatch { what });
        if state.epochs_done > config.epochs {
            return mismatch("it has run more epochs than planned");
        }
        if state.history.len() as u64 != state.epochs_done {
            return mismatch("its history does not have one report per completed epoch");
        }
        let fresh = config.selector_optimizer.init_state(state.ids.len());
        if state.optimizer.exp_avg.len() != fresh.exp_avg.len()
            || state.optimizer.exp_avg_sq.len() != fresh.exp_avg_sq.len()
        {
            return mismatch("its selector optimizer state is for another optimizer or dataset");
        }
        let aux = match (config.algorithm, aux) {
            (Algorithm::Alg1 { .. }, Some(aux)) => Some(aux),
            // θ̂ starts as a copy of θ with its own optimizer (DESIGN section 3).
            (Algorithm::Alg1 { .. }, None) => Some(model.fork().map_err(model_error(
                "fork of the auxiliary model",
                state.epochs_done,
                state.global_step,
            ))?),
            (Algorithm::Alg2 {}, Some(_)) => {
                return mismatch("an auxiliary model was given to algorithm 2");
            }
            (Algorithm::Alg2 {}, None) => None,
        };
        let selector = Selector::from_logits(state.ids, state.logits, config.weights, config.softmax_scope)?;
        Ok(Self {
            selector: SelectorTrainer {
                selector,
                optimizer: config.selector_optimizer.clone(),
                state: state.optimizer,
            },
            config,
            model,
            aux,
            epochs_done: state.epochs_done,
            global_step: state.global_step,
            history: state.history,
        })
    }

    /// The loop's state for a checkpoint (the models checkpoint themselves: see
    /// [`model`](Self::model) and [`aux`](Self::aux)).
    pub fn state(&self) -> BilevelState {
        BilevelState {
            epochs_done: self.epochs_done,
            global_step: self.global_step,
            ids: self.selector.selector.ids().to_vec(),
            logits: self.selector.selector.logits().to_vec(),
            optimizer: self.selector.state.clone(),
            history: self.history.clone(),
        }
    }

    /// Runs one epoch: ⌈N / batch_size⌉ optimizer steps of the configured algorithm, reporting
    /// each step and the epoch to `observer`.
    ///
    /// After an error the run is in an undefined state (some micro-batches may have accumulated,
    /// θ̂ may have stepped): resume from the last checkpoint.
    ///
    /// # Errors
    /// [`CoreError::NoEpochLeft`] once all planned epochs have run; [`CoreError::NonFiniteLoss`]
    /// naming the epoch, step and example of a NaN or infinite loss; [`CoreError::Model`] for the
    /// model's own errors; [`CoreError::LengthMismatch`] if the model returns the wrong number of
    /// losses; the selector optimizer's errors.
    pub fn run_epoch(&mut self, observer: &mut dyn Observer) -> Result<EpochReport> {
        let epoch = self.epochs_done;
        if epoch >= self.config.epochs {
            return Err(CoreError::NoEpochLeft {
                epochs: self.config.epochs,
            });
        }
        let started = Instant::now();
        let n = self.selector.selector.len();
        let batch_size = self.config.batch_size;
        let order = batches::ft_order(self.config.seed, epoch, n);
        let mut safe_stream = batches::SafeStream::new(self.config.seed, self.model.safe_len());
        let steps = n.div_ceil(batch_size) as u64;
        let first_global_step = self.global_step;
        let mut sums = EpochSums::default();
        let mut gamma_lambda = Vec::with_capacity(steps as usize);
        for (step, ft) in order.chunks(batch_size).enumerate() {
            // Safe position epoch·N + k pairs with the epoch's k-th fine-tuning example, so the
            // safe stream too is a pure function of (seed, epoch).
            let start = epoch * n as u64 + (step * batch_size) as u64;
            let safe = safe_stream.take(start, ft.len());
            let t = self.global_step;
            let gamma = self.config.penalty.gamma(epoch, t);
            let lambda = self.config.penalty.lambda(epoch, t);
            let batch = StepBatch {
                epoch,
                global_step: t,
                safe: &safe,
                ft,
                micro_batch_size: self.config.micro_batch_size,
                nominal_batch_size: batch_size,
                lambda,
            };
            let outcome = match (self.config.algorithm, self.aux.as_mut()) {
                (Algorithm::Alg2 {}, _) => alg2::step(&mut self.model, &mut self.selector, &batch)?,
                (
                    Algorithm::Alg1 {
                        inner_steps,
                        keep_penalty_factor,
                        aux_loss,
                    },
                    Some(aux),
                ) => alg1::step(
                    &mut self.model,
                    aux,
                    &mut self.selector,
                    &batch,
                    alg1::Options {
                        inner_steps,
                        keep_penalty_factor,
                        aux_loss,
                    },
                )?,
                (Algorithm::Alg1 { .. }, None) => {
                    unreachable!("from_state forks θ̂ for algorithm 1")
                }
            };
            let report = StepReport {
                epoch,
                step: step as u64,
                steps,
                global_step: t,
                batch_size: ft.len(),
                tokens: self.model.tokens(&safe, ft),
                gamma,
                lambda,
                safe_loss: outcome.safe_loss,
                ft_loss: outcome.ft_loss,
                weighted_ft_loss: outcome.weighted_ft_loss,
                aux_ft_loss: outcome.aux_ft_loss,
                selector_objective: outcome.selector_objective,
                selector_grad_norm: outcome.selector_grad_norm,
            };
            self.global_step += 1;
            sums.add(&report);
            gamma_lambda.push((gamma, lambda));
            observer.on_step(&report);
        }
        let (first, last) = (gamma_lambda[0], gamma_lambda[gamma_lambda.len() - 1]);
        let report = EpochReport {
            epoch,
            steps,
            first_global_step,
            gamma_first: first.0,
            gamma_last: last.0,
            lambda_first: first.1,
            lambda_last: last.1,
            safe_loss: sums.safe_loss / sums.examples,
            ft_loss: sums.ft_loss / sums.examples,
            weighted_ft_loss: sums.weighted_ft_loss / sums.examples,
            aux_ft_loss: sums.aux_ft_loss.map(|s| s / sums.examples),
            wall_seconds: started.elapsed().as_secs_f64(),
        };
        self.epochs_done += 1;
        self.history.push(report.clone());
        observer.on_epoch(&report);
        Ok(report)
    }

    /// Runs the remaining epochs.
    ///
    /// # Errors
    /// As [`run_epoch`](Self::run_epoch), except that nothing left to run is not an error.
    pub fn run(&mut self, observer: &mut dyn Observer) -> Result<()> {
        while !self.is_done() {
            self.run_epoch(observer)?;
        }
        Ok(())
    }

    /// Whether all planned epochs have run.
    pub fn is_done(&self) -> bool {
        self.epochs_done >= self.config.epochs
    }

    /// The selection by the current logits, keeping the top ⌊p·N⌋ (DESIGN section 5).
    ///
    /// # Errors
    /// Those of [`Selection::from_logits`]: [`CoreError::KeepFraction`] unless 0 < p ≤ 1,
    /// [`CoreError::NanLogit`], [`CoreError::NonFiniteScore`], and [`CoreError::EmptySelection`]
    /// if ⌊p·N⌋ = 0.
    pub fn selection(&self, keep_fraction: f64) -> Result<SelectorOutcome> {
        let selector = &self.selector.selector;
        let selection = Selection::from_logits(selector.ids(), selector.logits(), keep_fraction)?;
        let all: Vec<usize> = (0..selector.len()).collect();
        // The batch scope over all of D_ft is the global softmax: weights of the whole dataset.
        let weights = selector.weights_for(&all)?;
        Ok(SelectorOutcome {
            selection,
            weights,
            algorithm: self.config.algorithm,
            epochs: self.history.clone(),
        })
    }

    /// The config the run was built with.
    pub fn config(&self) -> &BilevelConfig {
        &self.config
    }

    /// The selector (ids, logits, weights).
    pub fn selector(&self) -> &Selector {
        &self.selector.selector
    }

    /// The model θ, e.g. to checkpoint it.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// θ̂ of Algorithm 1 (`None` for Algorithm 2), e.g. to checkpoint it.
    pub fn aux(&self) -> Option<&M> {
        self.aux.as_ref()
    }

    /// Epochs completed.
    pub fn epochs_done(&self) -> u64 {
        self.epochs_done
    }

    /// Optimizer steps taken, across epochs.
    pub fn global_step(&self) -> u64 {
        self.global_step
    }

    /// The reports of the completed epochs.
    pub fn history(&self) -> &[EpochReport] {
        &self.history
    }

    /// The models, θ and (Algorithm 1) θ̂.
    pub fn into_models(self) -> (M, Option<M>) {
        (self.model, self.aux)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_follow_the_design() {
        let c: BilevelConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, BilevelConfig::default());
        assert_eq!(c.algorithm, Algorithm::Alg2 {});
        assert_eq!((c.batch_size, c.micro_batch_size, c.epochs), (64, 8, 3));
        assert_eq!(c.penalty, PenaltySchedule::Reference {});
        assert_eq!(c.selector_optimizer, SelectorOptimizer::default());
        c.validate().unwrap();
    }

    #[test]
    fn alg1_fills_its_defaults_and_unknown_keys_are_rejected() {
        let c: BilevelConfig = serde_json::from_str(r#"{"algorithm": {"kind": "alg1"}, "seed": 5}"#).unwrap();
        assert_eq!(
            c.algorithm,
            Algorithm::Alg1 {
                inner_steps: 1,
                keep_penalty_factor: false,
                aux_loss: AuxLoss::Before,
            }
        );
        assert_eq!(c.algorithm.name(), "alg1");
        for bad in [
            r#"{"batchsize": 4}"#,
            r#"{"algorithm": {"kind": "alg2", "inner_steps": 2}}"#,
            r#"{"algorithm": {"kind": "alg3"}}"#,
        ] {
            assert!(serde_json::from_str::<BilevelConfig>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zero_sizes_and_bad_schedules_fail_validation() {
        let mut c = BilevelConfig {
            micro_batch_size: 0,
            ..BilevelConfig::default()
        };
        let err = c.validate().unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::BilevelParam {
                    field: "micro_batch_size",
                    ..
                }
            ),
            "{err:?}"
        );
        c.micro_batch_size = 8;
        c.algorithm = Algorithm::Alg1 {
            inner_steps: 0,
            keep_penalty_factor: false,
            aux_loss: AuxLoss::Before,
        };
        assert!(matches!(
            c.validate(),
            Err(CoreError::BilevelParam {
                field: "inner_steps",
                ..
            })
        ));
        c.algorithm = Algorithm::default();
        c.penalty = PenaltySchedule::Faster {};
        c.epochs = 11;
        assert!(matches!(c.validate(), Err(CoreError::ScheduleLambda { .. })));
    }
}
