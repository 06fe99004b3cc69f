//! Fused operations with their own analytic backward (Burn custom autodiff ops).
//!
//! Under autodiff Burn 0.21 records attention, softmax and log-softmax as chains of primitive
//! ops on every backend, keeping `seq x seq` scores per head and several `rows x vocab`
//! copies alive until the backward pass. The operations here replace those chains:
//!
//! - [`attention`]: causal grouped-query attention, tiled over query rows, on host kernels for
//!   the CPU backend (`attention.rs`); other backends keep the decomposed ops.
//! - [`lm_loss`]: the LM head fused with the token cross-entropy, in chunks of rows, on host
//!   kernels for the CPU backend and tensor ops on any other (`lm_loss.rs`).
//! - [`matmul`]: the dense products (projections, LoRA, the LM head's chunks) on host GEMMs
//!   over the rayon pool for the CPU backends, with their own backward (`linear.rs`).
//! - [`reshape`]: a reshape that shares the buffer of a row-major CPU tensor (Burn's copies),
//!   with a backward that reshapes the gradient the same way (`reshape.rs`).
//! - [`rms_norm`], [`swiglu`] and [`rope`]: RMSNorm, SwiGLU's gate and rotary embeddings, on
//!   host kernels for the CPU backend (`rms_norm.rs`, `swiglu.rs`, `rope.rs`).
//!
//! Each module's doc says what it saves for backward. One more, [`adam_step`], is no graph op:
//! Adam's update of a parameter in one pass over host slices (`adam.rs`).
//!
//! The model is generic over Burn's `Backend`, and a custom backward exists only for the
//! concrete `Autodiff<Inner>` types. Burn's own extension pattern (a backend trait of our own
//! that every backend implements) would change the bound of every module and of everything
//! `#[derive(Module)]` generates for them, so the dispatch is by type instead: [`cast`] moves
//! a value to the concrete type when (and only when) it is that type.

pub(crate) mod adam;
pub(crate) mod attention;
mod gemm;
pub(crate) mod linear;
pub(crate) mod lm_loss;
pub(crate) mod reshape;
pub(crate) mod rms_norm;
pub(crate) mod rope;
pub(crate) mod swiglu;
mod vexp;

use std::any::Any;

use burn::backend::Autodiff;
use burn::optim::AdamState;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Int, Tensor, TensorData, TensorPrimitive};

pub use attention::AttentionMask;
pub use lm_loss::HeadLayout;
pub use rope::RopeAngles;

use crate::backend::Cpu;
use crate::train::AdamSettings;

/// `x` as a `U` if `T` is `U`, else `x` back.
fn cast<T: 'static, U: 'static>(x: T) -> Result<U, T> {
    let mut slot = Some(x);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
        Some(u) => Ok(u.take().expect("the slot was just filled")),
        None => Err(slot.expect("the slot is untouched when the cast fails")),
    }
}

/// [`cast`] where the types are known to be equal (the way back from a concrete type).
fn same<T: 'static, U: 'static>(x: T) -> U {
    cast(x).unwrap_or_else(|_| unreachable!("cast back to the type just cast from"))
}

/// A CPU float primitive's elements, row-major: the buffer itself when nothing else holds it
/// (a gradient handed to a backward, a projection's output), else one copy.
fn to_host<const D: usize>(t: FloatTensor<Cpu>) -> Vec<f32> {
    // A contiguous array is copied as one block; Burn's `into_data` walks every element through
    // a dynamic-rank iterator (a tenth of generation's time when it copied the KV cache).
    #[cfg(not(feature = "flex"))]
    {
        use burn::backend::ndarray::NdArrayTensor;
        let (row_major, unique) = match &t {
            // `is_unique`: owned (not borrowed from a file) and held by no other tensor.
            NdArrayTensor::F32(storage) => (storage.view().is_standard_layout(), storage.is_unique()),
            _ => (false, false),
        };
        match t {
            NdArrayTensor::F32(storage) if row_major && unique => {
                let array = storage.into_owned();
                let len = array.len();
                // Unique, so `into_owned` moves the buffer out of its `Arc` without copying.
                let (mut data, offset) = array.into_owned().into_raw_vec_and_offset();
                let start = offset.unwrap_or(0);
                // A view into part of its buffer (a narrowed tensor) keeps just that part.
                data.truncate(start + len);
                data.drain(..start);
                return data;
            }
            NdArrayTensor::F32(ref storage) if row_major => {
                return storage.view().to_slice().expect("row-major").to_vec();
            }
            _ => {}
        }
    }
    Tensor::<Cpu, D>::from_primitive(TensorPrimitive::Float(t))
        .into_data()
        .into_vec::<f32>()
        .expect("the CPU backend's float tensors are f32")
}

