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

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorPrimitive};

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
