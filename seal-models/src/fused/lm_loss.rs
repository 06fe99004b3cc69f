//! The LM head fused with the token cross-entropy, in chunks of scored rows, with an analytic
//! backward. Generic over the inner backend (tensor ops only), so CPU and CUDA share it.
//!
//! For scored hidden rows `H` (`[rows, hidden]`), head weight `W` and targets `y`, it returns
//! each row's `logsumexp(H·W) − (H·W)[y]`. The forward walks the rows in chunks of about
//! [`CHUNK_FLOATS`] logits, keeping only each row's log-sum-exp.
//!
//! **Saved for backward**: `H`, `W` (a parameter, alive anyway), `y` and the per-row
//! log-sum-exp. Never the `[rows, vocab]` logits or log-probabilities: the backward
//! recomputes one chunk of logits at a time, turns it into `g·(softmax − onehot(y))` and
//! multiplies it into `dH` and `dW`. That is one extra head product per step (the recompute) in
//! exchange for the several `rows x vocab` buffers the decomposed ops keep alive.
//!
//! On the CPU backend the same algorithm runs on host slices ([`cpu_train`], [`cpu`]): one
//! reused logits buffer per chunk, the row max, log-sum-exp and `dz` each a single vectorised
//! pass over a row (`vexp.rs`) in place of Burn's half-dozen element-wise tensor ops, the
//! products on the host GEMM (`gemm.rs`), and `dW` skipped when the head is frozen (LoRA).

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorPrimitive};
use rayon::prelude::*;

use super::gemm::{View, par_matmul};
use super::linear::with_view;
use super::vexp;
use super::{from_host, host_to_tensor};
use crate::backend::Cpu;

/// Logits per chunk (4M floats, 16 MiB): small beside a real model's weights, large enough
/// that each chunk's product is a full-speed GEMM.
pub(crate) const CHUNK_FLOATS: usize = 1 << 22;

/// How the head weight is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadLayout {
    /// `[hidden, vocab]` (an `lm_head` projection in Burn's layout).
    HiddenByVocab,
    /// `[vocab, hidden]` (the token embedding, when the head is tied to it).
    VocabByHidden,
}

fn rows_per_chunk(vocab: usize) -> usize {
    (CHUNK_FLOATS / vocab.max(1)).max(1)
}

/// Logits per chunk on the host path (16M floats, 64 MiB, one buffer reused for every chunk):
/// larger than [`CHUNK_FLOATS`] because each chunk's `dW` product reads and writes all of `dW`,
/// so fewer, taller chunks move less memory (bench-tiny's 2048 x 8192 step is one chunk).
const HOST_CHUNK_FLOATS: usize = 1 << 24;

/// Logits of `h` (`[n, hidden]`) in the layout's natural orientation: `[n, vocab]` for
/// `HiddenByVocab`, `[vocab, n]` for `VocabByHidden` (which keeps the large operand in its
/// stored layout: on NdArray `W·Hᵀ` measured twice as fast as `H·Wᵀ`).
fn chunk_logits<B: Backend>(layout: HeadLayout, h: Tensor<B, 2>, w: Tensor<B, 2>) -> Tensor<B, 2> {
    match layout {
        HeadLayout::HiddenByVocab => super::matmul(h, w),
        HeadLayout::VocabByHidden => super::matmul(w, h.transpose()),
    }
}

/// The vocabulary axis of [`chunk_logits`]'s result, and of the weight (`[hidden, vocab]` gives
/// `[n, vocab]`, `[vocab, hidden]` gives `[vocab, n]`).
fn vocab_axis(layout: HeadLayout) -> usize {
    match layout {
        HeadLayout::HiddenByVocab => 1,
        HeadLayout::VocabByHidden => 0,
    }
}

/// `[n]` → the shape that broadcasts along the vocabulary axis.
fn along_rows<B: Backend>(layout: HeadLayout, x: Tensor<B, 1>) -> Tensor<B, 2> {
    match layout {
        HeadLayout::HiddenByVocab => x.unsqueeze_dim(1),
        HeadLayout::VocabByHidden => x.unsqueeze_dim(0),
    }
}

fn along_rows_int<B: Backend>(layout: HeadLayout, x: Tensor<B, 1, Int>) -> Tensor<B, 2, Int> {
    match layout {
        HeadLayout::HiddenByVocab => x.unsqueeze_dim(1),
        HeadLayout::VocabByHidden => x.unsqueeze_dim(0),
    }
}

