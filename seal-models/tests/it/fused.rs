//! The fused operations against Burn's decomposed ops (values and gradients, rel. 1e-4) and
//! against central finite differences.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use seal_models::backend::{Cpu, CpuTrain, cpu_device};
use seal_models::fused::{self, AttentionMask, HeadLayout};

type T = CpuTrain;

fn random<B: Backend, const D: usize>(shape: [usize; D], seed: u64) -> Vec<f32> {
    B::seed(&Default::default(), seed);
    Tensor::<Cpu, D>::random(shape, Distribution::Normal(0.0, 1.0), &cpu_device())
        .into_data()
        .into_vec::<f32>()
        .unwrap()
}

fn tensor<B: Backend, const D: usize>(data: &[f32], shape: [usize; D]) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(data.to_vec(), shape), &Default::default())
}

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec::<f32>().unwrap()
}

/// `max |a − b| <= rel · max |b|` (plus a floor for all-zero references).
fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1e-6);
    let diff = got
        .iter()
        .zip(want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff <= rel * scale,
        "{what}: max diff {diff} against max |ref| {scale}"
    );
}

/// Attention as Burn's primitive ops, with repeated keys and values and an additive bias:
/// the textbook form, independent of both the model's decomposed path and the fused kernels.
fn reference_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: &AttentionMask,
    scale: f32,
) -> Tensor<B, 4> {
    let [b, h, s, d] = q.dims();
    let [_, kv, t, _] = k.dims();
    let n_rep = h / kv;
    let repeat = |x: Tensor<B, 4>| x.unsqueeze_dim::<5>(2).repeat_dim(2, n_rep).reshape([b, h, t, d]);
    let mut bias = vec![-1e9f32; b * s * t];
    for row in 0..b {
        for i in 0..s {
            for j in 0..=(mask.past_len + i).min(t - 1) {
                if mask.key_valid[row * t + j] != 0 {
                    bias[(row * s + i) * t + j] = 0.0;
                }
            }
        }
    }
    let bias = tensor::<B, 4>(&bias, [b, 1, s, t]);
    let scores = q.matmul(repeat(k).swap_dims(2, 3)).mul_scalar(scale) + bias;
    softmax(scores, 3).matmul(repeat(v))
}

/// The fused op (sequence-major) on head-major tensors, so it and the reference take the same
/// leaves and give gradients in the same layout.
fn fused_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: &AttentionMask,
    scale: f32,
) -> Tensor<B, 4> {
    fused::attention(
        q.swap_dims(1, 2),
        k.swap_dims(1, 2),
        v.swap_dims(1, 2),
        mask,
        scale,
    )
    .unwrap_or_else(|_| panic!("the CPU backends have the fused attention"))
    .swap_dims(1, 2)
}

struct Case {
    dims: [usize; 6], // b, h, kv, s, t, d
    mask: AttentionMask,
}

impl Case {
    fn q_shape(&self) -> [usize; 4] {
        let [b, h, _, s, _, d] = self.dims;
        [b, h, s, d]
    }
    fn kv_shape(&self) -> [usize; 4] {
        let [b, _, kv, _, t, d] = self.dims;
        [b, kv, t, d]
    }
}

/// Two rows crossing a tile boundary (70 queries, tiles of 64), four query heads on two kv
/// heads; the second row right-padded by 12 tokens.
fn padded_case() -> Case {
    let (b, s) = (2, 70);
    let mut key_valid = vec![1u8; b * s];
    key_valid[s + s - 12..].fill(0);
    Case {
        dims: [b, 4, 2, s, s, 8],
        mask: AttentionMask {
            key_valid,
            past_len: 0,
        },
    }
}

