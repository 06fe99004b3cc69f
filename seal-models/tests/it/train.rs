//! Training: SFT lowers the loss it optimises, and `fork` makes a truly independent copy.

use burn::module::Module;
use seal_models::backend::{CpuTrain, cpu_device};
use seal_models::{AdamSettings, TrainBatch, eval_losses, fork, load_llama, sft_step};

use crate::common::{expected, fixture, max_abs_diff};

fn batch() -> TrainBatch {
    let exp = expected("tiny-llama", "expected.json");
    TrainBatch {
        tokens: exp.forward.batch(),
        loss_mask: exp.forward.loss_mask.concat(),
    }
}

#[test]
fn sft_steps_lower_the_training_loss() {
    let device = cpu_device();
    let mut model = load_llama::<CpuTrain>(&fixture("tiny-llama"), &device)
        .unwrap()
        .model;
    let batch = batch();
    let settings = AdamSettings {
        lr: 1e-2,
        ..AdamSettings::default()
    };
    let mut optim = settings
        .to_burn()
        .init::<CpuTrain, seal_models::Llama<CpuTrain>>();
    let before: f32 = eval_losses(&model, &batch).unwrap().iter().sum();
    for _ in 0..5 {
        model = sft_step(model, &mut optim, &batch, settings.lr).unwrap().0;
    }
    let after: f32 = eval_losses(&model, &batch).unwrap().iter().sum();
    assert!(after < 0.8 * before, "loss {before} -> {after}");
}

#[test]
fn fork_is_independent_of_the_original() {
    let device = cpu_device();
    let model = load_llama::<CpuTrain>(&fixture("tiny-llama"), &device)
        .unwrap()
        .model;
    let aux = fork(&model);
    let batch = batch();
    let original = eval_losses(&model, &batch).unwrap();
    assert_eq!(
        eval_losses(&aux, &batch).unwrap(),
        original,
        "a fork starts identical"
    );

    let mut ids = Vec::new();
    model.visit(&mut IdCollector(&mut ids));
    let mut aux_ids = Vec::new();
    aux.visit(&mut IdCollector(&mut aux_ids));
    assert!(
        ids.iter().all(|id| !aux_ids.contains(id)),
        "fork shares parameter ids"
    );

    // Training the fork leaves the original untouched.
    let settings = AdamSettings {
        lr: 1e-2,
        ..AdamSettings::default()
    };
    let mut optim = settings
        .to_burn()
        .init::<CpuTrain, seal_models::Llama<CpuTrain>>();
    let aux = sft_step(aux, &mut optim, &batch, settings.lr).unwrap().0;
    assert_eq!(eval_losses(&model, &batch).unwrap(), original);
    assert!(max_abs_diff(&eval_losses(&aux, &batch).unwrap(), &original) > 1e-3);
}

struct IdCollector<'a>(&'a mut Vec<burn::module::ParamId>);

impl burn::module::ModuleVisitor<CpuTrain> for IdCollector<'_> {
    fn visit_float<const D: usize>(
        &mut self,
        param: &burn::module::Param<burn::tensor::Tensor<CpuTrain, D>>,
    ) {
        self.0.push(param.id);
    }
}
