//! The Llama implementation of seal-core's `BilevelModel`: accumulation over micro-batches moves
//! θ by the gradient of one autodiff pass over the whole batch, clipping scales that whole
//! gradient to the norm (both checked on θ's change under a step linear in the gradient, against
//! a gradient and a norm computed here), and a fork trains independently.

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use seal_core::{BilevelModel, MicroBatch, TokenizedExample};
use seal_models::backend::{CpuTrain, cpu_device};
use seal_models::{AdamSettings, Llama, LlamaObjective, ObjectiveSettings, TrainBatch, load_llama};

use crate::common::{expected, fixture, max_abs_diff};

fn examples() -> Vec<TokenizedExample> {
    let exp = expected("tiny-llama", "expected.json");
    // The golden batch's rows, unpadded, twice over with shifted targets for variety.
    let mut out = Vec::new();
    for (ids, (mask, att)) in exp
        .forward
        .input_ids
        .iter()
        .zip(exp.forward.loss_mask.iter().zip(&exp.forward.attention_mask))
    {
        let len = att.iter().filter(|&&a| a != 0).count();
        out.push(TokenizedExample {
            input_ids: ids[..len].to_vec(),
            loss_mask: mask[..len].to_vec(),
        });
        let mut shifted = ids[..len].to_vec();
        shifted.rotate_left(1);
        out.push(TokenizedExample {
            input_ids: shifted,
            loss_mask: mask[..len].to_vec(),
        });
    }
    out
}

fn objective(clip_norm: f64) -> LlamaObjective<CpuTrain> {
    let model = load_llama::<CpuTrain>(&fixture("tiny-llama"), &cpu_device())
        .unwrap()
        .model;
    let settings = ObjectiveSettings {
        clip_norm,
        ..ObjectiveSettings::default()
    };
    let mut adam = settings.adam.clone();
    adam.lr = 1e-2;
    LlamaObjective::new(
        model,
        examples(),
        examples(),
        ObjectiveSettings { adam, ..settings },
    )
}

fn logits_of(obj: &LlamaObjective<CpuTrain>) -> Vec<f32> {
    let batch = expected("tiny-llama", "expected.json").forward.batch();
    obj.model()
        .valid()
        .forward(&batch)
        .unwrap()
        .into_data()
        .to_vec::<f32>()
        .unwrap()
}

/// Every float parameter of `model` (or its gradient in `grads`, zeros where it has none),
/// flattened in visit order.
struct Flatten<'a> {
    grads: Option<&'a GradientsParams>,
    out: Vec<f32>,
}

impl ModuleVisitor<CpuTrain> for Flatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<CpuTrain, D>>) {
        let value = param.val();
        let data = match self.grads {
            None => value.into_data(),
            Some(grads) => match grads.get::<<CpuTrain as AutodiffBackend>::InnerBackend, D>(param.id) {
                Some(g) => g.into_data(),
                None => value.zeros_like().into_data(),
            },
        };
        self.out.extend(data.to_vec::<f32>().unwrap());
    }
}

fn flat_params(model: &Llama<CpuTrain>) -> Vec<f32> {
    let mut v = Flatten {
        grads: None,
        out: Vec::new(),
    };
    model.visit(&mut v);
    v.out
}

fn flat_grads(model: &Llama<CpuTrain>, grads: &GradientsParams) -> Vec<f32> {
    let mut v = Flatten {
        grads: Some(grads),
        out: Vec::new(),
    };
    model.visit(&mut v);
    v.out
}

fn l2(v: impl Iterator<Item = f64>) -> f64 {
    v.map(|x| x * x).sum::<f64>().sqrt()
}

/// An objective whose first Adam step is (nearly) linear in the gradient: with ε = 1 and lr 1
/// it moves each parameter by g / (|g| + 1) (Adam's first step, bias-corrected), so a rescaled
/// gradient moves θ differently, where ε = 1e-8 would move it by about sign(g) either way.
fn linear_objective(clip_norm: f64) -> LlamaObjective<CpuTrain> {
    let model = load_llama::<CpuTrain>(&fixture("tiny-llama"), &cpu_device())
        .unwrap()
        .model;
    let adam = AdamSettings {
        lr: 1.0,
        epsilon: 1.0,
        ..AdamSettings::default()
    };
    let settings = ObjectiveSettings {
        clip_norm,
        adam,
        ..ObjectiveSettings::default()
    };
    LlamaObjective::new(model, examples(), examples(), settings)
}

const LAMBDA: f64 = 0.7;
const SAFE: [usize; 4] = [0, 1, 2, 3];
const FT: [usize; 4] = [2, 3, 4, 5];
const WEIGHTS: [f32; 4] = [0.5, 1.5, 1.0, 2.0];