/// [`to_host`] of a CPU tensor.
fn tensor_to_host<const D: usize>(t: Tensor<Cpu, D>) -> Vec<f32> {
    to_host::<D>(t.into_primitive().tensor())
}

/// [`from_host`] as a CPU tensor.
fn host_to_tensor<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> Tensor<Cpu, D> {
    Tensor::from_primitive(TensorPrimitive::Float(from_host(data, shape)))
}

/// Row-major elements as a CPU float primitive.
fn from_host<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> FloatTensor<Cpu> {
    Tensor::<Cpu, D>::from_data(TensorData::new(data, shape), &crate::backend::cpu_device())
        .into_primitive()
        .tensor()
}

/// Whether [`attention`] runs fused on backend `B` (else the caller keeps its decomposed ops).
pub fn attention_is_fused<B: Backend>() -> bool {
    use std::any::TypeId;
    let id = TypeId::of::<B>();
    id == TypeId::of::<Cpu>() || id == TypeId::of::<Autodiff<Cpu>>()
}

/// Causal grouped-query attention (see `attention.rs`), sequence-major: `q`
/// `[batch, seq, heads, head_dim]`, `k` and `v` `[batch, total, kv_heads, head_dim]` ->
/// `[batch, seq, heads, head_dim]`.
/// `Err` gives the inputs back on a backend without the fused op
/// ([`attention_is_fused`] is false).
#[allow(clippy::type_complexity)]
pub fn attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: &AttentionMask,
    scale: f32,
) -> Result<Tensor<B, 4>, (Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 4>)> {
    let qkv = match cast::<_, (Tensor<Autodiff<Cpu>, 4>, _, _)>((q, k, v)) {
        Ok((q, k, v)) => return Ok(same(attention::cpu_train(q, k, v, mask, scale))),
        Err(qkv) => qkv,
    };
    match cast::<_, (Tensor<Cpu, 4>, _, _)>(qkv) {
        Ok((q, k, v)) => Ok(same(attention::cpu(q, k, v, mask, scale))),
        Err(qkv) => Err(qkv),
    }
}

/// `a[m, k] · b[k, n]` (see `linear.rs`): on the CPU backends a host product that reads both
/// operands in place (a transposed view too) on the rayon pool, recorded with its own backward
/// under autodiff; Burn's matmul on any other backend.
pub fn matmul<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 2> {
    let ab = match cast::<_, (Tensor<Autodiff<Cpu>, 2>, _)>((a, b)) {
        Ok((a, b)) => return same(linear::cpu_train(a, b)),
        Err(ab) => ab,
    };
    match cast::<_, (Tensor<Cpu, 2>, _)>(ab) {
        Ok((a, b)) => same(linear::cpu(a, b)),
        Err((a, b)) => a.matmul(b),
    }
}

/// `x` with `shape` (the same elements, row-major): on the CPU backends the buffer is shared,
/// not copied (see `reshape.rs`), and recorded with its own backward under autodiff; Burn's
/// reshape on any other backend, and wherever the element counts differ (Burn's error then).
pub fn reshape<B: Backend, const D1: usize, const D2: usize>(
    x: Tensor<B, D1>,
    shape: [usize; D2],
) -> Tensor<B, D2> {
    if x.shape().num_elements() != shape.iter().product::<usize>() {
        return x.reshape(shape);
    }
    let x = match cast::<_, Tensor<Autodiff<Cpu>, D1>>(x) {
        Ok(x) => return same(reshape::cpu_train(x, shape)),
        Err(x) => x,
    };
    match cast::<_, Tensor<Cpu, D1>>(x) {
        Ok(x) => same(reshape::cpu(x, shape)),
        Err(x) => x.reshape(shape),
    }
}

