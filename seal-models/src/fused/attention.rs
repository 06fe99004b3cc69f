//! Causal grouped-query attention as one operation with an analytic backward (CPU).
//!
//! Tensors stay sequence-major (`[batch, seq, heads, head_dim]`, as the projections produce
//! them), read and written through strides, so no transpose is copied. Forward, per batch row
//! (the unit of parallelism) and query head: queries are processed in tiles of [`TILE`]
//! rows against the head's kv head (keys and values are never repeated). A tile's scores are
//! computed only up to the last key any of its queries may see (causality halves the work),
//! masked, soft-maxed in place and multiplied by V.
//!
//! **Saved for backward**: q, k, v, the output and each query row's log-sum-exp (host buffers:
//! moved out of their tensors when nothing else holds them, else copied).
//! Never the `seq_len x seq_len` probabilities: the backward recomputes each tile's scores
//! from q and k and rebuilds the probabilities from the log-sum-exp, then
//! `dV += Pᵀ·dO`, `dP = dO·Vᵀ`, `dS = P ∘ (dP − rowsum(dO ∘ O))`, `dQ = scale·dS·K`,
//! `dK += scale·dSᵀ·Q` (the FlashAttention-2 backward).
//!
//! **Masking** is the model's: query `i` (absolute position `past_len + i`) sees key `j` when
//! `j ≤ past_len + i` and key `j` is a real token. A query that sees no key at all (a
//! left-padding position in batched generation) gets the mean of all values, exactly what the
//! decomposed ops give with their finite `-1e9` bias; such rows never carry a gradient in
//! training (their outputs are never scored), and the backward passes their output gradient
//! to V only.

use std::sync::Arc;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::{Tensor, TensorPrimitive};
use rayon::prelude::*;

use super::gemm::{View, matmul};
use super::{from_host, host_to_tensor, tensor_to_host as host, to_host, vexp};
use crate::backend::Cpu;

/// Query rows per tile: a tile's scores (`TILE x seq_len` floats) stay in the L2 cache.
pub(crate) const TILE: usize = 64;

/// Which keys each query may see (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttentionMask {
    /// `batch * total_len`: 1 for a real key, 0 for padding.
    pub key_valid: Vec<u8>,
    /// Keys held before the first query (a KV cache's length); query `i` is at `past_len + i`.
    pub past_len: usize,
}

/// Sizes of one attention call. Tensors are sequence-major, the layout the projections
/// produce: q and the output `[batch, seq_len, heads, head_dim]`, k and v
/// `[batch, total, kv_heads, head_dim]`, so no transpose is ever copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub batch: usize,
    pub heads: usize,
    pub kv_heads: usize,
    /// Queries per row.
    pub seq_len: usize,
    /// Keys per row (`past_len + seq_len`).
    pub total: usize,
    /// Key positions each batch row of k and v is allotted in storage (`total`, except in a
    /// host KV cache, which reserves room to grow: see `HostKv`).
    pub kv_capacity: usize,
    pub head_dim: usize,
}

impl Dims {
    fn n_rep(&self) -> usize {
        self.heads / self.kv_heads
    }
    /// Floats of one batch row of q (or the output).
    fn q_row(&self) -> usize {
        self.seq_len * self.heads * self.head_dim
    }
    /// Floats of one batch row of k (or v).
    fn kv_row(&self) -> usize {
        self.total * self.kv_heads * self.head_dim
    }
    /// Floats from one batch row of k (or v) in storage to the next.
    fn kv_stride(&self) -> usize {
        self.kv_capacity * self.kv_heads * self.head_dim
    }
    /// Query head `head`'s `[seq_len, head_dim]` rows inside one batch row of q.
    fn q_view<'a>(&self, q: &'a [f32], head: usize) -> View<'a> {
        View {
            data: &q[head * self.head_dim..],
            row_stride: self.heads * self.head_dim,
            col_stride: 1,
        }
    }
    /// Kv head `g`'s `[total, head_dim]` rows inside one batch row of k or v.
    fn kv_view<'a>(&self, kv: &'a [f32], g: usize) -> View<'a> {
        View {
            data: &kv[g * self.head_dim..],
            row_stride: self.kv_heads * self.head_dim,
            col_stride: 1,
        }
    }
}

