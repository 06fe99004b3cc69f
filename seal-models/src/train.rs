//! One supervised fine-tuning step (forward, per-example loss, backward, optimizer step), shared
//! by `seal bench train-step` and the fine-tuning stage.

use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, AdamState, GradientsParams, LearningRate, Optimizer, SimpleOptimizer};
use burn::tensor::ElementConversion;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use seal_core::TokenizedExample;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fused;
use crate::llama::model::{Llama, TokenBatch};
use crate::loss::response_losses;

/// Adam settings of the model optimizer (DESIGN section 3: lr 1e-5, β (0.9, 0.95), no weight
/// decay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamSettings {
    /// Learning rate.
    pub lr: f64,
    /// β₁.
    pub beta1: f32,
    /// β₂.
    pub beta2: f32,
    /// ε (PyTorch's default 1e-8).
    pub epsilon: f32,
}

impl Default for AdamSettings {
    fn default() -> Self {
        Self {
            lr: 1e-5,
            beta1: 0.9,
            beta2: 0.95,
            epsilon: 1e-8,
        }
    }
}

impl AdamSettings {
    /// The Burn optimizer config.
    pub fn to_burn(&self) -> AdamConfig {
        AdamConfig::new()
            .with_beta_1(self.beta1)
            .with_beta_2(self.beta2)
            .with_epsilon(self.epsilon)
    }

    /// The model optimizer with these settings, for module `M` on backend `B`.
    pub fn optimizer<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> ModelOptimizer<M, B> {
        OptimizerAdaptor::from(self.host_adam())
    }

    /// The per-parameter rule of [`optimizer`](Self::optimizer).
    pub fn host_adam(&self) -> HostAdam {
        HostAdam {
            settings: self.clone(),
            burn: self.to_burn().build(),
        }
    }
}

/// The optimizer every model trainer steps: Adam on each trainable parameter of `M`.
pub type ModelOptimizer<M, B> = OptimizerAdaptor<HostAdam, M, B>;

/// Burn's Adam with the CPU backend's step done in one pass over host slices
/// (`fused::adam_step`), with the same numbers and the same state, so its records are Burn
/// Adam's records: checkpoints written before it load into it and the other way round. Other
/// backends run Burn's Adam itself.
#[derive(Clone)]
pub struct HostAdam {
    settings: AdamSettings,
    burn: Adam,
}

impl<B: Backend> SimpleOptimizer<B> for HostAdam {
    type State<const D: usize> = AdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        match fused::adam_step(&self.settings, lr, tensor, grad, state) {
            Ok((tensor, state)) => (tensor, Some(state)),
            Err((tensor, grad, state)) => SimpleOptimizer::<B>::step(&self.burn, lr, tensor, grad, state),
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <Adam as SimpleOptimizer<B>>::to_device(state, device)
    }
}

/// A token batch with its loss mask (`batch * seq_len`, 1 on response tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainBatch {
    /// Tokens and padding.
    pub tokens: TokenBatch,
    /// 1 where a token is a training target (response, not prompt or padding).
    pub loss_mask: Vec<u8>,
}

impl TrainBatch {
    /// Tokenized rows right-padded with `pad_id` into one batch, the loss mask padded with 0.
    pub fn right_padded(rows: &[&TokenizedExample], pad_id: u32) -> Self {
        let sequences: Vec<Vec<u32>> = rows.iter().map(|r| r.input_ids.clone()).collect();
        let tokens = TokenBatch::right_padded(&sequences, pad_id);
        let mut loss_mask = Vec::with_capacity(tokens.batch * tokens.seq_len);
        for r in rows {
            loss_mask.extend_from_slice(&r.loss_mask);
            loss_mask.extend(std::iter::repeat_n(0u8, tokens.seq_len - r.loss_mask.len()));
        }
        Self { tokens, loss_mask }
    }
}

/// A pass's fixed cost in padded-token equivalents (graph building, per-layer launch and
/// host overheads): a micro-batch is split only where the padding saved exceeds it.
const PASS_OVERHEAD_TOKENS: usize = 128;

/// Rows of one micro-batch, right-padded in groups of similar length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LengthGroup {
    /// Positions of the group's rows in the micro-batch, in the group's row order.
    pub positions: Vec<usize>,
    /// The rows, right-padded to the group's longest.
    pub batch: TrainBatch,
}

