//! The model optimizer: Adam with the reference's settings, stepped on the host on CPU.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, AdamState, LearningRate, SimpleOptimizer};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::{Deserialize, Serialize};

use crate::fused;

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