/// What the backward needs, on the host.
#[derive(Debug)]
pub(crate) struct Saved {
    dims: Dims,
    mask: AttentionMask,
    scale: f32,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    out: Vec<f32>,
    /// `[batch, heads, seq_len]`; `-inf` marks a query that sees no key.
    lse: Vec<f32>,
}

/// The keys query `i` of a row may see: `j < limit(i)` and `valid[j]`.
struct RowMask<'a> {
    valid: &'a [u8],
    past_len: usize,
    total: usize,
}

impl RowMask<'_> {
    fn limit(&self, i: usize) -> usize {
        (self.past_len + i + 1).min(self.total)
    }
    fn visible(&self, i: usize, j: usize) -> bool {
        j < self.limit(i) && self.valid[j] != 0
    }
}

/// Forward on host slices: returns `(out, lse)`.
pub(crate) fn forward_host(
    dims: Dims,
    mask: &AttentionMask,
    scale: f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let (d, s, h) = (dims.head_dim, dims.seq_len, dims.heads);
    let mut out = vec![0.0f32; q.len()];
    let mut lse = vec![0.0f32; dims.batch * h * s];
    out.par_chunks_mut(dims.q_row())
        .zip(lse.par_chunks_mut(h * s))
        .enumerate()
        .for_each(|(row, (out, lse))| {
            let rm = RowMask {
                valid: &mask.key_valid[row * dims.total..(row + 1) * dims.total],
                past_len: mask.past_len,
                total: dims.total,
            };
            let q = &q[row * dims.q_row()..(row + 1) * dims.q_row()];
            let k = &k[row * dims.kv_stride()..][..dims.kv_row()];
            let v = &v[row * dims.kv_stride()..][..dims.kv_row()];
            let mut scores = vec![0.0f32; TILE * dims.total];
            for head in 0..h {
                let g = head / dims.n_rep();
                let (kg, vg) = (dims.kv_view(k, g), dims.kv_view(v, g));
                let lse = &mut lse[head * s..(head + 1) * s];
                for i0 in (0..s).step_by(TILE) {
                    let i1 = (i0 + TILE).min(s);
                    let nr = i1 - i0;
                    // The tile's last query sees the most keys.
                    let len = rm.limit(i1 - 1);
                    let p = &mut scores[..nr * len];
                    matmul(
                        nr,
                        len,
                        d,
                        p,
                        len,
                        false,
                        dims.q_view(q, head).skip_rows(i0),
                        kg.t(),
                        scale,
                    );
                    let mut empty = Vec::new();
                    for (r, i) in (i0..i1).enumerate() {
                        lse[i] = softmax_row(&mut p[r * len..(r + 1) * len], |j| rm.visible(i, j));
                        if lse[i] == f32::NEG_INFINITY {
                            empty.push(i);
                        }
                    }
                    let dst = &mut out[(i0 * h + head) * d..];
                    matmul(nr, d, len, dst, h * d, false, View::rows(p, len), vg, 1.0);
                    for i in empty {
                        let mean = column_mean(vg, dims.total, d);
                        out[(i * h + head) * d..(i * h + head + 1) * d].copy_from_slice(&mean);
                    }
                }
            }
        });
    (out, lse)
}

/// Soft-maxes `row` in place over the keys `visible` admits, zeroing the rest; returns the
/// log-sum-exp, or `-inf` (and an all-zero row) when no key is visible.
fn softmax_row(row: &mut [f32], visible: impl Fn(usize) -> bool) -> f32 {
    let mut max = f32::NEG_INFINITY;
    for (j, x) in row.iter_mut().enumerate() {
        if visible(j) {
            max = max.max(*x);
        } else {
            *x = f32::NEG_INFINITY;
        }
    }
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return f32::NEG_INFINITY;
    }
    // exp(-inf) is exactly 0: masked keys drop out without a branch.
    let sum = vexp::exp_in_place(row, max);
    vexp::scale_in_place(row, 1.0 / sum);
    max + sum.ln()
}

fn column_mean(v: View<'_>, rows: usize, d: usize) -> Vec<f32> {
    let mut mean = vec![0.0f32; d];
    for r in 0..rows {
        for (c, m) in mean.iter_mut().enumerate() {
            *m += v.data[r * v.row_stride + c * v.col_stride];
        }
    }
    let inv = 1.0 / rows as f32;
    mean.iter_mut().for_each(|m| *m *= inv);
    mean
}

