//! DPO: the first step from the reference has the loss ln 2, training raises the chosen answer
//! over the rejected one, a resumed run equals an uninterrupted one bit for bit, the sequence
//! log-probabilities are sums over response tokens in row order, and bad settings are named.

use burn::module::AutodiffModule;
use seal_core::{NoopObserver, TokenizedExample};
use seal_models::backend::{CpuTrain, cpu_device};
use seal_models::train::preference::sequence_logps;
use seal_models::{AdamSettings, Dpo, ModelError, PreferenceConfig, TokenizedPair, TrainStep, load_llama};

use crate::common::{fixture, fixture_rows};

fn rows() -> Vec<TokenizedExample> {
    fixture_rows()
}

/// Every ordered pair of two different fixture rows, the first one preferred.
fn pairs() -> Vec<TokenizedPair> {
    let rows = rows();
    let mut out = Vec::new();
    for (i, chosen) in rows.iter().enumerate() {
        for (j, rejected) in rows.iter().enumerate() {
            if i < j {
                out.push(TokenizedPair {
                    chosen: chosen.clone(),
                    rejected: rejected.clone(),
                });
            }
        }
    }
    out
}

fn config(epochs: u64, lr: f64) -> PreferenceConfig {
    PreferenceConfig {
        epochs,
        batch_size: 2,
        micro_batch_size: 1,
        adam: AdamSettings {
            lr,
            ..AdamSettings::default()
        },
        beta: 0.5,
        seed: 5,
        ..PreferenceConfig::default()
    }
}

fn model() -> seal_models::Llama<CpuTrain> {
    load_llama::<CpuTrain>(&fixture("tiny-llama"), &cpu_device())
        .unwrap()
        .model
}

fn weights(run: &Dpo<CpuTrain>) -> Vec<f32> {
    seal_models::hf::weights::to_tensor_map(&run.model().valid())
        .into_iter_sorted()
        .flat_map(|(_, t)| t.data)
        .collect()
}

#[test]
fn the_first_step_starts_at_the_reference_with_loss_ln_2() {
    assert!(pairs().len() >= 3, "the fixture gives several pairs");
    let mut run = Dpo::new(model(), pairs(), config(1, 1e-3)).unwrap();
    let mut losses = Vec::new();
    run.run_epoch(&mut |step: &TrainStep| losses.push(step.loss))
        .unwrap();
    // Before the first update the model is its own reference: every margin is 0, −log σ(0) = ln 2.
    assert!(
        (losses[0] - std::f64::consts::LN_2).abs() < 1e-3,
        "first-step loss {}",
        losses[0]
    );
}

#[test]
fn training_raises_the_chosen_answers_over_the_rejected_ones() {
    let mut run = Dpo::new(model(), pairs(), config(8, 5e-3)).unwrap();
    let mut reports = Vec::new();
    while !run.is_done() {
        reports.push(run.run_epoch(&mut NoopObserver).unwrap());
    }
    let (first, last) = (&reports[0], &reports[7]);
    assert!(
        last.mean_loss < 0.5 * first.mean_loss,
        "loss {} -> {}",
        first.mean_loss,
        last.mean_loss
    );
    assert!(last.mean_margin > 1.0, "margin {}", last.mean_margin);
    assert_eq!(last.accuracy, 1.0, "{last:?}");
    assert_eq!(run.state().global_step, 8 * pairs().len().div_ceil(2) as u64);
}

#[test]
fn resume_from_a_checkpoint_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut straight = Dpo::new(model(), pairs(), config(3, 5e-3)).unwrap();
    while !straight.is_done() {
        straight.run_epoch(&mut NoopObserver).unwrap();
    }
    let mut first = Dpo::new(model(), pairs(), config(3, 5e-3)).unwrap();
    first.run_epoch(&mut NoopObserver).unwrap();
    first.save_checkpoint(dir.path()).unwrap();
    drop(first);
    // The run restarts from the starting model (the reference again) and the checkpoint's state.
    let mut resumed = Dpo::resume(model(), pairs(), config(3, 5e-3), dir.path(), &cpu_device()).unwrap();
    assert_eq!(resumed.state().epochs_done, 1);
    while !resumed.is_done() {
        resumed.run_epoch(&mut NoopObserver).unwrap();
    }
    assert!(weights(&straight) == weights(&resumed), "resumed run differs");
    // The reports agree; the f64 means of the first epoch went through the checkpoint's JSON,
    // whose parser (serde_json without `float_roundtrip`) may round the last bit.
    let (a, b) = (straight.state(), resumed.state());
    assert_eq!((a.epochs_done, a.global_step), (b.epochs_done, b.global_step));
    for (x, y) in a.history.iter().zip(&b.history) {
        assert_eq!(
            (x.epoch, x.steps, x.tokens, x.accuracy),
            (y.epoch, y.steps, y.tokens, y.accuracy)
        );
        for (u, v) in [(x.mean_loss, y.mean_loss), (x.mean_margin, y.mean_margin)] {
            assert!((u - v).abs() <= 1e-12 * u.abs().max(1.0), "{x:?} vs {y:?}");
        }
    }
    // A checkpoint of a run over other pairs is refused.
    let err = Dpo::resume(
        model(),
        pairs()[..1].to_vec(),
        config(3, 5e-3),
        dir.path(),
        &cpu_device(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, ModelError::Checkpoint { .. }), "{err}");
}

#[test]
fn sequence_log_probabilities_sum_the_response_tokens_in_row_order() {
    let model = model().valid();
    let rows = rows();
    let refs: Vec<&TokenizedExample> = rows.iter().collect();
    let together = seal_models::backend::host_f32(sequence_logps(&model, &refs, 0).unwrap());
    for (i, row) in rows.iter().enumerate() {
        let alone = seal_models::backend::host_f32(sequence_logps(&model, &[row], 0).unwrap())[0];
        let batch = seal_models::TrainBatch::right_padded(&[row], 0);
        let mean = seal_models::response_losses(&model, &batch.tokens, &batch.loss_mask)
            .map(seal_models::backend::host_f32)
            .unwrap()[0];
        let count = row.loss_mask.iter().skip(1).filter(|&&m| m != 0).count() as f32;
        assert!(
            (alone + mean * count).abs() < 1e-3,
            "row {i}: {alone} vs {}",
            -mean * count
        );
        assert!(
            (together[i] - alone).abs() < 1e-3,
            "row {i}: {} vs {alone}",
            together[i]
        );
    }
}

#[test]
fn bad_settings_and_pairs_are_refused() {
    for (config, field) in [
        (
            PreferenceConfig {
                beta: 0.0,
                ..config(1, 1e-3)
            },
            "beta",
        ),
        (
            PreferenceConfig {
                micro_batch_size: 0,
                ..config(1, 1e-3)
            },
            "micro_batch_size",
        ),
        (config(1, f64::NAN), "adam.lr"),
    ] {
        let err = Dpo::new(model(), pairs(), config).err().unwrap();
        assert!(
            matches!(&err, ModelError::Setting(m) if m.contains(field)),
            "{field}: {err}"
        );
    }
    let err = Dpo::new(model(), Vec::new(), config(1, 1e-3)).err().unwrap();
    assert!(matches!(err, ModelError::TrainingData(_)), "{err}");
    let mut bad = pairs();
    bad[0].rejected.loss_mask = vec![0; bad[0].rejected.input_ids.len()];
    let err = Dpo::new(model(), bad, config(1, 1e-3)).err().unwrap();
    assert!(
        matches!(&err, ModelError::TrainingData(m) if m.contains("pair 0")),
        "{err}"
    );
}