/// Gradients of `Σ out ∘ w` through the fused op and through the reference, for leaves made
/// from the same numbers.
fn attention_grads(case: &Case, w_rows_zero: &[usize]) -> [(Vec<f32>, Vec<f32>); 4] {
    let (qs, kvs) = (case.q_shape(), case.kv_shape());
    let (q, k, v) = (
        random::<Cpu, 4>(qs, 1),
        random::<Cpu, 4>(kvs, 2),
        random::<Cpu, 4>(kvs, 3),
    );
    let mut w = random::<Cpu, 4>(qs, 4);
    let [_, _, _, s, _, d] = case.dims;
    for &r in w_rows_zero {
        // (row, head, query) flattened: rows the loss does not score.
        w[r * d..(r + 1) * d].fill(0.0);
    }
    let _ = s;
    let scale = 1.0 / (d as f32).sqrt();
    let run = |fused_op: bool| {
        let (tq, tk, tv) = (
            tensor::<T, 4>(&q, qs).require_grad(),
            tensor::<T, 4>(&k, kvs).require_grad(),
            tensor::<T, 4>(&v, kvs).require_grad(),
        );
        let out = if fused_op {
            fused_attention(tq.clone(), tk.clone(), tv.clone(), &case.mask, scale)
        } else {
            reference_attention(tq.clone(), tk.clone(), tv.clone(), &case.mask, scale)
        };
        let grads = (out.clone() * tensor::<T, 4>(&w, qs)).sum().backward();
        let g = |t: &Tensor<T, 4>| host(t.grad(&grads).unwrap());
        (host(out.inner()), g(&tq), g(&tk), g(&tv))
    };
    let (fo, fq, fk, fv) = run(true);
    let (ro, rq, rk, rv) = run(false);
    [(fo, ro), (fq, rq), (fk, rk), (fv, rv)]
}

#[test]
fn fused_attention_matches_the_decomposed_ops_with_padding_and_grouped_heads() {
    let case = padded_case();
    for (name, (got, want)) in ["output", "dq", "dk", "dv"]
        .iter()
        .zip(attention_grads(&case, &[]))
    {
        assert_close(name, &got, &want, 1e-4);
    }
}

#[test]
fn fused_attention_gives_a_query_with_no_visible_key_the_mean_of_the_values() {
    // Left padding, as batched generation makes it: the first 5 queries of row 1 see nothing.
    let (b, s) = (2, 9);
    let mut key_valid = vec![1u8; b * s];
    key_valid[s..s + 5].fill(0);
    let case = Case {
        dims: [b, 2, 1, s, s, 4],
        mask: AttentionMask {
            key_valid,
            past_len: 0,
        },
    };
    // The unseen rows are never scored in training; everything else must match.
    let [_, h, _, _, _, _] = case.dims;
    let unscored: Vec<usize> = (0..h)
        .flat_map(|head| (0..5).map(move |i| (h + head) * s + i))
        .collect();
    for (name, (got, want)) in ["output", "dq", "dk", "dv"]
        .iter()
        .zip(attention_grads(&case, &unscored))
    {
        assert_close(name, &got, &want, 1e-4);
    }
}

#[test]
fn fused_attention_attends_past_a_cache_without_autodiff() {
    // Three new queries after seven cached keys, one cached key padding.
    let (b, s, t) = (1, 3, 10);
    let mut key_valid = vec![1u8; b * t];
    key_valid[0] = 0;
    let mask = AttentionMask {
        key_valid,
        past_len: 7,
    };
    let (qs, kvs) = ([b, 4, s, 8], [b, 2, t, 8]);
    let (q, k, v) = (
        random::<Cpu, 4>(qs, 5),
        random::<Cpu, 4>(kvs, 6),
        random::<Cpu, 4>(kvs, 7),
    );
    let scale = 0.3;
    let args = || {
        (
            tensor::<Cpu, 4>(&q, qs),
            tensor::<Cpu, 4>(&k, kvs),
            tensor::<Cpu, 4>(&v, kvs),
        )
    };
    let (tq, tk, tv) = args();
    let got = fused_attention(tq, tk, tv, &mask, scale);
    let (tq, tk, tv) = args();
    let want = reference_attention(tq, tk, tv, &mask, scale);
    assert_close("cached output", &host(got), &host(want), 1e-4);
}

