//! Small single-threaded GEMMs on host slices for the fused CPU kernels, through the `gemm`
//! crate (AVX-512 kernels picked at run time with its `x86-v4` feature; no BLAS library, so
//! `OPENBLAS_CORETYPE` does not apply). The kernels parallelise over independent blocks with
//! rayon, so each product here runs on the calling thread.

/// A row-major or transposed view of a matrix in a slice: element `(r, c)` lies at
/// `r * row_stride + c * col_stride`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> View<'a> {
    /// A row-major `[rows, cols]` matrix with rows `cols` apart.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of this view.
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// The view without its first `row` rows.
    pub fn skip_rows(self, row: usize) -> Self {
        Self {
            data: &self.data[row * self.row_stride..],
            ..self
        }
    }
}

/// `dst[m, n] (row-major, rows dst_cols apart) = accumulate·dst + alpha·lhs[m, k]·rhs[k, n]`.
///
/// # Panics
/// If a view is too short for the shape (checked before any unsafe access).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_cols: usize,
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
    alpha: f32,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |v: &View<'_>, rows: usize, cols: usize| (rows - 1) * v.row_stride + (cols - 1) * v.col_stride;
    assert!(
        dst_cols >= n && (m - 1) * dst_cols + n <= dst.len(),
        "gemm: destination too short"
    );
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_cols..r * dst_cols + n].fill(0.0);
            }
        }
        return;
    }
    assert!(last(&lhs, m, k) < lhs.data.len(), "gemm: lhs too short");
    assert!(last(&rhs, k, n) < rhs.data.len(), "gemm: rhs too short");
    // SAFETY: every index the product touches is within the slices (asserted above); dst does
    // not alias lhs or rhs (a `&mut` beside two `&`).
    unsafe {
        raw(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cols,
            accumulate,
            lhs,
            0,
            rhs,
            0,
            alpha,
        )
    }
}

/// The one call into the `gemm` crate: `dst[m, n]` (rows `dst_cols` apart) `= accumulate·dst +
/// alpha·lhs[m, k]·rhs[k, n]`, the operands read from `lhs_at` and `rhs_at` elements into
/// their views, on the calling thread.
///
/// # Safety
/// Every element the product reads or writes lies within the views and `dst`'s allocation,
/// and `dst` aliases neither operand.
#[allow(clippy::too_many_arguments)]
unsafe fn raw(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_cols: usize,
    accumulate: bool,
    lhs: View<'_>,
    lhs_at: usize,
    rhs: View<'_>,
    rhs_at: usize,
    alpha: f32,
) {
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_cols as isize,
            accumulate,
            lhs.data.as_ptr().add(lhs_at),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr().add(rhs_at),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            if accumulate { 1.0 } else { 0.0 },
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// A raw destination pointer that rayon's blocks share; each block writes a disjoint part.
#[derive(Clone, Copy)]
struct Dst(*mut f32);
// SAFETY: the blocks of `par_matmul` write disjoint elements, and the borrow of the destination
// outlives the parallel loop.
unsafe impl Send for Dst {}
unsafe impl Sync for Dst {}

impl Dst {
    /// The element `offset` places in (a method, so a closure captures the whole `Dst`).
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// Smallest block along the split axis: below this a `gemm` call's set-up (packing) outweighs
/// the product.
const MIN_BLOCK: usize = 32;

/// `dst[m, n]` (row-major, contiguous) `= lhs[m, k]·rhs[k, n]` (`+=` with `accumulate`), split
/// into blocks over the rayon pool: by rows of `dst` when it is at least as tall as it is wide,
/// else by columns, so a single-row product (decoding) is parallel too. Each element is computed by one block with
/// the same reduction order for any thread count, so the result is deterministic.
///
/// This replaces BLAS in the training loop: OpenBLAS's own thread pool spun in `sched_yield`
/// between the many GEMMs of a step, a third of a step on two cores (docs/bench/README.md).
///
/// # Panics
/// If a view is too short for the shape (checked before any unsafe access).
pub(crate) fn par_matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    use rayon::prelude::*;
    assert_eq!(dst.len(), m * n, "gemm: destination of the wrong size");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    let last = |v: &View<'_>, rows: usize, cols: usize| (rows - 1) * v.row_stride + (cols - 1) * v.col_stride;
    assert!(last(&lhs, m, k) < lhs.data.len(), "gemm: lhs too short");
    assert!(last(&rhs, k, n) < rhs.data.len(), "gemm: rhs too short");
    let by_rows = m >= n;
    let extent = if by_rows { m } else { n };
    let blocks = (rayon::current_num_threads() * 4)
        .min(extent.div_ceil(MIN_BLOCK))
        .max(1);
    let size = extent.div_ceil(blocks);
    let out = Dst(dst.as_mut_ptr());
    (0..extent.div_ceil(size)).into_par_iter().for_each(|block| {
        let start = block * size;
        let len = size.min(extent - start);
        let (rows, cols, dst_at, lhs_at, rhs_at) = if by_rows {
            (len, n, start * n, start * lhs.row_stride, 0)
        } else {
            (m, len, start, 0, start * rhs.col_stride)
        };
        // SAFETY: the whole matrices lie within the slices (asserted above), a block reads and
        // writes a sub-matrix of them, and blocks write disjoint rows or columns of `dst`.
        unsafe {
            raw(
                rows,
                cols,
                k,
                out.at(dst_at),
                n,
                accumulate,
                lhs,
                lhs_at,
                rhs,
                rhs_at,
                1.0,
            )
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_naive_product_in_every_layout() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32).sin()).collect();
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect(); // [k, m]
        let mut expect = vec![0.0f32; m * n];
        for r in 0..m {
            for c in 0..n {
                expect[r * n + c] = (0..k).map(|x| a[r * k + x] * b[x * n + c]).sum::<f32>() * 2.0 + 1.0;
            }
        }
        for lhs in [View::rows(&a, k), View::rows(&at, m).t()] {
            let mut dst = vec![1.0f32; m * n];
            matmul(m, n, k, &mut dst, n, true, lhs, View::rows(&b, n), 2.0);
            for (x, y) in dst.iter().zip(&expect) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn the_parallel_product_splits_rows_or_columns_and_matches_the_plain_one() {
        for (m, n, k) in [(300, 7, 5), (3, 500, 9), (1, 1, 1), (64, 64, 0)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut expect = vec![0.0f32; m * n];
            matmul(
                m,
                n,
                k,
                &mut expect,
                n,
                false,
                View::rows(&a, k),
                View::rows(&b, n),
                1.0,
            );
            let mut got = vec![f32::NAN; m * n];
            par_matmul(m, n, k, &mut got, false, View::rows(&a, k), View::rows(&b, n));
            assert_eq!(got, expect, "{m}x{n}x{k}");
            // Accumulating adds the product once more.
            par_matmul(m, n, k, &mut got, true, View::rows(&a, k), View::rows(&b, n));
            for (g, e) in got.iter().zip(&expect) {
                assert_eq!(*g, e + e, "{m}x{n}x{k}");
            }
        }
    }
}