/// Splits a micro-batch into padded batches of similar length, so real, variable-length data
/// does not pay for padding: one long row no longer pads every short one to its length.
///
/// Order rule: positions sorted by length, longest first, ties by position; the sorted rows
/// are cut into consecutive groups minimising `Σ (rows·longest + PASS_OVERHEAD_TOKENS)`
/// (exact, by dynamic programming; ties go to the longer last group). The split depends only on the
/// rows' lengths, so a run and its resume group alike; per-example losses do not depend on it
/// beyond float rounding, and gradients summed over groups equal the one-batch gradient up to
/// summation order. Rows of equal length stay one group.
pub fn length_groups(rows: &[&TokenizedExample], pad_id: u32) -> Vec<LengthGroup> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(rows[i].input_ids.len()), i));
    let len = |k: usize| rows[order[k]].input_ids.len();
    let n = order.len();
    // best[b] = (cost, start of the last group) of the best split of the first b sorted rows.
    let mut best = vec![(0usize, 0usize); n + 1];
    for b in 1..=n {
        best[b] = (0..b)
            .map(|a| (best[a].0 + (b - a) * len(a) + PASS_OVERHEAD_TOKENS, a))
            .min_by_key(|&(cost, a)| (cost, a))
            .expect("b > 0 leaves at least one start");
    }
    let mut cuts = Vec::new();
    let mut b = n;
    while b > 0 {
        cuts.push(best[b].1..b);
        b = best[b].1;
    }
    cuts.reverse();
    cuts.into_iter()
        .map(|range| {
            let positions: Vec<usize> = order[range].to_vec();
            let group: Vec<&TokenizedExample> = positions.iter().map(|&p| rows[p]).collect();
            LengthGroup {
                batch: TrainBatch::right_padded(&group, pad_id),
                positions,
            }
        })
        .collect()
}

/// The per-example losses of length groups (no backward taken), in micro-batch order: `n`
/// rows, each group's losses put back at its positions.
///
/// # Errors
/// Invalid rows.
pub fn grouped_losses<B: Backend>(model: &Llama<B>, groups: &[LengthGroup], n: usize) -> Result<Vec<f32>> {
    let mut out = vec![0.0f32; n];
    for group in groups {
        let losses = response_losses(model, &group.batch.tokens, &group.batch.loss_mask)?;
        let values = losses
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .expect("f32 data");
        for (&p, v) in group.positions.iter().zip(values) {
            out[p] = v;
        }
    }
    Ok(out)
}

/// Mean per-example loss, backward, one optimizer step; returns the updated model and the loss.
///
/// # Errors
/// Invalid batches ([`crate::ModelError::Batch`]).
pub fn sft_step<B, O>(model: Llama<B>, optim: &mut O, batch: &TrainBatch, lr: f64) -> Result<(Llama<B>, f32)>
where
    B: AutodiffBackend,
    O: Optimizer<Llama<B>, B>,
{
    let loss = response_losses(&model, &batch.tokens, &batch.loss_mask)?.mean();
    let grads = loss.backward();
    let value = loss.into_scalar().elem::<f32>();
    let grads = GradientsParams::from_grads(grads, &model);
    Ok((optim.step(lr, model, grads), value))
}

/// Evaluates the per-example losses of a batch without building a graph.
///
/// # Errors
/// Invalid batches.
pub fn eval_losses<B: AutodiffBackend>(model: &Llama<B>, batch: &TrainBatch) -> Result<Vec<f32>> {
    let losses = response_losses(&model.valid(), &batch.tokens, &batch.loss_mask)?;
    Ok(losses
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("f32 data"))
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

/// Scales all gradients by `min(1, max_norm / (‖g‖ + 1e-6))`, ‖g‖ the L2 norm over every
/// parameter together, as `torch.nn.utils.clip_grad_norm_` does. Burn's own clipping works per
/// parameter, which is not the reference's rule. Returns the norm before clipping.
pub fn clip_global_norm<B: AutodiffBackend>(
    model: &Llama<B>,
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
    burn::module::Module::visit(model, &mut norm);
    let total = norm.total.sqrt();
    let factor = max_norm / (total + 1e-6);
    if factor < 1.0 {
        let mut scale = Scale::<B> {
            grads,
            factor,
            _b: std::marker::PhantomData,
        };
        burn::module::Module::visit(model, &mut scale);
    }
    total
}
