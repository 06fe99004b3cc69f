//! The Llama implementation of seal-core's `BilevelModel`: accumulation over micro-batches
//! equals one batch, clipping is global, and a fork trains independently.

use burn::module::AutodiffModule;
use seal_core::{BilevelModel, MicroBatch};
use seal_models::backend::{CpuTrain, cpu_device};
use seal_models::{LlamaObjective, ObjectiveSettings, TokenizedExample, load_llama};

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

#[test]
fn two_micro_batches_step_like_one_batch() {
    let weights = [0.5f32, 1.5, 1.0, 2.0];
    let (lambda, safe, ft) = (0.7, [0usize, 1, 2, 3], [2usize, 3, 4, 5]);

    let mut whole = objective(f64::INFINITY);
    let losses = whole
        .accumulate(&MicroBatch {
            safe: &safe,
            ft: &ft,
            ft_weights: &weights,
            safe_coef: lambda,
            ft_coef: 1.0 - lambda,
        })
        .unwrap();
    whole.apply().unwrap();

    let mut split = objective(f64::INFINITY);
    let mut ft_losses = Vec::new();
    for half in 0..2 {
        let r = half * 2..half * 2 + 2;
        let l = split
            .accumulate(&MicroBatch {
                safe: &safe[r.clone()],
                ft: &ft[r.clone()],
                ft_weights: &weights[r],
                safe_coef: 0.5 * lambda,
                ft_coef: 0.5 * (1.0 - lambda),
            })
            .unwrap();
        ft_losses.extend(l.ft);
    }
    split.apply().unwrap();
    assert!(
        max_abs_diff(&losses.ft, &ft_losses) <= 1e-5,
        "losses come from before the step"
    );
    let diff = max_abs_diff(&logits_of(&whole), &logits_of(&split));
    assert!(
        diff <= 1e-4,
        "accumulated step differs from the whole-batch step by {diff}"
    );
}

#[test]
fn clipping_is_global_and_fork_is_independent() {
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
    use burn::optim::GradientsParams;
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
    let norm = seal_models::clip_global_norm(&model, &mut grads, 0.01);
    assert!(
        norm > 0.01,
        "the fixture's gradient norm {norm} should exceed the clip"
    );
    let after = seal_models::clip_global_norm(&model, &mut grads, f64::INFINITY);
    assert!((after - 0.01).abs() < 1e-6, "norm after clipping is {after}");
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