/// Forward on any backend: `(token losses [rows], lse [rows])`.
pub(crate) fn forward<B: Backend>(
    layout: HeadLayout,
    hidden: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    targets: Tensor<B, 1, Int>,
) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let [rows, _] = hidden.dims();
    let axis = vocab_axis(layout);
    let step = rows_per_chunk(weight.dims()[axis]);
    let mut losses = Vec::new();
    let mut lses = Vec::new();
    for start in (0..rows).step_by(step) {
        let n = step.min(rows - start);
        let z = chunk_logits(layout, hidden.clone().narrow(0, start, n), weight.clone());
        let max = z.clone().max_dim(axis);
        let lse = (z.clone() - max.clone()).exp().sum_dim(axis).log() + max;
        let target = along_rows_int(layout, targets.clone().narrow(0, start, n));
        let picked = z.gather(axis, target);
        let lse = lse.reshape([n]);
        losses.push(lse.clone() - picked.reshape([n]));
        lses.push(lse);
    }
    (Tensor::cat(losses, 0), Tensor::cat(lses, 0))
}

/// The backward on any backend: `(dH, dW)` for upstream row gradients `grad` (`[rows]`).
fn backward<B: Backend>(
    layout: HeadLayout,
    hidden: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    targets: Tensor<B, 1, Int>,
    lse: Tensor<B, 1>,
    grad: Tensor<B, 1>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [rows, _] = hidden.dims();
    let axis = vocab_axis(layout);
    let step = rows_per_chunk(weight.dims()[axis]);
    let mut d_hidden = Vec::new();
    let mut d_weight = weight.zeros_like();
    for start in (0..rows).step_by(step) {
        let n = step.min(rows - start);
        let h = hidden.clone().narrow(0, start, n);
        let g = grad.clone().narrow(0, start, n);
        let z = chunk_logits(layout, h.clone(), weight.clone());
        // g·(softmax − onehot(y)): the probabilities from the saved log-sum-exp, then −g at the
        // target of each row.
        let probs = (z - along_rows(layout, lse.clone().narrow(0, start, n))).exp();
        let dz = (probs * along_rows(layout, g.clone())).scatter(
            axis,
            along_rows_int(layout, targets.clone().narrow(0, start, n)),
            along_rows(layout, g.neg()),
            IndexingUpdateOp::Add,
        );
        match layout {
            HeadLayout::HiddenByVocab => {
                d_hidden.push(super::matmul(dz.clone(), weight.clone().transpose()));
                d_weight = d_weight + super::matmul(h.transpose(), dz);
            }
            HeadLayout::VocabByHidden => {
                d_hidden.push(super::matmul(dz.clone().transpose(), weight.clone()));
                d_weight = d_weight + super::matmul(dz, h);
            }
        }
    }
    (Tensor::cat(d_hidden, 0), d_weight)
}

/// The head and rows of one host computation, all borrowed in place.
struct Host<'a> {
    hidden: View<'a>,
    rows: usize,
    dim: usize,
    /// The head weight as the `[dim, vocab]` right operand of the logits product (a transposed
    /// view of a tied `[vocab, dim]` embedding).
    head: View<'a>,
    vocab: usize,
    targets: &'a [usize],
}

impl Host<'_> {
    fn rows_per_chunk(&self) -> usize {
        (HOST_CHUNK_FLOATS / self.vocab.max(1)).clamp(1, self.rows.max(1))
    }

    /// The logits of rows `start..start + n` into `z` (`[n, vocab]`).
    fn logits(&self, start: usize, n: usize, z: &mut [f32]) {
        par_matmul(
            n,
            self.vocab,
            self.dim,
            z,
            false,
            self.hidden.skip_rows(start),
            self.head,
        );
    }

    /// `(token losses, log-sum-exp)` per row.
    fn forward(&self) -> (Vec<f32>, Vec<f32>) {
        let step = self.rows_per_chunk();
        let mut z = vec![0.0f32; step * self.vocab];
        let mut losses = vec![0.0f32; self.rows];
        let mut lses = vec![0.0f32; self.rows];
        for start in (0..self.rows).step_by(step) {
            let n = step.min(self.rows - start);
            let z = &mut z[..n * self.vocab];
            self.logits(start, n, z);
            z.par_chunks(self.vocab)
                .zip(&mut losses[start..start + n])
                .zip(&mut lses[start..start + n])
                .zip(&self.targets[start..start + n])
                .for_each(|(((row, loss), lse), &y)| {
                    let max = vexp::max(row);
                    *lse = max + vexp::sum_exp(row, max).ln();
                    *loss = *lse - row[y];
                });
        }
        (losses, lses)
    }

    /// `(dH [rows, dim], dW in the weight's layout)` for row gradients `grad`, each only when
    /// asked for.
    fn backward(
        &self,
        layout: HeadLayout,
        lse: &[f32],
        grad: &[f32],
        want_hidden: bool,
        want_weight: bool,
    ) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
        let (vocab, dim) = (self.vocab, self.dim);
        let step = self.rows_per_chunk();
        let mut z = vec![0.0f32; step * vocab];
        let mut d_hidden = want_hidden.then(|| vec![0.0f32; self.rows * dim]);
        let mut d_weight = want_weight.then(|| vec![0.0f32; dim * vocab]);
        for start in (0..self.rows).step_by(step) {
            let n = step.min(self.rows - start);
            let z = &mut z[..n * vocab];
            self.logits(start, n, z);
            // dz = g·(softmax − onehot(y)), in place.
            z.par_chunks_mut(vocab)
                .zip(&lse[start..start + n])
                .zip(&grad[start..start + n])
                .zip(&self.targets[start..start + n])
                .for_each(|(((row, &lse), &g), &y)| {
                    vexp::scaled_exp_in_place(row, lse, g);
                    row[y] -= g;
                });
            let dz = View::rows(z, vocab);
            let h = self.hidden.skip_rows(start);
            if let Some(d_hidden) = &mut d_hidden {
                // dH = dz · headᵀ
                let dst = &mut d_hidden[start * dim..(start + n) * dim];
                par_matmul(n, dim, vocab, dst, false, dz, self.head.t());
            }
            if let Some(d_weight) = &mut d_weight {
                let accumulate = start > 0;
                match layout {
                    // dW [dim, vocab] += Hᵀ · dz
                    HeadLayout::HiddenByVocab => par_matmul(dim, vocab, n, d_weight, accumulate, h.t(), dz),
                    // dW [vocab, dim] += dzᵀ · H
                    HeadLayout::VocabByHidden => par_matmul(vocab, dim, n, d_weight, accumulate, dz.t(), h),
                }
            }
        }
        (d_hidden, d_weight)
    }
}

