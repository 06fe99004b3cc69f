//! RMSNorm as one operation with an analytic backward (CPU host kernel).
//!
//! `y = x · r · w` with `r = 1 / sqrt(mean(x²) + eps)` per row. Burn records seven primitive
//! ops for it (square, mean, add, sqrt, reciprocal, two products), each a pass over the
//! activations with its own saved tensor.
//!
//! **Saved for backward**: the input rows and each row's `r` (host copies), and the gain.
//! With `g = dy ∘ w`: `dx = r·g − x·r³·mean(g ∘ x)` and `dw = Σ_rows dy ∘ x·r`.

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

/// Rows per parallel block.
const BLOCK_ROWS: usize = 64;

/// `(y, r)` for rows of width `width`.
pub(crate) fn forward_host(x: &[f32], w: &[f32], eps: f32) -> (Vec<f32>, Vec<f32>) {
    let width = w.len();
    let rows = x.len() / width;
    let mut y = vec![0.0f32; x.len()];
    let mut r = vec![0.0f32; rows];
    y.par_chunks_mut(BLOCK_ROWS * width)
        .zip(r.par_chunks_mut(BLOCK_ROWS))
        .enumerate()
        .for_each(|(block, (y, r))| {
            let x = &x[block * BLOCK_ROWS * width..];
            for (i, (y, r)) in y.chunks_mut(width).zip(r.iter_mut()).enumerate() {
                let x = &x[i * width..(i + 1) * width];
                let mean_sq = x.iter().map(|v| v * v).sum::<f32>() / width as f32;
                *r = 1.0 / (mean_sq + eps).sqrt();
                for ((y, x), w) in y.iter_mut().zip(x).zip(w) {
                    *y = x * *r * w;
                }
            }
        });
    (y, r)
}

#[derive(Debug)]
pub(crate) struct Saved {
    x: Vec<f32>,
    w: Vec<f32>,
    r: Vec<f32>,
    shape: [usize; 3],
}

/// `(dx, dw)`.
pub(crate) fn backward_host(saved: &Saved, dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let width = saved.w.len();
    let mut dx = vec![0.0f32; saved.x.len()];
    // Per-block partial sums of dw, added in block order (deterministic).
    let partial: Vec<Vec<f32>> = dx
        .par_chunks_mut(BLOCK_ROWS * width)
        .enumerate()
        .map(|(block, dx)| {
            let base = block * BLOCK_ROWS;
            let mut dw = vec![0.0f32; width];
            for (i, dx) in dx.chunks_mut(width).enumerate() {
                let row = base + i;
                let x = &saved.x[row * width..(row + 1) * width];
                let dy = &dy[row * width..(row + 1) * width];
                let r = saved.r[row];
                let mut dot = 0.0f32;
                for ((dy, w), x) in dy.iter().zip(&saved.w).zip(x) {
                    dot += dy * w * x;
                }
                let k = r * r * r * dot / width as f32;
                for (j, dx) in dx.iter_mut().enumerate() {
                    *dx = r * dy[j] * saved.w[j] - x[j] * k;
                    dw[j] += dy[j] * x[j] * r;
                }
            }
            dw
        })
        .collect();
    let mut dw = vec![0.0f32; width];
    for p in partial {
        dw.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    (dx, dw)
}

#[derive(Debug)]
struct RmsNormBackward;

impl Backward<Cpu, 2> for RmsNormBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let saved = ops.state;
        let dy = to_host::<3>(grads.consume::<Cpu>(&ops.node));
        let (dx, dw) = backward_host(&saved, &dy);
        let [node_x, node_w] = ops.parents;
        if let Some(node) = node_x {
            grads.register::<Cpu>(node.id, from_host(dx, saved.shape));
        }
        if let Some(node) = node_w {
            grads.register::<Cpu>(node.id, from_host(dw, [saved.shape[2]]));
        }
    }
}

/// Inference on the CPU backend.
pub(crate) fn cpu(x: Tensor<Cpu, 3>, w: Tensor<Cpu, 1>, eps: f32) -> Tensor<Cpu, 3> {
    let shape = x.dims();
    let (y, _) = forward_host(
        &to_host::<3>(x.into_primitive().tensor()),
        &to_host::<1>(w.into_primitive().tensor()),
        eps,
    );
    host_to_tensor(y, shape)
}

/// Training on the CPU backend, recorded with [`RmsNormBackward`].
pub(crate) fn cpu_train(
    x: Tensor<Autodiff<Cpu>, 3>,
    w: Tensor<Autodiff<Cpu>, 1>,
    eps: f32,
) -> Tensor<Autodiff<Cpu>, 3> {
    let shape = x.dims();
    let (x, w) = (x.into_primitive().tensor(), w.into_primitive().tensor());
    let prep = RmsNormBackward
        .prepare::<NoCheckpointing>([x.node.clone(), w.node.clone()])
        .compute_bound()
        .stateful();
    // The input moves to the host (no copy when nothing else holds it); the gain is copied.
    let (hx, hw) = (to_host::<3>(x.primitive), to_host::<1>(w.primitive));
    let (y, r) = forward_host(&hx, &hw, eps);
    let out = match prep {
        OpsKind::Tracked(prep) => prep.finish(
            Arc::new(Saved {
                x: hx,
                w: hw,
                r,
                shape,
            }),
            from_host(y, shape),
        ),
        OpsKind::UnTracked(prep) => prep.finish(from_host(y, shape)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
