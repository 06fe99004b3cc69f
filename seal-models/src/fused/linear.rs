//! Dense products `a[m, k] · b[k, n]` on host kernels for the CPU backend, in inference and
//! under autodiff (a custom op with its own backward), reading both operands where they lie.
//!
//! Why not Burn's matmul on NdArray + OpenBLAS: OpenBLAS's thread pool spun in `sched_yield`
//! between the many GEMMs of a training step (a third of a step on two cores, the profile in
//! docs/bench/README.md), and Burn 0.21 reshapes both operands to rank 3 first, which copies a
//! weight a `Param` also holds (and the transposed view of a tied head) on every call. Here an
//! operand is borrowed as a strided view (a transpose is free), and the product is split over
//! the rayon pool in blocks, one single-threaded `gemm` call each (AVX-512 kernels picked at
//! run time, `gemm.rs`), so one pool of threads serves the whole step.
//!
//! **Saved for backward**: both operands as Burn holds them (shared buffers, not copies: the
//! same two tensors Burn's own matmul saves). With `dy = ∂L/∂(a·b)`: `da = dy·bᵀ` and
//! `db = aᵀ·dy`, each computed only when that operand needs a gradient (a frozen base weight
//! under LoRA computes no `db`).

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use super::from_host;
use super::gemm::{View, par_matmul};
use crate::backend::Cpu;

