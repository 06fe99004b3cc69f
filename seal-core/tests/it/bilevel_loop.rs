//! The loop's contracts on a small world: lock-step accumulation, exact resume, errors naming
//! epoch and step, θ̂ as a fork, and schedule values reaching the model.

use std::error::Error as _;
use std::sync::Arc;

use seal_core::{
    Algorithm, AuxLoss, Bilevel, BilevelConfig, BilevelModel, BilevelState, CoreError, EpochReport,
    MicroBatch, NoopObserver, Observer, PenaltySchedule, Selector, SoftmaxScope, StepReport, WeightKind,
};

use crate::toy::{Adam, Fault, Toy, World, WorldSpec};

/// 30 fine-tuning examples in batches of 12 (so each epoch ends on a short batch of 6) and only
/// 11 safe ones (so safe batches wrap around D_safe).
const SMALL: WorldSpec = WorldSpec {
    seed: 7,
    classes: 3,
    dim: 5,
    n_safe: 11,
    n_ft: 30,
    flip: 0.3,
    separation: 1.0,
    novel: None,
};

fn alg1(inner_steps: usize) -> Algorithm {
    Algorithm::Alg1 {
        inner_steps,
        keep_penalty_factor: false,
        aux_loss: AuxLoss::Before,
    }
}

fn config(algorithm: Algorithm) -> BilevelConfig {
    BilevelConfig {
        algorithm,
        batch_size: 12,
        micro_batch_size: 4,
        seed: 3,
        // γ > 0 from the start, so both terms of θ's loss matter in every step.
        penalty: PenaltySchedule::Constant { gamma: 0.5 },
        ..BilevelConfig::default()
    }
}

fn world() -> Arc<World> {
    Arc::new(World::new(SMALL))
}