/// Backward on host slices: returns `(dq, dk, dv)`.
pub(crate) fn backward_host(saved: &Saved, dout: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let dims = saved.dims;
    let (d, s, h, kvh) = (dims.head_dim, dims.seq_len, dims.heads, dims.kv_heads);
    let mut dq = vec![0.0f32; saved.q.len()];
    let mut dk = vec![0.0f32; saved.k.len()];
    let mut dv = vec![0.0f32; saved.v.len()];
    dq.par_chunks_mut(dims.q_row())
        .zip(dk.par_chunks_mut(dims.kv_row()))
        .zip(dv.par_chunks_mut(dims.kv_row()))
        .enumerate()
        .for_each(|(row, ((dq, dk), dv))| {
            let rm = RowMask {
                valid: &saved.mask.key_valid[row * dims.total..(row + 1) * dims.total],
                past_len: saved.mask.past_len,
                total: dims.total,
            };
            let span = row * dims.q_row()..(row + 1) * dims.q_row();
            let (q, o, dout) = (&saved.q[span.clone()], &saved.out[span.clone()], &dout[span]);
            let kv_span = row * dims.kv_row()..(row + 1) * dims.kv_row();
            let (k, v) = (&saved.k[kv_span.clone()], &saved.v[kv_span]);
            let lse = &saved.lse[row * h * s..(row + 1) * h * s];
            let mut p = vec![0.0f32; TILE * dims.total];
            let mut dp = vec![0.0f32; TILE * dims.total];
            for head in 0..h {
                let g = head / dims.n_rep();
                let (kg, vg) = (dims.kv_view(k, g), dims.kv_view(v, g));
                let (qh, doh) = (dims.q_view(q, head), dims.q_view(dout, head));
                let lse = &lse[head * s..(head + 1) * s];
                for i0 in (0..s).step_by(TILE) {
                    let i1 = (i0 + TILE).min(s);
                    let nr = i1 - i0;
                    let len = rm.limit(i1 - 1);
                    let (p, dp) = (&mut p[..nr * len], &mut dp[..nr * len]);
                    matmul(nr, len, d, p, len, false, qh.skip_rows(i0), kg.t(), saved.scale);
                    for (r, i) in (i0..i1).enumerate() {
                        let prow = &mut p[r * len..(r + 1) * len];
                        if lse[i] == f32::NEG_INFINITY {
                            // No visible key: the output was mean(V), so only V gets a gradient.
                            prow.fill(0.0);
                            let inv = 1.0 / dims.total as f32;
                            for j in 0..dims.total {
                                let dst = &mut dv[(j * kvh + g) * d..(j * kvh + g + 1) * d];
                                for (x, y) in dst.iter_mut().zip(&dout[(i * h + head) * d..]) {
                                    *x += y * inv;
                                }
                            }
                            continue;
                        }
                        // Hidden keys to -inf, whose exp is exactly 0, then one vectorised pass.
                        for (j, x) in prow.iter_mut().enumerate() {
                            if !rm.visible(i, j) {
                                *x = f32::NEG_INFINITY;
                            }
                        }
                        vexp::exp_in_place(prow, lse[i]);
                    }
                    let dv_g = &mut dv[g * d..];
                    matmul(
                        len,
                        d,
                        nr,
                        dv_g,
                        kvh * d,
                        true,
                        View::rows(p, len).t(),
                        doh.skip_rows(i0),
                        1.0,
                    );
                    matmul(nr, len, d, dp, len, false, doh.skip_rows(i0), vg.t(), 1.0);
                    for (r, i) in (i0..i1).enumerate() {
                        let at = (i * h + head) * d;
                        let delta: f32 = dout[at..at + d]
                            .iter()
                            .zip(&o[at..at + d])
                            .map(|(a, b)| a * b)
                            .sum();
                        for (ds, pr) in dp[r * len..(r + 1) * len]
                            .iter_mut()
                            .zip(&p[r * len..(r + 1) * len])
                        {
                            *ds = pr * (*ds - delta);
                        }
                    }
                    let dq_h = &mut dq[(i0 * h + head) * d..];
                    matmul(
                        nr,
                        d,
                        len,
                        dq_h,
                        h * d,
                        false,
                        View::rows(dp, len),
                        kg,
                        saved.scale,
                    );
                    let dk_g = &mut dk[g * d..];
                    matmul(
                        len,
                        d,
                        nr,
                        dk_g,
                        kvh * d,
                        true,
                        View::rows(dp, len).t(),
                        qh.skip_rows(i0),
                        saved.scale,
                    );
                }
            }
        });
    (dq, dk, dv)
}