/// `f` of a rank-2 CPU float primitive as a strided [`View`] and its `[rows, cols]`, borrowed in
/// place; `None` when it is not an f32 matrix with non-negative strides (then the caller keeps
/// Burn's matmul).
#[cfg(not(feature = "flex"))]
pub(super) fn with_view<R>(t: &FloatTensor<Cpu>, f: impl FnOnce(View<'_>, [usize; 2]) -> R) -> Option<R> {
    let burn::backend::ndarray::NdArrayTensor::F32(storage) = t else {
        return None;
    };
    let view = storage.view();
    let (shape, strides) = (view.shape(), view.strides());
    if shape.len() != 2 || strides.iter().any(|&s| s < 0) {
        return None;
    }
    let (row_stride, col_stride) = (strides[0] as usize, strides[1] as usize);
    let len = if shape[0] == 0 || shape[1] == 0 {
        0
    } else {
        (shape[0] - 1) * row_stride + (shape[1] - 1) * col_stride + 1
    };
    // SAFETY: with non-negative strides every element of the view lies in `[ptr, ptr + len)`,
    // inside the array's buffer, which `storage` keeps alive for this call; it is only read.
    let data = unsafe { std::slice::from_raw_parts(view.as_ptr(), len) };
    let view = View {
        data,
        row_stride,
        col_stride,
    };
    Some(f(view, [shape[0], shape[1]]))
}

/// Flex multiplies with the same `gemm` crate already: keep Burn's matmul there.
#[cfg(feature = "flex")]
pub(super) fn with_view<R>(_t: &FloatTensor<Cpu>, _f: impl FnOnce(View<'_>, [usize; 2]) -> R) -> Option<R> {
    None
}

/// `a · b` on the host, `None` when an operand cannot be borrowed or the shapes do not chain.
fn host(a: &FloatTensor<Cpu>, b: &FloatTensor<Cpu>) -> Option<FloatTensor<Cpu>> {
    with_view(a, |lhs, [m, k]| {
        with_view(b, |rhs, [k2, n]| {
            (k == k2).then(|| {
                let mut out = vec![0.0f32; m * n];
                par_matmul(m, n, k, &mut out, false, lhs, rhs);
                from_host(out, [m, n])
            })
        })
    })
    .flatten()
    .flatten()
}

/// The transpose of a CPU matrix (a view: strides swapped, nothing copied).
fn t(x: &FloatTensor<Cpu>) -> FloatTensor<Cpu> {
    Tensor::<Cpu, 2>::from_primitive(TensorPrimitive::Float(x.clone()))
        .transpose()
        .into_primitive()
        .tensor()
}

/// `a · b` on the CPU inference backend; Burn's matmul when the host product does not apply.
pub(crate) fn cpu(a: Tensor<Cpu, 2>, b: Tensor<Cpu, 2>) -> Tensor<Cpu, 2> {
    let (pa, pb) = (
        a.clone().into_primitive().tensor(),
        b.clone().into_primitive().tensor(),
    );
    match host(&pa, &pb) {
        Some(out) => Tensor::from_primitive(TensorPrimitive::Float(out)),
        None => a.matmul(b),
    }
}

#[derive(Debug)]
struct MatmulBackward;

impl Backward<Cpu, 2> for MatmulBackward {
    type State = (FloatTensor<Cpu>, FloatTensor<Cpu>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let (a, b) = ops.state;
        let dy = grads.consume::<Cpu>(&ops.node);
        let product = |x: FloatTensor<Cpu>, y: FloatTensor<Cpu>| {
            let tensor = |p| Tensor::<Cpu, 2>::from_primitive(TensorPrimitive::Float(p));
            cpu(tensor(x), tensor(y)).into_primitive().tensor()
        };
        let [node_a, node_b] = ops.parents;
        if let Some(node) = node_a {
            grads.register::<Cpu>(node.id, product(dy.clone(), t(&b)));
        }
        if let Some(node) = node_b {
            grads.register::<Cpu>(node.id, product(t(&a), dy));
        }
    }
}

/// `a · b` on the CPU training backend, recorded with [`MatmulBackward`]; Burn's matmul when
/// the host product does not apply.
pub(crate) fn cpu_train(
    a: Tensor<Autodiff<Cpu>, 2>,
    b: Tensor<Autodiff<Cpu>, 2>,
) -> Tensor<Autodiff<Cpu>, 2> {
    let (pa, pb) = (
        a.clone().into_primitive().tensor(),
        b.clone().into_primitive().tensor(),
    );
    let Some(out) = host(&pa.primitive, &pb.primitive) else {
        return a.matmul(b);
    };
    let out = match MatmulBackward
        .prepare::<NoCheckpointing>([pa.node.clone(), pb.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((pa.primitive, pb.primitive), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn matrix(rows: usize, cols: usize, phase: f32) -> Tensor<Cpu, 2> {
        let data: Vec<f32> = (0..rows * cols)
            .map(|i| (i as f32 * 0.37 + phase).sin())
            .collect();
        Tensor::from_data(TensorData::new(data, [rows, cols]), &crate::backend::cpu_device())
    }

    fn close(got: Tensor<Cpu, 2>, expect: Tensor<Cpu, 2>) {
        assert_eq!(got.dims(), expect.dims());
        let (got, expect) = (
            got.into_data().to_vec::<f32>().unwrap(),
            expect.into_data().to_vec::<f32>().unwrap(),
        );
        for (a, b) in got.iter().zip(&expect) {
            assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn matches_burns_matmul_for_plain_and_transposed_operands() {
        let (a, b) = (matrix(70, 5, 0.0), matrix(5, 300, 1.0));
        close(cpu(a.clone(), b.clone()), a.clone().matmul(b.clone()));
        // Transposed views are read in place.
        let (at, bt) = (matrix(5, 70, 2.0), matrix(300, 5, 3.0));
        close(
            cpu(at.clone().transpose(), bt.clone().transpose()),
            at.transpose().matmul(bt.transpose()),
        );
    }

    #[test]
    fn gradients_match_burns_matmul_and_skip_an_operand_without_grad() {
        type Ad = Autodiff<Cpu>;
        let device = crate::backend::cpu_device();
        let lift = |x: Tensor<Cpu, 2>, grad: bool| {
            let x = Tensor::<Ad, 2>::from_data(x.into_data(), &device);
            if grad { x.require_grad() } else { x }
        };
        let (a, b, weights) = (matrix(40, 6, 0.0), matrix(6, 9, 1.0), matrix(40, 9, 2.0));
        let run = |fused: bool, b_grad: bool| {
            let (a, b) = (lift(a.clone(), true), lift(b.clone(), b_grad));
            let y = if fused {
                cpu_train(a.clone(), b.clone())
            } else {
                a.clone().matmul(b.clone())
            };
            let loss = (y * lift(weights.clone(), false)).sum();
            let grads = loss.backward();
            (a.grad(&grads).unwrap(), b.grad(&grads))
        };
        let (da, db) = run(true, true);
        let (da_ref, db_ref) = run(false, true);
        close(da, da_ref);
        close(db.unwrap(), db_ref.unwrap());
        let (da, db) = run(true, false);
        close(da, run(false, false).0);
        assert!(db.is_none());
    }
}
