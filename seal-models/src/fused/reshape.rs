//! Reshapes that share the buffer on the CPU backend, in inference and under autodiff (a custom
//! op whose backward reshapes the gradient back, also without a copy).
//!
//! Why: Burn 0.21's NdArray reshape goes through `to_shape(..).into_shared()`, and ndarray's
//! `CowArray::into_shared` copies a borrowed view, so every reshape copied its tensor, even a
//! row-major one. The projections flatten `[batch, seq, features]` to one GEMM and back, and
//! attention splits and joins heads: 18 copies per layer forward and as many for the
//! gradients backward, all on one thread (about 13% of the main thread's samples in a SmolLM2
//! training step, docs/bench/README.md). A row-major array reshapes by its shape alone.
//!
//! **Saved for backward**: the input's shape only.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::ops::{FloatTensor, FloatTensorOps};
use burn::tensor::{Shape, Tensor, TensorPrimitive};

use crate::backend::Cpu;

/// `t` with `shape`, sharing its buffer when it is a row-major f32 array owned in memory; else
/// Burn's reshape (which copies). The element counts agree (checked by [`super::reshape`]).
fn primitive(t: FloatTensor<Cpu>, shape: &[usize]) -> FloatTensor<Cpu> {
    #[cfg(not(feature = "flex"))]
    let t = {
        use burn::backend::ndarray::NdArrayTensor;
        match t {
            // Owned (not borrowed from a file), so `into_shared` hands back its array as is.
            NdArrayTensor::F32(storage) if storage.is_owned() && storage.view().is_standard_layout() => {
                let array = storage
                    .into_shared()
                    .into_shape_with_order(shape.to_vec())
                    .expect("a row-major array reshapes to any shape of its size");
                return NdArrayTensor::from(array);
            }
            other => other,
        }
    };
    dyn_reshape(t, shape)
}

/// Burn's own reshape of a primitive.
fn dyn_reshape(t: FloatTensor<Cpu>, shape: &[usize]) -> FloatTensor<Cpu> {
    <Cpu as FloatTensorOps<Cpu>>::float_reshape(t, Shape::from(shape.to_vec()))
}

/// [`primitive`] for a tensor of the CPU inference backend.
pub(crate) fn cpu<const D1: usize, const D2: usize>(
    x: Tensor<Cpu, D1>,
    shape: [usize; D2],
) -> Tensor<Cpu, D2> {
    Tensor::from_primitive(TensorPrimitive::Float(primitive(
        x.into_primitive().tensor(),
        &shape,
    )))
}

#[derive(Debug)]
struct ReshapeBackward;

impl Backward<Cpu, 1> for ReshapeBackward {
    /// The input's shape.
    type State = Vec<usize>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<Cpu>(&ops.node);
        let [node] = ops.parents;
        if let Some(node) = node {
            grads.register::<Cpu>(node.id, primitive(grad, &ops.state));
        }
    }
}

/// [`primitive`] on the CPU training backend, recorded with [`ReshapeBackward`].
pub(crate) fn cpu_train<const D1: usize, const D2: usize>(
    x: Tensor<Autodiff<Cpu>, D1>,
    shape: [usize; D2],
) -> Tensor<Autodiff<Cpu>, D2> {
    let input_shape = x.dims().to_vec();
    let x = x.into_primitive().tensor();
    let prep = ReshapeBackward
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful();
    let out = primitive(x.primitive, &shape);
    let out = match prep {
        OpsKind::Tracked(prep) => prep.finish(input_shape, out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
