//! Rotary position embedding (HF's rotate-half layout) as one operation with an analytic
//! backward (CPU host kernel), on sequence-major heads `[batch, seq, heads, head_dim]`.
//! Burn records it as two narrows, a negation, a concatenation and three element-wise ops.
//!
//! For each pair `(x₁, x₂)` = (element `c`, element `c + d/2`) of a head at angle `θ`:
//! `y₁ = x₁·cos θ − x₂·sin θ`, `y₂ = x₂·cos θ + x₁·sin θ`. The backward is the inverse
//! rotation of the output gradient. **Saved for backward**: only the angle tables (shared with
//! the forward, never an activation).

use std::sync::Arc;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::{Tensor, TensorPrimitive};
use rayon::prelude::*;

use super::{from_host, host_to_tensor, to_host};
use crate::backend::Cpu;

/// Cosines and sines per (batch row, position) and frequency: `[batch · seq, head_dim / 2]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RopeAngles {
    /// `cos θ`, row-major.
    pub cos: Vec<f32>,
    /// `sin θ`, row-major.
    pub sin: Vec<f32>,
}

/// Rotates `x` (`[batch · seq, heads, head_dim]` flattened) in place by the angles; `sign` −1
/// rotates backwards (the transpose, for gradients).
fn rotate(x: &mut [f32], angles: &RopeAngles, heads: usize, head_dim: usize, sign: f32) {
    let half = head_dim / 2;
    x.par_chunks_mut(heads * head_dim)
        .enumerate()
        .for_each(|(pos, token)| {
            let (cos, sin) = (
                &angles.cos[pos * half..(pos + 1) * half],
                &angles.sin[pos * half..(pos + 1) * half],
            );
            for head in token.chunks_mut(head_dim) {
                let (x1, x2) = head.split_at_mut(half);
                for c in 0..half {
                    let (a, b) = (x1[c], x2[c]);
                    let s = sign * sin[c];
                    x1[c] = a * cos[c] - b * s;
                    x2[c] = b * cos[c] + a * s;
                }
            }
        });
}

#[derive(Debug)]
struct RopeBackward;

impl Backward<Cpu, 1> for RopeBackward {
    type State = (Arc<RopeAngles>, [usize; 4]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (angles, shape) = ops.state;
        let mut grad = to_host::<4>(grads.consume::<Cpu>(&ops.node));
        let [node] = ops.parents;
        if let Some(node) = node {
            rotate(&mut grad, &angles, shape[2], shape[3], -1.0);
            grads.register::<Cpu>(node.id, from_host(grad, shape));
        }
    }
}

/// Inference on the CPU backend.
pub(crate) fn cpu(x: Tensor<Cpu, 4>, angles: &Arc<RopeAngles>) -> Tensor<Cpu, 4> {
    let shape = x.dims();
    let mut data = to_host::<4>(x.into_primitive().tensor());
    rotate(&mut data, angles, shape[2], shape[3], 1.0);
    host_to_tensor(data, shape)
}

/// Training on the CPU backend, recorded with [`RopeBackward`].
pub(crate) fn cpu_train(x: Tensor<Autodiff<Cpu>, 4>, angles: &Arc<RopeAngles>) -> Tensor<Autodiff<Cpu>, 4> {
    let shape = x.dims();
    let x = x.into_primitive().tensor();
    let prep = RopeBackward
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful();
    let mut data = to_host::<4>(x.primitive);
    rotate(&mut data, angles, shape[2], shape[3], 1.0);
    let out = match prep {
        OpsKind::Tracked(prep) => prep.finish((Arc::clone(angles), shape), from_host(data, shape)),
        OpsKind::UnTracked(prep) => prep.finish(from_host(data, shape)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
