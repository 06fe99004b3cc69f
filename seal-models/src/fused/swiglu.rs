//! SwiGLU's gate, `silu(a) ∘ b`, as one operation with an analytic backward (CPU host
//! kernel). Burn records it as a sigmoid, two products and their backward chains.
//!
//! **Saved for backward**: the two inputs `a` (gate projection) and `b` (up projection), on the
//! host (their buffers, moved out when nothing else holds them). With `σ = sigmoid(a)`: `da = dy ∘ b ∘ σ·(1 + a·(1 − σ))`, `db = dy ∘ a·σ`.

use std::sync::Arc;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::{Tensor, TensorPrimitive};
use rayon::prelude::*;

use super::vexp::{multiversion, sigmoid};
use super::{from_host, host_to_tensor, to_host};
use crate::backend::Cpu;

/// Elements per parallel block.
const BLOCK: usize = 1 << 14;

multiversion! {
    /// One block of the forward.
    fn forward_block / forward_block_baseline(y: &mut [f32], a: &[f32], b: &[f32]) {
        for ((y, a), b) in y.iter_mut().zip(a).zip(b) {
            *y = a * sigmoid(*a) * b;
        }
    }
}

multiversion! {
    /// One block of the backward.
    fn backward_block / backward_block_baseline(da: &mut [f32], db: &mut [f32], a: &[f32], b: &[f32], dy: &[f32]) {
        for ((((da, db), a), b), dy) in da.iter_mut().zip(db.iter_mut()).zip(a).zip(b).zip(dy) {
            let s = sigmoid(*a);
            *da = dy * b * s * (1.0 + a * (1.0 - s));
            *db = dy * a * s;
        }
    }
}

pub(crate) fn forward_host(a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0f32; a.len()];
    y.par_chunks_mut(BLOCK).enumerate().for_each(|(k, y)| {
        forward_block(y, &a[k * BLOCK..], &b[k * BLOCK..]);
    });
    y
}

#[derive(Debug)]
pub(crate) struct Saved {
    a: Vec<f32>,
    b: Vec<f32>,
    shape: [usize; 3],
}

/// `(da, db)`.
pub(crate) fn backward_host(saved: &Saved, dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut da = vec![0.0f32; dy.len()];
    let mut db = vec![0.0f32; dy.len()];
    da.par_chunks_mut(BLOCK)
        .zip(db.par_chunks_mut(BLOCK))
        .enumerate()
        .for_each(|(k, (da, db))| {
            let (a, b, dy) = (&saved.a[k * BLOCK..], &saved.b[k * BLOCK..], &dy[k * BLOCK..]);
            backward_block(da, db, a, b, dy);
        });
    (da, db)
}

#[derive(Debug)]
struct SwigluBackward;

impl Backward<Cpu, 2> for SwigluBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let saved = ops.state;
        let dy = to_host::<3>(grads.consume::<Cpu>(&ops.node));
        let (da, db) = backward_host(&saved, &dy);
        let [node_a, node_b] = ops.parents;
        if let Some(node) = node_a {
            grads.register::<Cpu>(node.id, from_host(da, saved.shape));
        }
        if let Some(node) = node_b {
            grads.register::<Cpu>(node.id, from_host(db, saved.shape));
        }
    }
}

/// Inference on the CPU backend.
pub(crate) fn cpu(a: Tensor<Cpu, 3>, b: Tensor<Cpu, 3>) -> Tensor<Cpu, 3> {
    let shape = a.dims();
    let y = forward_host(
        &to_host::<3>(a.into_primitive().tensor()),
        &to_host::<3>(b.into_primitive().tensor()),
    );
    host_to_tensor(y, shape)
}

/// Training on the CPU backend, recorded with [`SwigluBackward`].
pub(crate) fn cpu_train(
    a: Tensor<Autodiff<Cpu>, 3>,
    b: Tensor<Autodiff<Cpu>, 3>,
) -> Tensor<Autodiff<Cpu>, 3> {
    let shape = a.dims();
    let (a, b) = (a.into_primitive().tensor(), b.into_primitive().tensor());
    let prep = SwigluBackward
        .prepare::<NoCheckpointing>([a.node.clone(), b.node.clone()])
        .compute_bound()
        .stateful();
    // The inputs move to the host: no copy when nothing else holds them (the usual case).
    let (ha, hb) = (to_host::<3>(a.primitive), to_host::<3>(b.primitive));
    let y = forward_host(&ha, &hb);
    let out = match prep {
        OpsKind::Tracked(prep) => prep.finish(Arc::new(Saved { a: ha, b: hb, shape }), from_host(y, shape)),
        OpsKind::UnTracked(prep) => prep.finish(from_host(y, shape)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
