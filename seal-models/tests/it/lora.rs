//! LoRA: a fresh adapter (B = 0) changes nothing, merging equals adapter + base, PEFT files
//! load (and match `peft`'s logits) and round-trip, and only adapters train.

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use seal_models::backend::{Cpu, CpuTrain, cpu_device};
use seal_models::{
    LoraConfig, attach_lora, load_adapter, load_llama, merge_lora, per_example_loss, save_adapter,
};

use crate::common::{LOGITS_TOL, expected, fixture, max_abs_diff};

fn logits(model: &seal_models::Llama<Cpu>, batch: &seal_models::TokenBatch) -> Vec<f32> {
    model.forward(batch).unwrap().into_data().to_vec::<f32>().unwrap()
}

#[test]
fn zero_initialised_adapter_leaves_logits_unchanged() {
    let device = cpu_device();
    let base = load_llama::<Cpu>(&fixture("tiny-llama"), &device).unwrap().model;
    let batch = expected("tiny-llama", "expected.json").forward.batch();
    let config = LoraConfig {
        rank: 4,
        alpha: 8.0,
        ..LoraConfig::default()
    };
    let adapted = attach_lora(base.clone(), &config, &device).unwrap();
    assert_eq!(logits(&base, &batch), logits(&adapted, &batch));
}

#[test]
fn peft_adapter_matches_peft_logits_and_merges() {
    let device = cpu_device();
    let base = load_llama::<Cpu>(&fixture("tiny-llama"), &device).unwrap().model;
    let exp = expected("tiny-llama", "expected_lora.json");
    let batch = exp.forward.batch();
    let adapted = load_adapter(base, &fixture("tiny-llama").join("peft"), &device).unwrap();
    let want: Vec<f32> = exp.forward.logits.iter().flatten().flatten().copied().collect();
    let with_adapter = logits(&adapted, &batch);
    let diff = max_abs_diff(&with_adapter, &want);
    assert!(diff <= LOGITS_TOL, "adapter logits differ from peft by {diff}");

    let merged = merge_lora(adapted.clone());
    let diff = max_abs_diff(&logits(&merged, &batch), &with_adapter);
    assert!(
        diff <= LOGITS_TOL,
        "merged model differs from adapter + base by {diff}"
    );

    let dir = tempfile::tempdir().unwrap();
    save_adapter(&adapted, "fixtures/tiny-llama", dir.path()).unwrap();
    let base = load_llama::<Cpu>(&fixture("tiny-llama"), &device).unwrap().model;
    let reloaded = load_adapter(base, dir.path(), &device).unwrap();
    assert_eq!(
        logits(&reloaded, &batch),
        with_adapter,
        "adapter save/load round trip"
    );
}

#[test]
fn only_adapter_parameters_train() {
    let device = cpu_device();
    let base = load_llama::<CpuTrain>(&fixture("tiny-llama"), &device)
        .unwrap()
        .model;
    let before = base.valid();
    let config = LoraConfig {
        rank: 2,
        alpha: 4.0,
        ..LoraConfig::default()
    };
    let model = attach_lora(base, &config, &device).unwrap();
    let exp = expected("tiny-llama", "expected.json");
    let batch = exp.forward.batch();
    let mut optim = AdamConfig::new().init::<CpuTrain, seal_models::Llama<CpuTrain>>();
    let loss = per_example_loss(
        model.forward(&batch).unwrap(),
        &batch,
        &exp.forward.loss_mask.concat(),
    )
    .unwrap()
    .mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optim.step(1e-2, model, grads);
    let after = model.valid();
    let layer_before = &before.model.layers[0];
    let layer_after = &after.model.layers[0];
    let w = |m: &seal_models::llama::linear::Linear<Cpu>| m.weight.val().into_data().to_vec::<f32>().unwrap();
    assert_eq!(
        w(&layer_before.self_attn.q_proj),
        w(&layer_after.self_attn.q_proj),
        "base weight moved"
    );
    assert_eq!(
        w(&layer_before.mlp.up_proj),
        w(&layer_after.mlp.up_proj),
        "untargeted weight moved"
    );
    let lora_b = layer_after.self_attn.q_proj.lora.as_ref().unwrap().lora_b.val();
    assert!(lora_b.abs().sum().into_scalar() > 0.0, "adapter B did not train");
}

#[test]
fn unknown_target_module_is_an_error() {
    let device = cpu_device();
    let base = load_llama::<Cpu>(&fixture("tiny-llama"), &device).unwrap().model;
    let config = LoraConfig {
        target_modules: vec!["qproj".into()],
        ..LoraConfig::default()
    };
    let err = attach_lora(base, &config, &device).unwrap_err();
    assert!(err.to_string().contains("qproj"), "{err}");
}
