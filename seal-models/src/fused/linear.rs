//! Dense products of CPU inference (generation, scoring without a graph) on host kernels that
//! read the weights where they lie.
//!
//! Burn 0.21's NdArray matmul reshapes both operands to rank 3 first, and reshaping an array
//! that a `Param` also holds returns a borrowed view that `into_shared` then copies: every
//! projection copied its whole weight on every call, and the tied LM head (a transposed view of
//! the embedding) was made contiguous first. Profiled on SmolLM2-135M generating 4 answers, those
//! copies and OpenBLAS's packing of the copy took over a third of the time. Here the weight is
//! borrowed as a slice, and the product is split over output columns across the rayon pool, one
//! single-threaded `gemm` call per block (AVX-512 kernels picked at run time).
//!
//! Nothing is saved for backward: these run only on the inference backend. Training keeps
//! Burn's matmul, whose autodiff records the product.

use burn::tensor::{Tensor, TensorPrimitive};
use rayon::prelude::*;

use super::gemm::{View, matmul};
use super::{from_host, to_host};
use crate::backend::Cpu;

/// Output columns per block: enough work per `gemm` call to amortise its set-up, and for
/// SmolLM2's widths (576 to 49,152) enough blocks to keep every core busy.
const COLUMNS_PER_BLOCK: usize = 128;

/// `f` of the row-major elements of `t`, borrowed in place; `None` when the tensor is not a
/// contiguous f32 array (then the caller keeps Burn's matmul).
#[cfg(not(feature = "flex"))]
fn with_slice<R>(t: &Tensor<Cpu, 2>, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    // A clone of the tensor shares its buffer (an `Arc`): nothing is copied.
    let primitive = t.clone().into_primitive().tensor();
    match &primitive {
        burn::backend::ndarray::NdArrayTensor::F32(storage) => storage.view().to_slice().map(f),
        _ => None,
    }
}

#[cfg(feature = "flex")]
fn with_slice<R>(_t: &Tensor<Cpu, 2>, _f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    None
}

/// `lhs[m, k] · rhs[k, n]` row-major, the columns split in blocks over the rayon pool.
fn par_product(m: usize, n: usize, k: usize, lhs: View<'_>, rhs: View<'_>) -> Vec<f32> {
    let blocks = n.div_ceil(COLUMNS_PER_BLOCK);
    let parts: Vec<Vec<f32>> = (0..blocks)
        .into_par_iter()
        .map(|block| {
            let start = block * COLUMNS_PER_BLOCK;
            let cols = COLUMNS_PER_BLOCK.min(n - start);
            let mut out = vec![0.0f32; m * cols];
            // Column `start` of rhs is `start · col_stride` elements in.
            let rhs = View {
                data: &rhs.data[start * rhs.col_stride..],
                ..rhs
            };
            matmul(m, cols, k, &mut out, cols, false, lhs, rhs, 1.0);
            out
        })
        .collect();
    let mut out = vec![0.0f32; m * n];
    for (block, part) in parts.iter().enumerate() {
        let start = block * COLUMNS_PER_BLOCK;
        let cols = part.len() / m.max(1);
        for r in 0..m {
            out[r * n + start..r * n + start + cols].copy_from_slice(&part[r * cols..(r + 1) * cols]);
        }
    }
    out
}

/// `x[rows, in] · w` with `w` stored `[in, out]` (`transposed = false`) or `[out, in]`
/// (`transposed = true`, e.g. a tied LM head read from the embedding), on the CPU inference
/// backend; `Err` gives `x` back when `w` cannot be borrowed.
#[allow(clippy::result_large_err)] // the input itself comes back, as in every fused dispatch
pub(crate) fn cpu(
    x: Tensor<Cpu, 2>,
    w: &Tensor<Cpu, 2>,
    transposed: bool,
) -> Result<Tensor<Cpu, 2>, Tensor<Cpu, 2>> {
    let [rows, inner] = x.dims();
    let [a, b] = w.dims();
    let (k, n) = if transposed { (b, a) } else { (a, b) };
    if k != inner {
        return Err(x);
    }
    let product = |input: &[f32]| {
        with_slice(w, |weights| {
            let rhs = if transposed {
                View::rows(weights, k).t()
            } else {
                View::rows(weights, n)
            };
            par_product(rows, n, k, View::rows(input, k), rhs)
        })
    };
    // The input too is read in place when it is contiguous.
    let done = match with_slice(&x, product) {
        Some(done) => done,
        None => product(&to_host::<2>(x.clone().into_primitive().tensor())),
    };
    match done {
        Some(out) => Ok(Tensor::from_primitive(TensorPrimitive::Float(from_host(
            out,
            [rows, n],
        )))),
        None => Err(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn matches_burns_matmul_in_both_layouts_and_across_blocks() {
        let device = crate::backend::cpu_device();
        let (rows, k, n) = (3, 5, 2 * COLUMNS_PER_BLOCK + 7);
        let x: Vec<f32> = (0..rows * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let w: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let x = Tensor::<Cpu, 2>::from_data(TensorData::new(x, [rows, k]), &device);
        let w = Tensor::<Cpu, 2>::from_data(TensorData::new(w, [k, n]), &device);
        let expect = x.clone().matmul(w.clone()).into_data().to_vec::<f32>().unwrap();
        let plain = cpu(x.clone(), &w, false).ok().unwrap();
        let wt = w.clone().transpose().into_data();
        let wt = Tensor::<Cpu, 2>::from_data(wt, &device); // [n, k], contiguous
        let tied = cpu(x, &wt, true).ok().unwrap();
        for got in [plain, tied] {
            let got = got.into_data().to_vec::<f32>().unwrap();
            for (a, b) in got.iter().zip(&expect) {
                assert!((a - b).abs() < 1e-4, "{a} vs {b}");
            }
        }
    }
}