/// All eight rows as one micro-batch, with λ on the safe term.
fn whole_batch() -> MicroBatch<'static> {
    MicroBatch {
        safe: &SAFE,
        ft: &FT,
        ft_weights: &WEIGHTS,
        safe_coef: LAMBDA,
        ft_coef: 1.0 - LAMBDA,
    }
}

/// The gradient of λ·mean_safe ℓ + (1 − λ)·mean_ft w·ℓ from one autodiff pass over all eight
/// rows in one padded batch (not the objective's per-term, per-length-group passes).
fn reference_gradient(model: &Llama<CpuTrain>) -> Vec<f32> {
    let examples = examples();
    let rows: Vec<&TokenizedExample> = SAFE.iter().chain(&FT).map(|&i| &examples[i]).collect();
    let batch = TrainBatch::right_padded(&rows, 0);
    let losses = seal_models::response_losses(model, &batch.tokens, &batch.loss_mask).unwrap();
    let mut coef = vec![(LAMBDA / SAFE.len() as f64) as f32; SAFE.len()];
    coef.extend(
        WEIGHTS
            .iter()
            .map(|&w| ((1.0 - LAMBDA) * f64::from(w) / FT.len() as f64) as f32),
    );
    let coef = Tensor::<CpuTrain, 1>::from_data(TensorData::new(coef, [8]), &cpu_device());
    let grads = GradientsParams::from_grads((losses * coef).sum().backward(), model);
    flat_grads(model, &grads)
}

/// θ₁ − θ₀ of Adam's first step (lr 1, ε 1) on gradient `g`.
fn adam_first_step(g: &[f32]) -> Vec<f64> {
    g.iter()
        .map(|&g| -f64::from(g) / (f64::from(g).abs() + 1.0))
        .collect()
}

/// ‖actual − expected‖ / ‖expected‖ of the parameter change.
fn relative_error(before: &[f32], after: &[f32], expected: &[f64]) -> f64 {
    let diff = before
        .iter()
        .zip(after)
        .zip(expected)
        .map(|((&b, &a), &e)| f64::from(a) - f64::from(b) - e);
    l2(diff) / l2(expected.iter().copied())
}

#[test]
fn micro_batches_move_theta_by_the_one_pass_gradient() {
    let start = linear_objective(f64::INFINITY);
    let before = flat_params(start.model());
    let expected = adam_first_step(&reference_gradient(start.model()));

    let mut whole = linear_objective(f64::INFINITY);
    let losses = whole.accumulate(&whole_batch()).unwrap();
    whole.apply().unwrap();

    let mut split = linear_objective(f64::INFINITY);
    let mut ft_losses = Vec::new();
    for half in 0..2 {
        let r = half * 2..half * 2 + 2;
        let l = split
            .accumulate(&MicroBatch {
                safe: &SAFE[r.clone()],
                ft: &FT[r.clone()],
                ft_weights: &WEIGHTS[r],
                safe_coef: 0.5 * LAMBDA,
                ft_coef: 0.5 * (1.0 - LAMBDA),
            })
            .unwrap();
        ft_losses.extend(l.ft);
    }
    split.apply().unwrap();
    assert!(
        max_abs_diff(&losses.ft, &ft_losses) <= 1e-5,
        "losses come from before the step"
    );
    // A gradient rescaled by 2 (micro-batches summed, not averaged) or missing a term's
    // coefficient is off by 0.3 or more here; the two passes agree to about 2e-7 (f32).
    for (name, obj) in [("one micro-batch", &whole), ("two micro-batches", &split)] {
        let err = relative_error(&before, &flat_params(obj.model()), &expected);
        eprintln!("{name}: relative error {err}");
        assert!(
            err < 1e-5,
            "{name}: θ moved off the one-pass gradient's step by {err} (relative)"
        );
    }
    let doubled: Vec<f32> = reference_gradient(start.model())
        .iter()
        .map(|g| 2.0 * g)
        .collect();
    let err = relative_error(&before, &flat_params(split.model()), &adam_first_step(&doubled));
    assert!(err > 0.1, "the check tells a doubled gradient apart ({err})");
}