#[test]
fn fused_attention_gradients_match_finite_differences() {
    let case = Case {
        dims: [1, 2, 1, 5, 5, 4],
        mask: AttentionMask {
            key_valid: vec![1; 5],
            past_len: 0,
        },
    };
    let (qs, kvs) = (case.q_shape(), case.kv_shape());
    let inputs = [
        random::<Cpu, 4>(qs, 11),
        random::<Cpu, 4>(kvs, 12),
        random::<Cpu, 4>(kvs, 13),
    ];
    let w = random::<Cpu, 4>(qs, 14);
    let loss = |x: &[Vec<f32>; 3]| -> f64 {
        let out = fused_attention(
            tensor::<Cpu, 4>(&x[0], qs),
            tensor::<Cpu, 4>(&x[1], kvs),
            tensor::<Cpu, 4>(&x[2], kvs),
            &case.mask,
            0.5,
        );
        host(out).iter().zip(&w).map(|(a, b)| f64::from(a * b)).sum()
    };
    let leaves = [
        tensor::<T, 4>(&inputs[0], qs).require_grad(),
        tensor::<T, 4>(&inputs[1], kvs).require_grad(),
        tensor::<T, 4>(&inputs[2], kvs).require_grad(),
    ];
    let out = fused_attention(
        leaves[0].clone(),
        leaves[1].clone(),
        leaves[2].clone(),
        &case.mask,
        0.5,
    );
    let grads = (out * tensor::<T, 4>(&w, qs)).sum().backward();
    let eps = 1e-2f32;
    for (which, leaf) in leaves.iter().enumerate() {
        let analytic = host(leaf.grad(&grads).unwrap());
        for i in (0..analytic.len()).step_by(3) {
            let (mut plus, mut minus) = (inputs.clone(), inputs.clone());
            plus[which][i] += eps;
            minus[which][i] -= eps;
            let numeric = (loss(&plus) - loss(&minus)) / f64::from(2.0 * eps);
            let err = (numeric - f64::from(analytic[i])).abs();
            assert!(
                err <= 2e-3 * (1.0 + numeric.abs()),
                "input {which}[{i}]: analytic {} numeric {numeric}",
                analytic[i]
            );
        }
    }
}

/// Row losses as Burn's primitive ops: `−log_softmax(H·W)[y]`.
fn reference_lm_loss<B: Backend>(
    layout: HeadLayout,
    h: Tensor<B, 2>,
    w: Tensor<B, 2>,
    y: Tensor<B, 1, Int>,
) -> Tensor<B, 1> {
    let logits = match layout {
        HeadLayout::HiddenByVocab => h.matmul(w),
        HeadLayout::VocabByHidden => h.matmul(w.transpose()),
    };
    let rows = y.dims()[0];
    log_softmax(logits, 1)
        .gather(1, y.reshape([rows, 1]))
        .reshape([rows])
        .neg()
}

fn lm_loss_against_reference<B: AutodiffBackend>(device: &B::Device) {
    // 2^15 logits per row: the fused op walks 1100 rows in chunks of 128 (tensor ops) or 512
    // (CPU host kernels), the last chunk short, so chunk boundaries are crossed on both.
    let (rows, hidden, vocab) = (1100, 8, 1 << 15);
    let h = random::<Cpu, 2>([rows, hidden], 21);
    let targets: Vec<i64> = (0..rows).map(|r| ((r * 7919) % vocab) as i64).collect();
    let g = random::<Cpu, 1>([rows], 23);
    for layout in [HeadLayout::HiddenByVocab, HeadLayout::VocabByHidden] {
        let w_shape = match layout {
            HeadLayout::HiddenByVocab => [hidden, vocab],
            HeadLayout::VocabByHidden => [vocab, hidden],
        };
        let w = random::<Cpu, 2>(w_shape, 22);
        let run = |fused_op: bool, head_trains: bool| {
            let th =
                Tensor::<B, 2>::from_data(TensorData::new(h.clone(), [rows, hidden]), device).require_grad();
            let tw = Tensor::<B, 2>::from_data(TensorData::new(w.clone(), w_shape), device);
            let tw = if head_trains { tw.require_grad() } else { tw };
            let ty = Tensor::<B, 1, Int>::from_data(TensorData::new(targets.clone(), [rows]), device);
            let losses = if fused_op {
                fused::lm_loss(layout, th.clone(), tw.clone(), ty)
                    .unwrap_or_else(|_| panic!("fused on this backend"))
            } else {
                reference_lm_loss(layout, th.clone(), tw.clone(), ty)
            };
            let tg = Tensor::<B, 1>::from_data(TensorData::new(g.clone(), [rows]), device);
            let grads = (losses.clone() * tg).sum().backward();
            (
                host(losses.inner()),
                host(th.grad(&grads).unwrap()),
                tw.grad(&grads).map(host),
            )
        };
        let (fl, fh, fw) = run(true, true);
        let (rl, rh, rw) = run(false, true);
        assert_close(&format!("{layout:?} losses"), &fl, &rl, 1e-4);
        assert_close(&format!("{layout:?} dH"), &fh, &rh, 1e-4);
        assert_close(&format!("{layout:?} dW"), &fw.unwrap(), &rw.unwrap(), 1e-4);
        // A frozen head (LoRA) gets no gradient, and the rows' gradient is unchanged.
        let (_, frozen_h, frozen_w) = run(true, false);
        assert!(frozen_w.is_none(), "{layout:?}: a gradient for a frozen head");
        assert_close(&format!("{layout:?} dH, frozen head"), &frozen_h, &rh, 1e-4);
    }
}