/// Targets as host indices, checked against the vocabulary: an id outside it is a bug upstream
/// (the tokenizer's ids are checked against the model's vocabulary when it loads).
fn host_targets(targets: Tensor<Cpu, 1, Int>, vocab: usize) -> Vec<usize> {
    let ids = targets
        .into_data()
        .convert::<i64>()
        .into_vec::<i64>()
        .expect("converted to i64 just above");
    ids.into_iter()
        .map(|y| {
            usize::try_from(y)
                .ok()
                .filter(|&y| y < vocab)
                .unwrap_or_else(|| panic!("lm_loss: target {y} outside the vocabulary of {vocab}"))
        })
        .collect()
}

/// `f` of the host view of `hidden` and `weight`, `None` when either cannot be borrowed in
/// place (then the caller keeps the tensor-op path).
fn with_host<R>(
    layout: HeadLayout,
    hidden: &FloatTensor<Cpu>,
    weight: &FloatTensor<Cpu>,
    targets: &[usize],
    f: impl FnOnce(&Host<'_>) -> R,
) -> Option<R> {
    with_view(hidden, |hidden, [rows, dim]| {
        with_view(weight, |weight, [wr, wc]| {
            let (head, vocab, weight_dim) = match layout {
                HeadLayout::HiddenByVocab => (weight, wc, wr),
                HeadLayout::VocabByHidden => (weight.t(), wr, wc),
            };
            (weight_dim == dim && targets.len() == rows).then(|| {
                f(&Host {
                    hidden,
                    rows,
                    dim,
                    head,
                    vocab,
                    targets,
                })
            })
        })
    })
    .flatten()
    .flatten()
}

/// The vocabulary size of a weight in `layout`.
fn vocab_of(layout: HeadLayout, weight: &FloatTensor<Cpu>) -> usize {
    let shape = Tensor::<Cpu, 2>::from_primitive(TensorPrimitive::Float(weight.clone())).dims();
    shape[vocab_axis(layout)]
}

/// Token losses on the CPU inference backend.
pub(crate) fn cpu(
    layout: HeadLayout,
    hidden: Tensor<Cpu, 2>,
    weight: Tensor<Cpu, 2>,
    targets: Tensor<Cpu, 1, Int>,
) -> Tensor<Cpu, 1> {
    let (h, w) = (
        hidden.clone().into_primitive().tensor(),
        weight.clone().into_primitive().tensor(),
    );
    let ids = host_targets(targets.clone(), vocab_of(layout, &w));
    match with_host(layout, &h, &w, &ids, |host| host.forward().0) {
        Some(losses) => {
            let rows = losses.len();
            host_to_tensor(losses, [rows])
        }
        None => forward(layout, hidden, weight, targets).0,
    }
}

#[derive(Debug)]
struct LmLossCpuBackward {
    layout: HeadLayout,
}

impl Backward<Cpu, 2> for LmLossCpuBackward {
    /// Hidden rows and weight as Burn holds them (shared, not copied), targets, log-sum-exp.
    type State = (FloatTensor<Cpu>, FloatTensor<Cpu>, Vec<usize>, Vec<f32>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (hidden, weight, targets, lse) = ops.state;
        let grad = super::to_host::<1>(grads.consume::<Cpu>(&ops.node));
        let [node_hidden, node_weight] = ops.parents;
        let (hidden_dims, weight_dims) = (
            Tensor::<Cpu, 2>::from_primitive(TensorPrimitive::Float(hidden.clone())).dims(),
            Tensor::<Cpu, 2>::from_primitive(TensorPrimitive::Float(weight.clone())).dims(),
        );
        let (d_hidden, d_weight) = with_host(self.layout, &hidden, &weight, &targets, |host| {
            host.backward(
                self.layout,
                &lse,
                &grad,
                node_hidden.is_some(),
                node_weight.is_some(),
            )
        })
        .expect("the forward borrowed these same tensors");
        if let (Some(node), Some(d)) = (node_hidden, d_hidden) {
            grads.register::<Cpu>(node.id, from_host(d, hidden_dims));
        }
        if let (Some(node), Some(d)) = (node_weight, d_weight) {
            grads.register::<Cpu>(node.id, from_host(d, weight_dims));
        }
    }
}

/// Token losses under autodiff on the CPU training backend, recorded with
/// [`LmLossCpuBackward`]; the tensor-op path ([`train`]) when an operand cannot be borrowed.
pub(crate) fn cpu_train(
    layout: HeadLayout,
    hidden: Tensor<Autodiff<Cpu>, 2>,
    weight: Tensor<Autodiff<Cpu>, 2>,
    targets: Tensor<Autodiff<Cpu>, 1, Int>,
) -> Tensor<Autodiff<Cpu>, 1> {
    let (h, w) = (
        hidden.clone().into_primitive().tensor(),
        weight.clone().into_primitive().tensor(),
    );
    let ids = host_targets(
        Tensor::from_primitive(targets.clone().into_primitive()),
        vocab_of(layout, &w.primitive),
    );
    let Some((losses, lse)) = with_host(layout, &h.primitive, &w.primitive, &ids, |host| host.forward())
    else {
        return train(layout, hidden, weight, targets);
    };
    let rows = losses.len();
    let losses = from_host(losses, [rows]);
    let out = match (LmLossCpuBackward { layout })
        .prepare::<NoCheckpointing>([h.node.clone(), w.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((h.primitive, w.primitive, ids, lse), losses),
        OpsKind::UnTracked(prep) => prep.finish(losses),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

#[derive(Debug)]
struct LmLossBackward {
    layout: HeadLayout,
}

impl<B: Backend> Backward<B, 2> for LmLossBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, IntTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (hidden, weight, targets, lse) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let float = |t| Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(t));
        let (d_hidden, d_weight) = backward(
            self.layout,
            float(hidden),
            float(weight),
            Tensor::<B, 1, Int>::from_primitive(targets),
            Tensor::from_primitive(TensorPrimitive::Float(lse)),
            Tensor::from_primitive(TensorPrimitive::Float(grad)),
        );
        let [node_hidden, node_weight] = ops.parents;
        if let Some(node) = node_hidden {
            grads.register::<B>(node.id, d_hidden.into_primitive().tensor());
        }
        if let Some(node) = node_weight {
            grads.register::<B>(node.id, d_weight.into_primitive().tensor());
        }
    }
}

/// Token losses under autodiff, recorded with [`LmLossBackward`].
pub(crate) fn train<B: Backend>(
    layout: HeadLayout,
    hidden: Tensor<Autodiff<B>, 2>,
    weight: Tensor<Autodiff<B>, 2>,
    targets: Tensor<Autodiff<B>, 1, Int>,
) -> Tensor<Autodiff<B>, 1> {
    let hidden = hidden.into_primitive().tensor();
    let weight = weight.into_primitive().tensor();
    // Int tensors carry no graph under autodiff: the primitive is the inner one.
    let targets: IntTensor<B> = targets.into_primitive();
    let inner = |t: &FloatTensor<Autodiff<B>>| {
        Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(t.primitive.clone()))
    };
    let run = |h: &_, w: &_| {
        forward::<B>(
            layout,
            inner(h),
            inner(w),
            Tensor::from_primitive(targets.clone()),
        )
    };
    let out = match (LmLossBackward { layout })
        .prepare::<NoCheckpointing>([hidden.node.clone(), weight.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (losses, lse) = run(&hidden, &weight);
            let state = (
                hidden.primitive.clone(),
                weight.primitive.clone(),
                targets.clone(),
                lse.into_primitive().tensor(),
            );
            prep.finish(state, losses.into_primitive().tensor())
        }
        OpsKind::UnTracked(prep) => {
            let (losses, _) = run(&hidden, &weight);
            prep.finish(losses.into_primitive().tensor())
        }
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
