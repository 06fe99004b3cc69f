//! A dense projection with an optional LoRA adapter (Hu et al., 2021), the building block of
//! attention and MLP.

use burn::module::{Module, Param, ParamId};
use burn::tensor::{Distribution, Tensor, backend::Backend};

/// `y = x·W (+ b) (+ scaling · x·A·B)`.
///
/// Weights are stored `[in_features, out_features]` (Burn's layout); HF checkpoints store
/// `[out, in]`, so loading and saving transpose.
#[derive(Module, Debug)]
pub struct Linear<B: Backend> {
    /// `[in_features, out_features]`.
    pub weight: Param<Tensor<B, 2>>,
    /// `[out_features]`.
    pub bias: Option<Param<Tensor<B, 1>>>,
    /// Low-rank adapter, when attached.
    pub lora: Option<LoraAdapter<B>>,
}

/// The low-rank update `scaling · A·B` of one projection.
#[derive(Module, Debug)]
pub struct LoraAdapter<B: Backend> {
    /// `[in_features, rank]` (PEFT's `lora_A.weight` transposed).
    pub lora_a: Param<Tensor<B, 2>>,
    /// `[rank, out_features]` (PEFT's `lora_B.weight` transposed); zero at initialisation.
    pub lora_b: Param<Tensor<B, 2>>,
    /// `alpha / rank`.
    pub scaling: f32,
}

impl<B: Backend> Linear<B> {
    /// A projection from existing tensors.
    pub fn from_tensors(weight: Tensor<B, 2>, bias: Option<Tensor<B, 1>>) -> Self {
        Self {
            weight: Param::from_tensor(weight),
            bias: bias.map(Param::from_tensor),
            lora: None,
        }
    }

    /// `(in_features, out_features)`.
    pub fn dims(&self) -> (usize, usize) {
        let [i, o] = self.weight.val().dims();
        (i, o)
    }

    /// # Shapes
    /// - `x`: `[batch, seq_len, in_features]` -> `[batch, seq_len, out_features]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, seq_len, in_features] = x.dims();
        // One large GEMM over all tokens beats a batched matmul over `batch` small ones; the
        // reshapes share the buffer on the CPU (Burn's would copy, `fused::reshape`).
        let x2 = crate::fused::reshape(x, [batch * seq_len, in_features]);
        // On the CPU the products run on host GEMMs with their own backward (`fused::matmul`).
        let mut y = crate::fused::matmul(x2.clone(), self.weight.val());
        if let Some(bias) = &self.bias {
            y = y + bias.val().unsqueeze_dim(0);
        }
        if let Some(lora) = &self.lora {
            let down = crate::fused::matmul(x2, lora.lora_a.val());
            let update = crate::fused::matmul(down, lora.lora_b.val());
            y = y + update.mul_scalar(lora.scaling);
        }
        let out_features = y.dims()[1];
        crate::fused::reshape(y, [batch, seq_len, out_features])
    }

    /// Attaches a fresh adapter: A Kaiming-uniform as in PEFT, B zero, so the output is unchanged.
    pub fn attach_lora(mut self, rank: usize, alpha: f32, device: &B::Device) -> Self {
        let (in_features, out_features) = self.dims();
        // PEFT initialises A with kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)).
        let bound = 1.0 / (in_features as f64).sqrt();
        let a = Tensor::random([in_features, rank], Distribution::Uniform(-bound, bound), device);
        let b = Tensor::zeros([rank, out_features], device);
        self.lora = Some(LoraAdapter {
            lora_a: Param::initialized(ParamId::new(), a.require_grad()),
            lora_b: Param::initialized(ParamId::new(), b.require_grad()),
            scaling: alpha / rank as f32,
        });
        self
    }

    /// Folds the adapter into the weight (`W + scaling·A·B`) and drops it.
    pub fn merge_lora(mut self) -> Self {
        if let Some(lora) = self.lora.take() {
            let delta = lora
                .lora_a
                .val()
                .matmul(lora.lora_b.val())
                .mul_scalar(lora.scaling);
            let merged = self.weight.val().detach() + delta.detach();
            self.weight = Param::initialized(self.weight.id, merged);
        }
        self
    }
}