#[test]
fn fused_lm_loss_matches_the_decomposed_ops_in_both_layouts() {
    lm_loss_against_reference::<T>(&cpu_device());
}

#[test]
fn fused_lm_loss_without_autodiff_gives_the_same_losses() {
    let (rows, hidden, vocab) = (9, 4, 33);
    let h = random::<Cpu, 2>([rows, hidden], 31);
    let w = random::<Cpu, 2>([hidden, vocab], 32);
    let y: Vec<i64> = (0..rows as i64).map(|r| (r * 5) % vocab as i64).collect();
    let args = || {
        (
            tensor::<Cpu, 2>(&h, [rows, hidden]),
            tensor::<Cpu, 2>(&w, [hidden, vocab]),
            Tensor::<Cpu, 1, Int>::from_data(TensorData::new(y.clone(), [rows]), &cpu_device()),
        )
    };
    let (th, tw, ty) = args();
    let got = fused::lm_loss(HeadLayout::HiddenByVocab, th, tw, ty)
        .unwrap_or_else(|_| panic!("no graph: always fused"));
    let (th, tw, ty) = args();
    let want = reference_lm_loss(HeadLayout::HiddenByVocab, th, tw, ty);
    assert_close("losses", &host(got), &host(want), 1e-5);
}

#[test]
fn fused_lm_loss_gradients_match_finite_differences() {
    let (rows, hidden, vocab) = (3, 4, 6);
    let h = random::<Cpu, 2>([rows, hidden], 41);
    let w = random::<Cpu, 2>([vocab, hidden], 42);
    let y: Vec<i64> = vec![0, 5, 2];
    let loss = |h: &[f32], w: &[f32]| -> f64 {
        let out = fused::lm_loss(
            HeadLayout::VocabByHidden,
            tensor::<Cpu, 2>(h, [rows, hidden]),
            tensor::<Cpu, 2>(w, [vocab, hidden]),
            Tensor::<Cpu, 1, Int>::from_data(TensorData::new(y.clone(), [rows]), &cpu_device()),
        )
        .unwrap_or_else(|_| panic!("no graph: always fused"));
        // Unequal row weights, so a wrong per-row scaling shows.
        host(out)
            .iter()
            .enumerate()
            .map(|(r, x)| f64::from(*x) * (r as f64 + 1.0))
            .sum()
    };
    let th = tensor::<T, 2>(&h, [rows, hidden]).require_grad();
    let tw = tensor::<T, 2>(&w, [vocab, hidden]).require_grad();
    let ty = Tensor::<T, 1, Int>::from_data(TensorData::new(y.clone(), [rows]), &cpu_device());
    let out = fused::lm_loss(HeadLayout::VocabByHidden, th.clone(), tw.clone(), ty)
        .unwrap_or_else(|_| panic!("fused"));
    let weights = tensor::<T, 1>(&[1.0, 2.0, 3.0], [rows]);
    let grads = (out * weights).sum().backward();
    let (gh, gw) = (host(th.grad(&grads).unwrap()), host(tw.grad(&grads).unwrap()));
    let eps = 1e-2f32;
    for (i, analytic) in gh.iter().enumerate() {
        let (mut plus, mut minus) = (h.clone(), h.clone());
        plus[i] += eps;
        minus[i] -= eps;
        let numeric = (loss(&plus, &w) - loss(&minus, &w)) / f64::from(2.0 * eps);
        assert!(
            (numeric - f64::from(*analytic)).abs() <= 2e-3 * (1.0 + numeric.abs()),
            "dH[{i}]: {analytic} vs {numeric}"
        );
    }
    for (i, analytic) in gw.iter().enumerate() {
        let (mut plus, mut minus) = (w.clone(), w.clone());
        plus[i] += eps;
        minus[i] -= eps;
        let numeric = (loss(&h, &plus) - loss(&h, &minus)) / f64::from(2.0 * eps);
        assert!(
            (numeric - f64::from(*analytic)).abs() <= 2e-3 * (1.0 + numeric.abs()),
            "dW[{i}]: {analytic} vs {numeric}"
        );
    }
}

