//! The fine-tuning loop: it lowers the training loss, a resumed run equals an uninterrupted
//! one bit for bit (model and Adam state restored from a checkpoint), and the learning-rate
//! schedules have the values they promise.

use burn::module::AutodiffModule;
use seal_models::backend::{CpuTrain, cpu_device};
use seal_models::{
    AdamSettings, LoraConfig, LrSchedule, Sft, SftConfig, TokenizedExample, attach_lora, load_llama,
};

use crate::common::{expected, fixture};

fn data() -> Vec<TokenizedExample> {
    let exp = expected("tiny-llama", "expected.json");
    exp.forward
        .input_ids
        .iter()
        .zip(exp.forward.loss_mask.iter().zip(&exp.forward.attention_mask))
        .map(|(ids, (mask, att))| {
            let len = att.iter().filter(|&&a| a != 0).count();
            TokenizedExample {
                input_ids: ids[..len].to_vec(),
                loss_mask: mask[..len].to_vec(),
            }
        })
        .collect()
}

fn config(epochs: u64) -> SftConfig {
    SftConfig {
        epochs,
        batch_size: 2,
        micro_batch_size: 1,
        adam: AdamSettings {
            lr: 5e-3,
            ..AdamSettings::default()
        },
        schedule: LrSchedule::Cosine { warmup_ratio: 0.2 },
        seed: 3,
        ..SftConfig::default()
    }
}

fn model() -> seal_models::Llama<CpuTrain> {
    load_llama::<CpuTrain>(&fixture("tiny-llama"), &cpu_device())
        .unwrap()
        .model
}

fn weights(sft: &Sft<CpuTrain>) -> Vec<f32> {
    seal_models::hf::weights::to_tensor_map(&sft.model().valid())
        .into_iter_sorted()
        .flat_map(|(_, t)| t.data)
        .collect()
}

#[test]
fn fine_tuning_lowers_the_training_loss() {
    let mut sft = Sft::new(model(), data(), config(6)).unwrap();
    let mut losses = Vec::new();
    while !sft.is_done() {
        losses.push(sft.run_epoch(&mut |_| {}).unwrap().mean_loss);
    }
    assert!(losses[5] < 0.8 * losses[0], "loss curve {losses:?}");
    assert_eq!(sft.state().global_step, 6 * data().len().div_ceil(2) as u64);
}

#[test]
fn resume_from_a_checkpoint_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut straight = Sft::new(model(), data(), config(3)).unwrap();
    while !straight.is_done() {
        straight.run_epoch(&mut |_| {}).unwrap();
    }

    let mut first = Sft::new(model(), data(), config(3)).unwrap();
    first.run_epoch(&mut |_| {}).unwrap();
    first.save_checkpoint(dir.path()).unwrap();
    drop(first);
    // A fresh skeleton (other initial values would do too): everything comes from the files.
    let mut resumed = Sft::resume(model(), data(), config(3), dir.path(), &cpu_device()).unwrap();
    assert_eq!(resumed.state().epochs_done, 1);
    while !resumed.is_done() {
        resumed.run_epoch(&mut |_| {}).unwrap();
    }
    assert!(weights(&straight) == weights(&resumed), "resumed run differs");
    assert_eq!(straight.state(), &{
        let mut s = resumed.state().clone();
        // Wall times differ between runs; everything else must not.
        for (a, b) in s.history.iter_mut().zip(&straight.state().history) {
            a.wall_s = b.wall_s;
            a.tokens_per_s = b.tokens_per_s;
        }
        s
    });
}

#[test]
fn lora_fine_tuning_resumes_too_and_leaves_the_base_frozen() {
    let dir = tempfile::tempdir().unwrap();
    let lora = LoraConfig::default();
    let with_lora = || attach_lora(model(), &lora, &cpu_device()).unwrap();
    let base_before = seal_models::hf::weights::to_tensor_map(&model().valid());
    // The adapters start random, so the uninterrupted run is the checkpointed run itself,
    // carried on in memory.
    let mut straight = Sft::new(with_lora(), data(), config(2)).unwrap();
    straight.run_epoch(&mut |_| {}).unwrap();
    straight.save_checkpoint(dir.path()).unwrap();
    straight.run_epoch(&mut |_| {}).unwrap();
    let mut resumed = Sft::resume(with_lora(), data(), config(2), dir.path(), &cpu_device()).unwrap();
    resumed.run_epoch(&mut |_| {}).unwrap();
    assert!(
        weights(&straight) == weights(&resumed),
        "resumed LoRA run differs"
    );
    // Only the adapters moved: the embedding (not a LoRA target) is unchanged.
    let after = seal_models::hf::weights::to_tensor_map(&straight.model().valid());
    let name = "model.embed_tokens.weight";
    assert!(base_before.get(name).unwrap().data == after.get(name).unwrap().data);
}

#[test]
fn a_checkpoint_of_another_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Sft::new(model(), data(), config(2)).unwrap();
    first.run_epoch(&mut |_| {}).unwrap();
    first.save_checkpoint(dir.path()).unwrap();
    // Half the data: the step count in the checkpoint cannot be this run's.
    let half = data()[..1].to_vec();
    let err = Sft::resume(model(), half, config(2), dir.path(), &cpu_device())
        .err()
        .unwrap();
    assert!(err.to_string().contains("checkpoint"), "{err}");
    let err = Sft::resume(
        model(),
        data(),
        config(2),
        &dir.path().join("missing"),
        &cpu_device(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn schedules_have_their_documented_values() {
    assert_eq!(LrSchedule::Constant.factor(7, 10), 1.0);
    let cosine = LrSchedule::Cosine { warmup_ratio: 0.2 };
    // 10 steps, 2 of warm-up: 0.5, 1.0, then cosine from 1 down to 0 at step 10.
    assert!((cosine.factor(0, 10) - 0.5).abs() < 1e-12);
    assert!((cosine.factor(1, 10) - 1.0).abs() < 1e-12);
    assert!((cosine.factor(2, 10) - 1.0).abs() < 1e-12);
    assert!((cosine.factor(6, 10) - 0.5).abs() < 1e-12);
    assert!(cosine.factor(9, 10) < 0.05);
    assert!(cosine.factor(9, 10) > 0.0);
}

#[test]
fn bad_settings_and_data_are_refused() {
    let mut bad = config(1);
    bad.adam.lr = f64::NAN;
    assert!(Sft::new(model(), data(), bad).is_err());
    assert!(Sft::new(model(), Vec::new(), config(1)).is_err());
    let mut rows = data();
    rows[0].loss_mask = vec![0; rows[0].input_ids.len()];
    let err = Sft::new(model(), rows, config(1)).err().unwrap();
    assert!(err.to_string().contains("row 0"), "{err}");
}
