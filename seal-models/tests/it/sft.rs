//! The fine-tuning loop: it lowers the training loss, a resumed run equals an uninterrupted
//! one bit for bit (model and Adam state restored from a checkpoint), and the learning-rate
//! schedules have the values they promise.

use std::collections::BTreeMap;

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::tensor::{Tensor, backend::Backend};
use seal_core::{NoopObserver, TokenizedExample};
use seal_models::backend::{CpuTrain, cpu_device};
use seal_models::{AdamSettings, LoraConfig, LrSchedule, Sft, SftConfig, attach_lora, load_llama};

use crate::common::{fixture, fixture_rows};

fn data() -> Vec<TokenizedExample> {
    fixture_rows()
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
        losses.push(sft.run_epoch(&mut NoopObserver).unwrap().mean_loss);
    }
    assert!(losses[5] < 0.8 * losses[0], "loss curve {losses:?}");
    assert_eq!(sft.state().global_step, 6 * data().len().div_ceil(2) as u64);
}

#[test]
fn resume_from_a_checkpoint_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut straight = Sft::new(model(), data(), config(3)).unwrap();
    while !straight.is_done() {
        straight.run_epoch(&mut NoopObserver).unwrap();
    }

    let mut first = Sft::new(model(), data(), config(3)).unwrap();
    first.run_epoch(&mut NoopObserver).unwrap();
    first.save_checkpoint(dir.path()).unwrap();
    drop(first);
    // A fresh skeleton (other initial values would do too): everything comes from the files.
    let mut resumed = Sft::resume(model(), data(), config(3), dir.path(), &cpu_device()).unwrap();
    assert_eq!(resumed.state().epochs_done, 1);
    while !resumed.is_done() {
        resumed.run_epoch(&mut NoopObserver).unwrap();
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

/// Every float parameter of a model by its module path (`model.layers.0.self_attn.q_proj.weight`,
/// `...q_proj.lora.lora_a`), unmerged: a LoRA target's base weight and its adapter are read
/// separately, which `to_tensor_map` (it merges) cannot do.
fn params(model: &seal_models::Llama<seal_models::backend::Cpu>) -> BTreeMap<String, Vec<f32>> {
    struct Collect {
        path: Vec<String>,
        out: BTreeMap<String, Vec<f32>>,
    }
    impl<B: Backend> ModuleVisitor<B> for Collect {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let data = param.val().into_data().convert::<f32>().to_vec::<f32>().unwrap();
            let name = self.path.join(".");
            assert!(
                self.out.insert(name.clone(), data).is_none(),
                "two parameters at {name}"
            );
        }
    }
    let mut visitor = Collect {
        path: Vec::new(),
        out: BTreeMap::new(),
    };
    model.visit(&mut visitor);
    visitor.out
}

fn is_adapter(path: &str) -> bool {
    path.split('.').any(|part| part == "lora")
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn lora_fine_tuning_resumes_too_and_leaves_the_base_frozen() {
    let dir = tempfile::tempdir().unwrap();
    let lora = LoraConfig::default();
    let with_lora = || attach_lora(model(), &lora, &cpu_device()).unwrap();
    let base_before = params(&model().valid());
    // The adapters start random, so the uninterrupted run is the checkpointed run itself,
    // carried on in memory.
    let mut straight = Sft::new(with_lora(), data(), config(2)).unwrap();
    let start = params(&straight.model().valid());
    straight.run_epoch(&mut NoopObserver).unwrap();
    straight.save_checkpoint(dir.path()).unwrap();
    straight.run_epoch(&mut NoopObserver).unwrap();
    let mut resumed = Sft::resume(with_lora(), data(), config(2), dir.path(), &cpu_device()).unwrap();
    resumed.run_epoch(&mut NoopObserver).unwrap();
    assert!(
        weights(&straight) == weights(&resumed),
        "resumed LoRA run differs"
    );
    let after = params(&straight.model().valid());
    // Adapters and base read apart, the resumed run equals the straight one bit for bit too.
    let resumed_after = params(&resumed.model().valid());
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        resumed_after.keys().collect::<Vec<_>>()
    );
    for (name, v) in &after {
        assert!(
            bits(v) == bits(&resumed_after[name]),
            "resumed run differs at {name}"
        );
    }

    // Every base parameter, including the base weights of the targeted projections, is
    // unchanged bit for bit; the model has exactly the base's parameters plus adapters.
    let adapters: Vec<&String> = after.keys().filter(|k| is_adapter(k)).collect();
    let base_after: Vec<&String> = after.keys().filter(|k| !is_adapter(k)).collect();
    assert_eq!(base_after, base_before.keys().collect::<Vec<_>>());
    assert!(base_before.keys().all(|k| !is_adapter(k)));
    for target in ["self_attn.q_proj.weight", "self_attn.v_proj.weight"] {
        assert!(
            base_after.iter().any(|k| k.ends_with(target)),
            "no {target} among {base_after:?}"
        );
    }
    for (name, v) in &base_before {
        assert!(bits(v) == bits(&after[name]), "base parameter {name} moved");
    }

    // Each target projection of each layer has an adapter (A and B), and all of them trained.
    let layers = base_after
        .iter()
        .filter(|k| k.ends_with("input_layernorm.weight"))
        .count();
    assert!(layers > 0);
    assert_eq!(
        adapters.len(),
        layers * lora.target_modules.len() * 2,
        "{adapters:?}"
    );
    for target in &lora.target_modules {
        for layer in 0..layers {
            for part in ["lora_a", "lora_b"] {
                let name = format!("model.layers.{layer}.self_attn.{target}.lora.{part}");
                assert!(after.contains_key(&name), "missing {name} among {adapters:?}");
            }
        }
    }
    for name in adapters {
        assert!(
            bits(&start[name]) != bits(&after[name]),
            "adapter {name} did not train"
        );
    }
}

#[test]
fn a_checkpoint_of_another_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Sft::new(model(), data(), config(2)).unwrap();
    first.run_epoch(&mut NoopObserver).unwrap();
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