/// One Adam step of a parameter (see `adam.rs`): on the CPU backend one pass over host slices
/// on the rayon pool, bit for bit Burn's Adam; `Err` gives the inputs back on any other backend.
#[allow(clippy::type_complexity)]
pub fn adam_step<B: Backend, const D: usize>(
    settings: &AdamSettings,
    lr: f64,
    param: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<AdamState<B, D>>,
) -> Result<(Tensor<B, D>, AdamState<B, D>), (Tensor<B, D>, Tensor<B, D>, Option<AdamState<B, D>>)> {
    match cast::<_, (Tensor<Cpu, D>, Tensor<Cpu, D>, Option<AdamState<Cpu, D>>)>((param, grad, state)) {
        Ok((param, grad, state)) => Ok(same(adam::cpu_step(settings, lr, param, grad, state))),
        Err(args) => Err(args),
    }
}

/// Keys and values of one layer's KV cache kept on the host, `[batch, capacity, kv_heads,
/// head_dim]` row-major, of which each row's first `total` positions are filled: the CPU
/// inference path of [`attention_cached`] reads them in place instead of copying a Burn tensor
/// of the whole cache to the host at every decoding step. Each row has room to grow, doubled
/// when it runs out, so a decoding step writes only its new positions (re-copying the whole
/// cache at every token made decoding quadratic in memory traffic).
#[derive(Debug, Clone, Default)]
pub struct HostKv {
    k: Vec<f32>,
    v: Vec<f32>,
    batch: usize,
    total: usize,
    capacity: usize,
    /// Floats per position (`kv_heads * head_dim`).
    width: usize,
}

impl HostKv {
    /// Appends `seq` new positions per row (`k_new`, `v_new`: `[batch, seq, kv, d]`), each row's
    /// new block after its old one.
    fn append(&mut self, k_new: &[f32], v_new: &[f32], batch: usize, seq: usize) {
        let width = k_new.len() / (batch * seq).max(1);
        if self.total == 0 {
            (self.batch, self.width, self.capacity) = (batch, width, 0);
        }
        debug_assert_eq!(
            (self.batch, self.width),
            (batch, width),
            "HostKv: batch or width changed"
        );
        if self.total + seq > self.capacity {
            self.reserve((self.total + seq).max(2 * self.capacity));
        }
        let (row, block) = (self.capacity * width, seq * width);
        let at = self.total * width;
        for r in 0..batch {
            let dst = r * row + at;
            self.k[dst..dst + block].copy_from_slice(&k_new[r * block..(r + 1) * block]);
            self.v[dst..dst + block].copy_from_slice(&v_new[r * block..(r + 1) * block]);
        }
        self.total += seq;
    }

    /// Moves every row's filled positions into rows of `capacity` positions.
    fn reserve(&mut self, capacity: usize) {
        let (width, filled) = (self.width, self.total * self.width);
        let (old_row, new_row) = (self.capacity * width, capacity * width);
        let grow = |old: &[f32]| -> Vec<f32> {
            let mut out = vec![0.0; self.batch * new_row];
            for r in 0..self.batch {
                out[r * new_row..r * new_row + filled]
                    .copy_from_slice(&old[r * old_row..r * old_row + filled]);
            }
            out
        };
        (self.k, self.v) = (grow(&self.k), grow(&self.v));
        self.capacity = capacity;
    }

    /// Keeps only the rows `keep` (ascending indices into the current rows), in that order.
    pub(crate) fn retain_rows(&mut self, keep: &[usize]) {
        let row = self.capacity * self.width;
        let pick = |old: &[f32]| -> Vec<f32> {
            let mut out = Vec::with_capacity(keep.len() * row);
            for &r in keep {
                out.extend_from_slice(&old[r * row..(r + 1) * row]);
            }
            out
        };
        (self.k, self.v) = (pick(&self.k), pick(&self.v));
        self.batch = keep.len();
    }
}

/// [`attention`] for inference with a KV cache: the new keys and values are appended to `cache`
/// and the queries attend to all of it. On the CPU inference backend the cache lives on the
/// host ([`HostKv`]); `Err` gives the inputs back on any other backend, whose caller keeps a
/// tensor cache.
#[allow(clippy::type_complexity)]
pub fn attention_cached<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    cache: &mut HostKv,
    mask: &AttentionMask,
    scale: f32,
) -> Result<Tensor<B, 4>, (Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 4>)> {
    match cast::<_, (Tensor<Cpu, 4>, Tensor<Cpu, 4>, Tensor<Cpu, 4>)>((q, k, v)) {
        Ok((q, k, v)) => {
            let [batch, seq, _, _] = k.dims();
            let k_new = to_host::<4>(k.into_primitive().tensor());
            let v_new = to_host::<4>(v.into_primitive().tensor());
            cache.append(&k_new, &v_new, batch, seq);
            Ok(same(attention::cpu_host_kv(q, cache, mask, scale)))
        }
        Err(qkv) => Err(qkv),
    }
}