#[test]
fn clipping_scales_the_whole_gradient_to_the_norm() {
    let g = reference_gradient(linear_objective(f64::INFINITY).model());
    // The norm over every parameter together, on the host in f64; the clip a quarter of it, so
    // the clipped step stays well above θ's f32 rounding.
    let norm = l2(g.iter().map(|&x| f64::from(x)));
    let clip = 0.25 * norm;
    let mut obj = linear_objective(clip);
    let before = flat_params(obj.model());
    let factor = clip / (norm + 1e-6);
    let clipped: Vec<f32> = g.iter().map(|&x| (f64::from(x) * factor) as f32).collect();
    obj.accumulate(&whole_batch()).unwrap();
    obj.apply().unwrap();
    let after = flat_params(obj.model());
    let err = relative_error(&before, &after, &adam_first_step(&clipped));
    eprintln!("gradient norm {norm}, clipped to {clip}: relative error {err}");
    assert!(
        err < 1e-5,
        "θ moved off the clipped gradient's step by {err} (relative)"
    );
    let unclipped = relative_error(&before, &after, &adam_first_step(&g));
    assert!(unclipped > 0.5, "the unclipped step is told apart ({unclipped})");
}

#[test]
fn a_fork_trains_independently_and_bad_indices_are_named() {
    let batch = MicroBatch {
        safe: &[0, 1],
        ft: &[2, 3],
        ft_weights: &[1.0, 1.0],
        safe_coef: 0.5,
        ft_coef: 0.5,
    };
    let mut obj = objective(1e-3);
    let before = logits_of(&obj);
    let aux = obj.fork().unwrap();
    obj.accumulate(&batch).unwrap();
    obj.apply().unwrap();
    // The fork did not move with the original.
    assert_eq!(logits_of(&aux), before);
    assert!(max_abs_diff(&logits_of(&obj), &before) > 0.0);
    // A bad index is an error naming the set.
    let bad = MicroBatch {
        safe: &[99],
        ft: &[0],
        ft_weights: &[1.0],
        safe_coef: 0.5,
        ft_coef: 0.5,
    };
    let err = obj.accumulate(&bad).unwrap_err();
    assert!(err.to_string().contains("D_safe"), "{err}");
}

#[test]
fn clip_global_norm_scales_all_gradients_to_the_norm() {
    let device = cpu_device();
    let model = load_llama::<CpuTrain>(&fixture("tiny-llama"), &device)
        .unwrap()
        .model;
    let exp = expected("tiny-llama", "expected.json");
    let batch = exp.forward.batch();
    let loss = seal_models::response_losses(&model, &batch, &exp.forward.loss_mask.concat())
        .unwrap()
        .mean();
    let mut grads = GradientsParams::from_grads(loss.backward(), &model);
    let raw = flat_grads(&model, &grads);
    let host_norm = l2(raw.iter().map(|&x| f64::from(x)));
    let norm = seal_models::clip_global_norm(&model, &mut grads, 0.01);
    assert!(
        (norm - host_norm).abs() <= 1e-5 * host_norm,
        "norm {norm}, on the host {host_norm}"
    );
    assert!(
        norm > 0.01,
        "the fixture's gradient norm {norm} should exceed the clip"
    );
    // Measured on the host, not by the clipping code: every gradient scaled by one factor.
    let clipped = flat_grads(&model, &grads);
    let after = l2(clipped.iter().map(|&x| f64::from(x)));
    assert!((after - 0.01).abs() < 1e-6, "norm after clipping is {after}");
    let factor = 0.01 / (host_norm + 1e-6);
    for (c, r) in clipped.iter().zip(&raw) {
        assert!((f64::from(*c) - f64::from(*r) * factor).abs() <= 1e-6 * f64::from(r.abs()).max(1e-3));
    }
}

#[test]
fn a_zero_fine_tuning_coefficient_skips_its_backward_and_keeps_its_losses() {
    // λ = 1: the fine-tuning term's forward runs without a graph. Its losses must be those
    // of a tracked pass, and θ's step exactly the safe term's alone.
    let (safe, ft, weights) = ([0usize, 1, 2], [3usize, 4, 5], [1.0f32, 0.5, 2.0]);
    let mut skipped = objective(1.0);
    let losses = skipped
        .accumulate(&MicroBatch {
            safe: &safe,
            ft: &ft,
            ft_weights: &weights,
            safe_coef: 1.0,
            ft_coef: 0.0,
        })
        .unwrap();
    skipped.apply().unwrap();

    let mut tracked = objective(1.0);
    let tracked_losses = tracked
        .accumulate(&MicroBatch {
            safe: &[],
            ft: &ft,
            ft_weights: &weights,
            safe_coef: 0.0,
            ft_coef: 1.0,
        })
        .unwrap();
    assert_eq!(
        losses.ft, tracked_losses.ft,
        "the same forward, with or without a graph"
    );

    let mut safe_only = objective(1.0);
    safe_only
        .accumulate(&MicroBatch {
            safe: &safe,
            ft: &[],
            ft_weights: &[],
            safe_coef: 1.0,
            ft_coef: 0.0,
        })
        .unwrap();
    safe_only.apply().unwrap();
    assert_eq!(
        logits_of(&skipped),
        logits_of(&safe_only),
        "θ took the safe term's step alone"
    );
}