/// The CUDA training backend shares the generic fused head (`just test-gpu`).
#[cfg(feature = "cuda")]
#[test]
#[ignore = "needs a GPU"]
fn fused_lm_loss_matches_the_decomposed_ops_on_cuda() {
    lm_loss_against_reference::<seal_models::backend::CudaTrain>(&Default::default());
}

/// Values and gradients of `Σ op(a, b) ∘ w` through the fused op and through `reference`.
fn binary_against_reference<const DB: usize>(
    a_shape: [usize; 3],
    b_shape: [usize; DB],
    fused_op: impl Fn(Tensor<T, 3>, Tensor<T, DB>) -> Tensor<T, 3>,
    reference: impl Fn(Tensor<T, 3>, Tensor<T, DB>) -> Tensor<T, 3>,
) {
    let (a, b, w) = (
        random::<Cpu, 3>(a_shape, 51),
        random::<Cpu, DB>(b_shape, 52),
        random::<Cpu, 3>(a_shape, 53),
    );
    let run = |op: &dyn Fn(Tensor<T, 3>, Tensor<T, DB>) -> Tensor<T, 3>| {
        let (ta, tb) = (
            tensor::<T, 3>(&a, a_shape).require_grad(),
            tensor::<T, DB>(&b, b_shape).require_grad(),
        );
        let out = op(ta.clone(), tb.clone());
        let grads = (out.clone() * tensor::<T, 3>(&w, a_shape)).sum().backward();
        (
            host(out.inner()),
            host(ta.grad(&grads).unwrap()),
            host(tb.grad(&grads).unwrap()),
        )
    };
    let (fo, fa, fb) = run(&fused_op);
    let (ro, ra, rb) = run(&reference);
    assert_close("output", &fo, &ro, 1e-4);
    assert_close("d first input", &fa, &ra, 1e-4);
    assert_close("d second input", &fb, &rb, 1e-4);
}

#[test]
fn fused_rms_norm_matches_the_decomposed_ops() {
    let eps = 1e-5;
    // 2 x 70 rows cross the 64-row blocks.
    binary_against_reference(
        [2, 70, 24],
        [24],
        |x, w| fused::rms_norm(x, w, eps).unwrap_or_else(|_| panic!("fused on CPU")),
        |x, w| {
            let inv = x
                .clone()
                .square()
                .mean_dim(2)
                .add_scalar(f64::from(eps))
                .sqrt()
                .recip();
            x * inv * w.unsqueeze::<3>()
        },
    );
}

#[test]
fn fused_swiglu_matches_the_decomposed_ops() {
    // 2 x 300 x 40 elements cross the 16,384-element blocks.
    binary_against_reference(
        [2, 300, 40],
        [2, 300, 40],
        |a, b| fused::swiglu(a, b).unwrap_or_else(|_| panic!("fused on CPU")),
        |a, b| burn::tensor::activation::silu(a) * b,
    );
}