#[derive(Debug)]
struct AttentionBackward;

impl Backward<Cpu, 3> for AttentionBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let saved = ops.state;
        let dout = to_host::<4>(grads.consume::<Cpu>(&ops.node));
        let (dq, dk, dv) = backward_host(&saved, &dout);
        let dims = saved.dims;
        let q_shape = [dims.batch, dims.seq_len, dims.heads, dims.head_dim];
        let kv_shape = [dims.batch, dims.total, dims.kv_heads, dims.head_dim];
        let [node_q, node_k, node_v] = ops.parents;
        for (node, grad, shape) in [
            (node_q, dq, q_shape),
            (node_k, dk, kv_shape),
            (node_v, dv, kv_shape),
        ] {
            if let Some(node) = node {
                grads.register::<Cpu>(node.id, from_host(grad, shape));
            }
        }
    }
}

fn dims_of(q: [usize; 4], k: [usize; 4]) -> Dims {
    Dims {
        batch: q[0],
        seq_len: q[1],
        heads: q[2],
        total: k[1],
        kv_capacity: k[1],
        kv_heads: k[2],
        head_dim: q[3],
    }
}

/// Inference on the CPU backend: `[batch, seq, heads, d]` queries against
/// `[batch, total, kv_heads, d]` keys and values.
pub(crate) fn cpu(
    q: Tensor<Cpu, 4>,
    k: Tensor<Cpu, 4>,
    v: Tensor<Cpu, 4>,
    mask: &AttentionMask,
    scale: f32,
) -> Tensor<Cpu, 4> {
    let dims = dims_of(q.dims(), k.dims());
    let shape = q.dims();
    let (q, k, v) = (host(q), host(k), host(v));
    let (out, _) = forward_host(dims, mask, scale, &q, &k, &v);
    host_to_tensor(out, shape)
}

/// Inference against a host KV cache: `[batch, seq, heads, d]` queries against the filled
/// positions of the cache's keys and values, read in place (see `HostKv`).
pub(crate) fn cpu_host_kv(
    q: Tensor<Cpu, 4>,
    cache: &super::HostKv,
    mask: &AttentionMask,
    scale: f32,
) -> Tensor<Cpu, 4> {
    let shape = q.dims();
    let dims = Dims {
        kv_capacity: cache.capacity,
        ..dims_of(
            shape,
            [cache.batch, cache.total, cache.width / shape[3], shape[3]],
        )
    };
    let (out, _) = forward_host(dims, mask, scale, &host(q), &cache.k, &cache.v);
    host_to_tensor(out, shape)
}

/// Training on the CPU backend: the forward above, recorded with [`AttentionBackward`].
pub(crate) fn cpu_train(
    q: Tensor<Autodiff<Cpu>, 4>,
    k: Tensor<Autodiff<Cpu>, 4>,
    v: Tensor<Autodiff<Cpu>, 4>,
    mask: &AttentionMask,
    scale: f32,
) -> Tensor<Autodiff<Cpu>, 4> {
    let dims = dims_of(q.dims(), k.dims());
    let shape = q.dims();
    let (q, k, v) = (
        q.into_primitive().tensor(),
        k.into_primitive().tensor(),
        v.into_primitive().tensor(),
    );
    let prep = AttentionBackward
        .prepare::<NoCheckpointing>([q.node.clone(), k.node.clone(), v.node.clone()])
        .compute_bound()
        .stateful();
    // The inputs move to the host: no copy when nothing else holds them (the usual case).
    let (hq, hk, hv) = (
        to_host::<4>(q.primitive),
        to_host::<4>(k.primitive),
        to_host::<4>(v.primitive),
    );
    let (out, lse) = forward_host(dims, mask, scale, &hq, &hk, &hv);
    let out = match prep {
        OpsKind::Tracked(prep) => {
            let output = from_host(out.clone(), shape);
            let saved = Saved {
                dims,
                mask: mask.clone(),
                scale,
                q: hq,
                k: hk,
                v: hv,
                out,
                lse,
            };
            prep.finish(Arc::new(saved), output)
        }
        OpsKind::UnTracked(prep) => prep.finish(from_host(out, shape)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