fn start(config: BilevelConfig) -> Bilevel<Toy> {
    let world = world();
    let model = Toy::aligned(Arc::clone(&world), Adam::default(), 20);
    Bilevel::new(config, world.ft_ids(), model).unwrap()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[derive(Default)]
struct Recorder {
    steps: Vec<StepReport>,
    epochs: Vec<EpochReport>,
}

impl Observer for Recorder {
    fn on_step(&mut self, report: &StepReport) {
        self.steps.push(report.clone());
    }
    fn on_epoch(&mut self, report: &EpochReport) {
        self.epochs.push(report.clone());
    }
}

#[test]
fn micro_batches_accumulate_to_the_effective_batch() {
    // Softmax regression with a mean loss: the summed micro-batch gradients equal the batch
    // gradient up to rounding, so θ, θ̂ and ω must agree whatever the micro-batch size (5 leaves
    // ragged micro-batches: 5 + 5 + 2 and, in the short last batch, 5 + 1).
    for algorithm in [Algorithm::Alg2 {}, alg1(2)] {
        for scope in [SoftmaxScope::Global, SoftmaxScope::Batch] {
            let run = |micro_batch_size| {
                let mut run = start(BilevelConfig {
                    micro_batch_size,
                    softmax_scope: scope,
                    epochs: 2,
                    ..config(algorithm)
                });
                run.run(&mut NoopObserver).unwrap();
                run
            };
            let whole = run(12);
            for micro in [4, 5] {
                let split = run(micro);
                let what = format!("{algorithm:?} {scope:?} micro {micro}");
                assert_eq!(split.model().t, whole.model().t, "{what}: one θ step per batch");
                assert_eq!(split.state().optimizer.step, 6, "{what}: one ω step per batch");
                let d = max_abs_diff(&split.model().params, &whole.model().params);
                assert!(d < 1e-10, "{what}: θ differs by {d}");
                if let (Some(a), Some(b)) = (split.aux(), whole.aux()) {
                    let d = max_abs_diff(&a.params, &b.params);
                    assert!(d < 1e-10, "{what}: θ̂ differs by {d}");
                }
                let (a, b) = (split.selector().logits(), whole.selector().logits());
                let d = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
                assert!(d < 1e-6, "{what}: ω differs by {d}");
            }
            // 12 = 3·4 and 6 = 2·4 (the short batch): 8 forwards per epoch.
            assert_eq!(run(4).model().calls.len(), 16);
        }
    }
}

#[test]
fn alg2_selector_step_reads_losses_from_before_the_model_step() {
    // One step over all of D_ft: the ω step must equal a hand-made step on the initial model's
    // per-example losses, bit for bit.
    let world = world();
    let model = Toy::aligned(Arc::clone(&world), Adam::default(), 20);
    let initial = model.clone();
    let cfg = BilevelConfig {
        batch_size: 30,
        epochs: 1,
        ..config(Algorithm::Alg2 {})
    };
    let mut run = Bilevel::new(cfg.clone(), world.ft_ids(), model).unwrap();
    run.run(&mut NoopObserver).unwrap();
    let batch: Vec<usize> = run.model().calls.iter().flat_map(|c| c.ft.clone()).collect();
    let losses = initial.ft_losses();
    let coeffs: Vec<f32> = batch.iter().map(|&i| losses[i] as f32).collect();
    let mut selector = Selector::new(world.ft_ids(), WeightKind::Softmax, SoftmaxScope::Global).unwrap();
    let mut state = cfg.selector_optimizer.init_state(30);
    let grad = selector.objective_grad(&batch, &coeffs).unwrap().grad;
    cfg.selector_optimizer
        .step(&mut state, selector.logits_mut(), &grad)
        .unwrap();
    assert_eq!(bits(run.selector().logits()), bits(selector.logits()));
    assert_ne!(initial.params, run.model().params, "θ stepped too");
}

/// Replays recorded `accumulate` calls on `model`, one optimizer step after all of them.
fn replay(model: &mut Toy, calls: &[crate::toy::Call]) {
    for c in calls {
        model
            .accumulate(&MicroBatch {
                safe: &c.safe,
                ft: &c.ft,
                ft_weights: &c.ft_weights,
                safe_coef: c.safe_coef,
                ft_coef: c.ft_coef,
            })
            .unwrap();
    }
    model.apply().unwrap();
}

#[test]
fn alg1_selector_step_reads_the_gap_between_theta_and_its_auxiliary() {
    // Two steps over all of D_ft. Step 1's coefficients ℓ(θ₀) − ℓ(θ̂₀) are exactly 0 (θ̂ starts
    // as a copy of θ); step 2's are ℓ(θ₁) − ℓ(θ̂₁), the losses of θ and θ̂ after one step each,
    // from before either steps again. A hand-made ω trajectory with those coefficients must
    // match the loop's bit for bit, and one with Alg 2's coefficients ℓ(θ₁) alone must not.
    let world = world();
    let initial = Toy::aligned(Arc::clone(&world), Adam::default(), 20);
    let cfg = BilevelConfig {
        batch_size: 30,
        micro_batch_size: 30,
        epochs: 2,
        ..config(alg1(1))
    };
    let mut run = Bilevel::new(cfg.clone(), world.ft_ids(), initial.clone()).unwrap();
    run.run(&mut NoopObserver).unwrap();
    let (theta_calls, aux_calls) = (&run.model().calls, &run.aux().unwrap().calls);
    assert_eq!(
        (theta_calls.len(), aux_calls.len()),
        (2, 2),
        "one pass of each per step"
    );

    let mut theta = initial.clone();
    let mut theta_hat = initial.fork().unwrap();
    replay(&mut theta, &theta_calls[..1]);
    replay(&mut theta_hat, &aux_calls[..1]);
    let (losses, losses_hat) = (theta.ft_losses(), theta_hat.ft_losses());

    let hand_made = |coeff: &dyn Fn(usize) -> f32| {
        let mut selector = Selector::new(world.ft_ids(), WeightKind::Softmax, SoftmaxScope::Global).unwrap();
        let mut state = cfg.selector_optimizer.init_state(30);
        for (step, call) in theta_calls.iter().enumerate() {
            let coeffs: Vec<f32> = call
                .ft
                .iter()
                .map(|&i| if step == 0 { 0.0 } else { coeff(i) })
                .collect();
            let grad = selector.objective_grad(&call.ft, &coeffs).unwrap().grad;
            cfg.selector_optimizer
                .step(&mut state, selector.logits_mut(), &grad)
                .unwrap();
        }
        bits(selector.logits())
    };
    let gap = hand_made(&|i| losses[i] as f32 - losses_hat[i] as f32);
    assert_eq!(bits(run.selector().logits()), gap);
    assert_ne!(
        gap,
        hand_made(&|i| losses[i] as f32),
        "Alg 2's coefficients give another ω"
    );
    assert!(
        losses.iter().zip(&losses_hat).any(|(l, h)| (l - h).abs() > 1e-3),
        "θ and θ̂ differ"
    );
}

#[test]
fn resume_at_an_epoch_boundary_is_bit_identical() {
    let cases = [
        (Algorithm::Alg2 {}, PenaltySchedule::Reference {}),
        // ramp reads the global step, so the resumed step counter is checked too.
        (
            alg1(2),
            PenaltySchedule::Ramp {
                start: 0.0,
                end: 1.0,
                steps: 5,
            },
        ),
    ];
    for (algorithm, penalty) in cases {
        let cfg = BilevelConfig {
            penalty,
            ..config(algorithm)
        };
        let mut full = start(cfg.clone());
        full.run(&mut NoopObserver).unwrap();
        for stop_after in [1, 2] {
            let mut part = start(cfg.clone());
            for _ in 0..stop_after {
                part.run_epoch(&mut NoopObserver).unwrap();
            }
            // The checkpoint: the loop's state through JSON, the models by value.
            let json = serde_json::to_string(&part.state()).unwrap();
            let (model, aux) = part.into_models();
            let state: BilevelState = serde_json::from_str(&json).unwrap();
            let mut resumed = Bilevel::from_state(cfg.clone(), model, aux, state).unwrap();
            resumed.run(&mut NoopObserver).unwrap();
            let what = format!("{algorithm:?} resumed after epoch {stop_after}");
            assert_eq!(
                bits(resumed.selector().logits()),
                bits(full.selector().logits()),
                "{what}"
            );
            assert_eq!(resumed.state().optimizer, full.state().optimizer, "{what}");
            assert_eq!(resumed.global_step(), full.global_step(), "{what}");
            assert_eq!(resumed.model().params, full.model().params, "{what}");
            assert_eq!(
                resumed.aux().map(|a| &a.params),
                full.aux().map(|a| &a.params),
                "{what}"
            );
            let gammas =
                |run: &Bilevel<Toy>| -> Vec<f64> { run.history().iter().map(|e| e.gamma_first).collect() };
            assert_eq!(gammas(&resumed), gammas(&full), "{what}");
        }
    }
}

#[test]
fn nan_loss_stops_the_run_naming_epoch_and_step() {
    let world = world();
    let mut model = Toy::aligned(Arc::clone(&world), Adam::default(), 20);
    // 8 forwards per epoch (micro-batches 4+4+4 | 4+4+4 | 4+2): call 10 is the third forward of
    // epoch 1's first step, global step 3.
    model.fault = Some(Fault::NanLoss { from_call: 10 });
    let mut run = Bilevel::new(config(Algorithm::Alg2 {}), world.ft_ids(), model).unwrap();
    let mut recorder = Recorder::default();
    let err = run.run(&mut recorder).unwrap_err();
    let index = run.model().calls[10].ft[0];
    assert!(
        matches!(
            err,
            CoreError::NonFiniteLoss {
                model: "main",
                set: "fine-tuning",
                epoch: 1,
                step: 3,
                index: i,
            } if i == index
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "non-finite fine-tuning loss of example index {index} from the main model at epoch 1, step 3"
        )
    );
    assert_eq!((recorder.steps.len(), recorder.epochs.len()), (3, 1));
    assert_eq!(run.epochs_done(), 1, "the last good checkpoint is epoch 0's");
}

#[test]
fn model_errors_keep_their_source_and_name_the_step() {
    let world = world();
    let mut model = Toy::aligned(Arc::clone(&world), Adam::default(), 20);
    model.fault = Some(Fault::Error { from_call: 4 });
    let mut run = Bilevel::new(config(alg1(1)), world.ft_ids(), model).unwrap();
    let err = run.run(&mut NoopObserver).unwrap_err();
    assert_eq!(
        err.to_string(),
        "forward of the main model failed at epoch 0, step 1"
    );
    assert_eq!(err.source().unwrap().to_string(), "injected failure at call 4");
}

#[test]
fn alg1_aux_model_is_a_fork_that_diverges() {
    let inner_steps = 2;
    let mut run = start(config(alg1(inner_steps)));
    let aligned_steps = run.model().t;
    assert_eq!(aligned_steps, 20);
    let aux = run.aux().unwrap();
    assert_eq!(aux.params, run.model().params, "θ̂ starts as a copy of θ");
    assert_eq!(aux.t, 0, "with a fresh optimizer");
    run.run_epoch(&mut NoopObserver).unwrap();
    let (model, aux) = (run.model(), run.aux().unwrap());
    assert_eq!(model.t, aligned_steps + 3);
    assert_eq!(aux.t, 3 * inner_steps as u64);
    let d = max_abs_diff(&aux.params, &model.params);
    assert!(d > 1e-3, "θ̂ should have moved away from θ, max diff {d}");
    // θ̂ sees the same F with the same weights, T times, without the safe term.
    assert_eq!(aux.calls.len(), inner_steps * model.calls.len());
    for call in &aux.calls {
        assert!(call.safe.is_empty() && call.safe_coef == 0.0, "{call:?}");
    }
    let mut theta_calls = model.calls.iter();
    let mut aux_calls = aux.calls.iter();
    for micro_per_step in [3, 3, 2] {
        let theta: Vec<_> = theta_calls.by_ref().take(micro_per_step).collect();
        for _ in 0..inner_steps {
            let hat: Vec<_> = aux_calls.by_ref().take(micro_per_step).collect();
            for (h, t) in hat.iter().zip(&theta) {
                assert_eq!((&h.ft, &h.ft_weights), (&t.ft, &t.ft_weights));
            }
            // The weighted mean only, over the nominal batch of 12 (the short last batch of 6
            // counts half).
            let total: f64 = hat.iter().map(|h| h.ft_coef).sum();
            let share = hat.iter().map(|h| h.ft.len()).sum::<usize>() as f64 / 12.0;
            assert!(
                (total - share).abs() < 1e-12,
                "θ̂'s loss is the weighted mean only"
            );
        }
    }
}

#[test]
fn schedule_values_reach_the_loop() {
    let schedules = [
        PenaltySchedule::Ramp {
            start: 0.0,
            end: 2.0,
            steps: 5,
        },
        PenaltySchedule::Linear {
            start: 0.1,
            step: 0.2,
            max: 0.4,
        },
        PenaltySchedule::Reference {},
    ];
    for schedule in schedules {
        let mut run = start(BilevelConfig {
            penalty: schedule.clone(),
            ..config(Algorithm::Alg2 {})
        });
        let mut recorder = Recorder::default();
        run.run(&mut recorder).unwrap();
        assert_eq!(recorder.steps.len(), 9);
        let mut calls = run.model().calls.iter();
        for (t, step) in recorder.steps.iter().enumerate() {
            assert_eq!(step.global_step, t as u64);
            assert_eq!(step.gamma, schedule.gamma(step.epoch, step.global_step));
            assert_eq!(step.lambda, schedule.lambda(step.epoch, step.global_step));
            // What the model was told: λ·(share) on the safe mean, (1 − λ)·(share) on g_F,
            // the shares summing to |I| / B (1 but for the short last batch).
            let micro = step.batch_size.div_ceil(4);
            let mine: Vec<_> = calls.by_ref().take(micro).collect();
            let safe: f64 = mine.iter().map(|c| c.safe_coef).sum();
            let ft: f64 = mine.iter().map(|c| c.ft_coef).sum();
            let share = step.batch_size as f64 / 12.0;
            assert!((safe - share * step.lambda).abs() < 1e-12, "{schedule}: step {t}");
            assert!(
                (ft - share * (1.0 - step.lambda)).abs() < 1e-12,
                "{schedule}: step {t}"
            );
        }
        let result = run.selection(0.8).unwrap();
        assert_eq!(result.epochs, recorder.epochs);
        for (e, report) in result.epochs.iter().enumerate() {
            let (first, last) = (
                report.first_global_step,
                report.first_global_step + report.steps - 1,
            );
            assert_eq!(report.epoch, e as u64);
            assert_eq!(report.gamma_first, schedule.gamma(e as u64, first));
            assert_eq!(report.gamma_last, schedule.gamma(e as u64, last));
            assert_eq!(report.lambda_first, schedule.lambda(e as u64, first));
            assert_eq!(report.lambda_last, schedule.lambda(e as u64, last));
        }
    }
}

#[test]
fn keep_penalty_factor_freezes_the_selector_while_gamma_is_zero() {
    let frozen = |keep_penalty_factor| {
        let mut run = start(BilevelConfig {
            algorithm: Algorithm::Alg1 {
                inner_steps: 1,
                keep_penalty_factor,
                aux_loss: AuxLoss::Before,
            },
            penalty: PenaltySchedule::Constant { gamma: 0.0 },
            ..config(Algorithm::Alg2 {})
        });
        run.run(&mut NoopObserver).unwrap();
        run.selector().logits().iter().all(|&w| w == 0.1)
    };
    assert!(frozen(true));
    assert!(!frozen(false), "without the factor ω moves at γ = 0");
}

#[test]
fn the_outcome_lists_every_example_in_index_order() {
    let mut run = start(config(Algorithm::Alg2 {}));
    run.run(&mut NoopObserver).unwrap();
    let result = run.selection(0.7).unwrap();
    let ids: Vec<seal_core::ExampleId> = result
        .selection
        .candidates()
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(ids, world().ft_ids());
    assert_eq!(result.logits(), run.selector().logits());
    assert_eq!(result.selection.kept_len(), 21);
    let mean = result.weights.iter().map(|&w| f64::from(w)).sum::<f64>() / 30.0;
    assert!((mean - 1.0).abs() < 1e-5, "N·softmax has mean weight 1: {mean}");
    let mut ranks: Vec<usize> = result.selection.candidates().iter().map(|c| c.rank).collect();
    ranks.sort_unstable();
    assert_eq!(ranks, (0..30).collect::<Vec<_>>());
    assert_eq!(result.epochs.len(), 3);
}

#[test]
fn resume_rejects_state_that_does_not_fit() {
    let world = world();
    let model = || Toy::aligned(Arc::clone(&world), Adam::default(), 0);
    let mut run = start(config(Algorithm::Alg2 {}));
    run.run(&mut NoopObserver).unwrap();
    assert!(matches!(
        run.run_epoch(&mut NoopObserver),
        Err(CoreError::NoEpochLeft { epochs: 3 })
    ));
    let state = run.state();
    let cfg = config(Algorithm::Alg2 {});
    let err = Bilevel::from_state(cfg.clone(), model(), Some(model()), state.clone()).err();
    assert!(matches!(err, Some(CoreError::StateMismatch { .. })), "{err:?}");
    let short = BilevelConfig {
        epochs: 2,
        ..cfg.clone()
    };
    let err = Bilevel::from_state(short, model(), None, state.clone()).err();
    assert!(matches!(err, Some(CoreError::StateMismatch { .. })), "{err:?}");
    let mut fewer = state.clone();
    fewer.ids.pop();
    fewer.logits.pop();
    let err = Bilevel::from_state(cfg.clone(), model(), None, fewer).err();
    assert!(matches!(err, Some(CoreError::LengthMismatch { .. })), "{err:?}");
    let sgd = BilevelConfig {
        selector_optimizer: seal_core::SelectorOptimizer::Sgd {
            lr: 1.0,
            clip_norm: 10.0,
        },
        ..cfg
    };
    let err = Bilevel::from_state(sgd, model(), None, state).err();
    assert!(matches!(err, Some(CoreError::StateMismatch { .. })), "{err:?}");
    assert_eq!(model().ft_len(), 30);
}

#[test]
fn a_short_last_batch_weighs_each_example_as_a_full_batch_does() {
    // 30 examples in batches of 12: 12, 12 and a short 6. Every micro-batch's coefficients are its
    // share of the nominal batch (|micro| / 12), so the short batch's summed coefficients are half
    // a full batch's: each of its examples weighs what it would in a full batch.
    let mut run = start(BilevelConfig {
        epochs: 1,
        ..config(Algorithm::Alg2 {})
    });
    run.run(&mut NoopObserver).unwrap();
    let calls = &run.model().calls;
    assert_eq!(calls.len(), 3 + 3 + 2);
    let lambda = 1.0 / 1.5;
    for call in calls {
        let share = call.ft.len() as f64 / 12.0;
        assert!((call.safe_coef - share * lambda).abs() < 1e-12, "{call:?}");
        assert!((call.ft_coef - share * (1.0 - lambda)).abs() < 1e-12, "{call:?}");
    }
    let short: f64 = calls[6..].iter().map(|c| c.ft_coef).sum();
    assert!((short - 0.5 * (1.0 - lambda)).abs() < 1e-12, "{short}");
}

#[test]
fn the_selector_step_of_a_short_batch_is_scaled_by_its_share_of_the_batch() {
    // One step over all 30 examples with B = 40: the batch is short, and the ω step must be the
    // hand-made step on the initial losses with the gradient scaled by 30/40.
    let world = world();
    let model = Toy::aligned(Arc::clone(&world), Adam::default(), 20);
    let initial = model.clone();
    for optimizer in [
        seal_core::SelectorOptimizer::Sgd {
            lr: 0.5,
            clip_norm: 1e9,
        },
        seal_core::SelectorOptimizer::default(),
    ] {
        let cfg = BilevelConfig {
            batch_size: 40,
            micro_batch_size: 8,
            epochs: 1,
            selector_optimizer: optimizer.clone(),
            ..config(Algorithm::Alg2 {})
        };
        let mut run = Bilevel::new(cfg.clone(), world.ft_ids(), model.clone()).unwrap();
        run.run(&mut NoopObserver).unwrap();
        let batch: Vec<usize> = run.model().calls.iter().flat_map(|c| c.ft.clone()).collect();
        assert_eq!(batch.len(), 30);
        let losses = initial.ft_losses();
        let coeffs: Vec<f32> = batch.iter().map(|&i| losses[i] as f32).collect();
        let mut selector = Selector::new(world.ft_ids(), WeightKind::Softmax, SoftmaxScope::Global).unwrap();
        let mut state = cfg.selector_optimizer.init_state(30);
        let grad: Vec<f32> = selector
            .objective_grad(&batch, &coeffs)
            .unwrap()
            .grad
            .iter()
            .map(|&g| (f64::from(g) * 30.0 / 40.0) as f32)
            .collect();
        cfg.selector_optimizer
            .step(&mut state, selector.logits_mut(), &grad)
            .unwrap();
        assert_eq!(
            bits(run.selector().logits()),
            bits(selector.logits()),
            "{optimizer:?}"
        );
    }
}

#[test]
fn aux_loss_after_measures_theta_hat_after_its_step() {
    // One step over all of D_ft. `before`: ℓ̂ is the initial model's loss (θ̂ starts as θ).
    // `after`: one more forward of θ̂ after its step (no gradient), so the reported mean ℓ̂ is
    // that of the stepped θ̂, and the selector moves differently.
    let world = world();
    let model = Toy::aligned(Arc::clone(&world), Adam::default(), 20);
    let run = |aux_loss| {
        let cfg = BilevelConfig {
            batch_size: 30,
            micro_batch_size: 10,
            epochs: 1,
            ..config(Algorithm::Alg1 {
                inner_steps: 1,
                keep_penalty_factor: false,
                aux_loss,
            })
        };
        let mut run = Bilevel::new(cfg, world.ft_ids(), model.clone()).unwrap();
        let mut seen = Recorder::default();
        run.run(&mut seen).unwrap();
        (run, seen.steps[0].aux_ft_loss.unwrap())
    };
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let (before, before_loss) = run(AuxLoss::Before);
    let (after, after_loss) = run(AuxLoss::After);
    assert!(
        (before_loss - mean(model.ft_losses())).abs() < 1e-6,
        "{before_loss}"
    );
    let stepped = after.aux().unwrap();
    assert!(
        (after_loss - mean(stepped.ft_losses())).abs() < 1e-6,
        "{after_loss}"
    );
    assert!(after_loss < before_loss, "θ̂'s step lowers its weighted loss");
    // θ̂ took three more forwards, with zero coefficients, after its step.
    let extra: Vec<_> = stepped.calls[3..].to_vec();
    assert_eq!(extra.len(), 3);
    assert!(
        extra
            .iter()
            .all(|c| c.ft_coef == 0.0 && c.safe_coef == 0.0 && c.safe.is_empty())
    );
    // θ is the same either way; ω is not.
    assert_eq!(after.model().params, before.model().params);
    assert_ne!(bits(after.selector().logits()), bits(before.selector().logits()));
}