#[test]
fn fused_rms_norm_and_swiglu_gradients_match_finite_differences() {
    let shape = [1, 3, 5];
    let (x, w) = (random::<Cpu, 3>(shape, 61), random::<Cpu, 1>([5], 62));
    let weights = random::<Cpu, 3>(shape, 63);
    let dot = |y: Vec<f32>| -> f64 { y.iter().zip(&weights).map(|(a, b)| f64::from(a * b)).sum() };
    let norm = |x: &[f32], w: &[f32]| {
        dot(host(
            fused::rms_norm(tensor::<Cpu, 3>(x, shape), tensor::<Cpu, 1>(w, [5]), 1e-5)
                .unwrap_or_else(|_| panic!("fused")),
        ))
    };
    let gate = |a: &[f32], b: &[f32]| {
        dot(host(
            fused::swiglu(tensor::<Cpu, 3>(a, shape), tensor::<Cpu, 3>(b, shape))
                .unwrap_or_else(|_| panic!("fused")),
        ))
    };
    let (tx, tw) = (
        tensor::<T, 3>(&x, shape).require_grad(),
        tensor::<T, 1>(&w, [5]).require_grad(),
    );
    let out = fused::rms_norm(tx.clone(), tw.clone(), 1e-5).unwrap_or_else(|_| panic!("fused"));
    let g = (out * tensor::<T, 3>(&weights, shape)).sum().backward();
    let (gx, gw) = (host(tx.grad(&g).unwrap()), host(tw.grad(&g).unwrap()));
    let (ta, tb) = (
        tensor::<T, 3>(&x, shape).require_grad(),
        tensor::<T, 3>(&weights, shape).require_grad(),
    );
    let out = fused::swiglu(ta.clone(), tb.clone()).unwrap_or_else(|_| panic!("fused"));
    let g = (out * tensor::<T, 3>(&weights, shape)).sum().backward();
    let (ga, gb) = (host(ta.grad(&g).unwrap()), host(tb.grad(&g).unwrap()));
    let eps = 1e-2f32;
    let check = |what: &str, analytic: &[f32], f: &dyn Fn(&[f32]) -> f64, at: &[f32]| {
        for (i, an) in analytic.iter().enumerate() {
            let (mut plus, mut minus) = (at.to_vec(), at.to_vec());
            plus[i] += eps;
            minus[i] -= eps;
            let numeric = (f(&plus) - f(&minus)) / f64::from(2.0 * eps);
            assert!(
                (numeric - f64::from(*an)).abs() <= 2e-3 * (1.0 + numeric.abs()),
                "{what}[{i}]: {an} vs {numeric}"
            );
        }
    };
    check("rms dx", &gx, &|v| norm(v, &w), &x);
    check("rms dw", &gw, &|v| norm(&x, v), &w);
    check("swiglu da", &ga, &|v| gate(v, &weights), &x);
    check("swiglu db", &gb, &|v| gate(&x, v), &weights);
}

#[test]
fn fused_rope_matches_the_decomposed_ops_and_its_backward_is_the_inverse_rotation() {
    use seal_models::llama::rope::{apply_rope, rope_angles, rope_tables};
    let (b, s, h, d) = (2, 5, 3, 8);
    let inv_freq: Vec<f32> = (0..d / 2)
        .map(|i| 1.0 / 10_000f32.powf(2.0 * i as f32 / d as f32))
        .collect();
    // Left-padding-like positions: row 1 starts at 0 two tokens in.
    let positions: Vec<usize> = [0, 1, 2, 3, 4, 0, 0, 0, 1, 2].to_vec();
    let angles = std::sync::Arc::new(rope_angles(&inv_freq, &positions));
    let (cos, sin) = rope_tables::<T>(&inv_freq, &positions, b, s, &cpu_device());
    let (cos, sin) = (cos.reshape([b, s, 1, d]), sin.reshape([b, s, 1, d]));
    let x = random::<Cpu, 4>([b, s, h, d], 71);
    let w = random::<Cpu, 4>([b, s, h, d], 72);
    let run = |fused_op: bool| {
        let tx = tensor::<T, 4>(&x, [b, s, h, d]).require_grad();
        let y = if fused_op {
            fused::rope(tx.clone(), &angles).unwrap_or_else(|_| panic!("fused on CPU"))
        } else {
            apply_rope(tx.clone(), cos.clone(), sin.clone())
        };
        let grads = (y.clone() * tensor::<T, 4>(&w, [b, s, h, d])).sum().backward();
        (host(y.inner()), host(tx.grad(&grads).unwrap()))
    };
    let (fy, fg) = run(true);
    let (ry, rg) = run(false);
    assert_close("rotated", &fy, &ry, 1e-6);
    assert_close("gradient", &fg, &rg, 1e-6);
}