/// Per-row token losses `logsumexp(H·W) − (H·W)[y]` of hidden rows `[rows, hidden]` (see
/// `lm_loss.rs`), fused under autodiff on the CPU and CUDA training backends and chunked
/// (no graph) on any other; `Err` gives the inputs back on an autodiff backend without it.
#[allow(clippy::type_complexity)]
pub fn lm_loss<B: Backend>(
    layout: HeadLayout,
    hidden: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    targets: Tensor<B, 1, Int>,
) -> Result<Tensor<B, 1>, (Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 1, Int>)> {
    let args = match cast::<_, (Tensor<Autodiff<Cpu>, 2>, _, _)>((hidden, weight, targets)) {
        Ok((h, w, y)) => return Ok(same(lm_loss::cpu_train(layout, h, w, y))),
        Err(args) => args,
    };
    let args = match cast::<_, (Tensor<Cpu, 2>, _, _)>(args) {
        Ok((h, w, y)) => return Ok(same(lm_loss::cpu(layout, h, w, y))),
        Err(args) => args,
    };
    #[cfg(feature = "cuda")]
    let args = match cast::<_, (Tensor<crate::backend::CudaTrain, 2>, _, _)>(args) {
        Ok((h, w, y)) => return Ok(same(lm_loss::train(layout, h, w, y))),
        Err(args) => args,
    };
    let (hidden, weight, targets) = args;
    if hidden.is_require_grad() || weight.is_require_grad() {
        // An autodiff backend this module has no backward for: keep the decomposed ops.
        return Err((hidden, weight, targets));
    }
    Ok(lm_loss::forward(layout, hidden, weight, targets).0)
}

/// RMSNorm of `[batch, seq, hidden]` rows with gain `[hidden]` (see `rms_norm.rs`); `Err` gives
/// the inputs back on a backend without it.
pub fn rms_norm<B: Backend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 1>,
    eps: f32,
) -> Result<Tensor<B, 3>, (Tensor<B, 3>, Tensor<B, 1>)> {
    let args = match cast::<_, (Tensor<Autodiff<Cpu>, 3>, _)>((x, weight)) {
        Ok((x, w)) => return Ok(same(rms_norm::cpu_train(x, w, eps))),
        Err(args) => args,
    };
    match cast::<_, (Tensor<Cpu, 3>, _)>(args) {
        Ok((x, w)) => Ok(same(rms_norm::cpu(x, w, eps))),
        Err(args) => Err(args),
    }
}

/// SwiGLU's gate `silu(a) ∘ b` of two `[batch, seq, intermediate]` projections (see
/// `swiglu.rs`); `Err` gives the inputs back on a backend without it.
pub fn swiglu<B: Backend>(
    a: Tensor<B, 3>,
    b: Tensor<B, 3>,
) -> Result<Tensor<B, 3>, (Tensor<B, 3>, Tensor<B, 3>)> {
    let args = match cast::<_, (Tensor<Autodiff<Cpu>, 3>, _)>((a, b)) {
        Ok((a, b)) => return Ok(same(swiglu::cpu_train(a, b))),
        Err(args) => args,
    };
    match cast::<_, (Tensor<Cpu, 3>, _)>(args) {
        Ok((a, b)) => Ok(same(swiglu::cpu(a, b))),
        Err(args) => Err(args),
    }
}

/// Rotary embeddings of sequence-major heads `[batch, seq, heads, head_dim]` by `angles` (see
/// `rope.rs`); `Err` gives the input back on a backend without it.
pub fn rope<B: Backend>(
    x: Tensor<B, 4>,
    angles: &std::sync::Arc<RopeAngles>,
) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
    let x = match cast::<_, Tensor<Autodiff<Cpu>, 4>>(x) {
        Ok(x) => return Ok(same(rope::cpu_train(x, angles))),
        Err(x) => x,
    };
    match cast::<_, Tensor<Cpu, 4>>(x) {
        Ok(x) => Ok(same(rope::cpu(x, angles))),
        Err(x) => Err(x),
    }
}