#[test]
fn fused_reshape_gives_burns_values_and_gradients_bit_for_bit() {
    let (a, b, c) = (2, 3, 4);
    let x = random::<Cpu, 3>([a, b, c], 81);
    let w = random::<Cpu, 2>([a * b, c], 82);
    let run = |fused_op: bool| {
        let tx = tensor::<T, 3>(&x, [a, b, c]).require_grad();
        // Something before the reshape, so its input is an op's output and not a leaf.
        let y = tx.clone() * 2.0;
        let y: Tensor<T, 2> = if fused_op {
            fused::reshape(y, [a * b, c])
        } else {
            y.reshape([a * b, c])
        };
        // A reshape back and forth under the gradient too.
        let z: Tensor<T, 3> = fused::reshape(y.clone() * tensor::<T, 2>(&w, [a * b, c]), [a, b * c, 1]);
        let grads = z.sum().backward();
        (host(y.inner()), host(tx.grad(&grads).unwrap()))
    };
    assert_eq!(run(true), run(false));
    let inference: Tensor<Cpu, 4> = fused::reshape(tensor::<Cpu, 3>(&x, [a, b, c]), [b, a, 2, 2]);
    assert_eq!(inference.dims(), [b, a, 2, 2]);
    assert_eq!(host(inference), x);
    // A strided input (a transposed view) is reshaped row-major, as Burn does it.
    let t = tensor::<Cpu, 3>(&x, [a, b, c]).swap_dims(1, 2);
    let want = host(t.clone().reshape([a * c, b]));
    assert_eq!(host(fused::reshape::<Cpu, 3, 2>(t, [a * c, b])), want);
}

#[test]
fn host_adam_steps_bit_for_bit_as_burns_adam_from_the_first_step() {
    use burn::optim::SimpleOptimizer;
    use seal_models::AdamSettings;
    let settings = AdamSettings::default();
    let (ours, burns) = (settings.host_adam(), settings.to_burn().build());
    // More elements than one parallel block, so the split is exercised too.
    let shape = [3, 40_000];
    let mut p = (tensor::<Cpu, 2>(&random::<Cpu, 2>(shape, 91), shape), None);
    let mut q = (p.0.clone(), None);
    for (step, lr) in [1e-3, 5e-4, 2e-3].into_iter().enumerate() {
        let g = tensor::<Cpu, 2>(&random::<Cpu, 2>(shape, 92 + step as u64), shape);
        let (tp, sp) = SimpleOptimizer::<Cpu>::step(&ours, lr, p.0, g.clone(), p.1);
        let (tq, sq) = SimpleOptimizer::<Cpu>::step(&burns, lr, q.0, g, q.1);
        let (mp, mq) = (sp.clone().unwrap().momentum, sq.clone().unwrap().momentum);
        assert_eq!(mp.time, mq.time, "step {step}: time");
        assert_eq!(host(mp.moment_1), host(mq.moment_1), "step {step}: first moment");
        assert_eq!(host(mp.moment_2), host(mq.moment_2), "step {step}: second moment");
        assert_eq!(host(tp.clone()), host(tq.clone()), "step {step}: parameter");
        p = (tp, sp);
        q = (tq, sq);
    }
}
