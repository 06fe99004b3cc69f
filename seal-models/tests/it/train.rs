//! Training: SFT lowers the loss it optimises, and `fork` makes a truly independent copy.

use burn::module::Module;
use seal_models::backend::{CpuTrain, cpu_device};
use seal_models::{AdamSettings, GradientStep, Llama, TrainBatch, eval_losses, fork, load_llama, sft_step};

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
    let mut trainer = GradientStep::<Llama<CpuTrain>, CpuTrain>::new(settings.clone(), None);
    let before: f32 = eval_losses(&model, &batch).unwrap().iter().sum();
    for _ in 0..5 {
        model = sft_step(model, &mut trainer, &batch, settings.lr).unwrap().0;
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
    let mut trainer = GradientStep::<Llama<CpuTrain>, CpuTrain>::new(settings.clone(), None);
    let aux = sft_step(aux, &mut trainer, &batch, settings.lr).unwrap().0;
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

fn rows_of_lengths(lengths: &[usize]) -> Vec<seal_core::TokenizedExample> {
    lengths
        .iter()
        .enumerate()
        .map(|(r, &n)| seal_core::TokenizedExample {
            input_ids: (0..n).map(|t| ((t * 7 + r * 13) % 90 + 5) as u32).collect(),
            loss_mask: (0..n).map(|t| u8::from(t >= n / 3)).collect(),
        })
        .collect()
}

#[test]
fn length_groups_split_long_rows_from_short_ones_and_keep_every_row_once() {
    let rows = rows_of_lengths(&[10, 200, 12, 190, 11]);
    let refs: Vec<_> = rows.iter().collect();
    let groups = seal_models::length_groups(&refs, 0);
    let positions: Vec<Vec<usize>> = groups.iter().map(|g| g.positions.clone()).collect();
    // One batch pads to 5 x 200 = 1000 tokens; two groups cost 2 x 200 + 3 x 12 plus a pass.
    assert_eq!(positions, vec![vec![1, 3], vec![2, 4, 0]]);
    assert_eq!(groups[1].batch.tokens.seq_len, 12);
    let same = rows_of_lengths(&[40, 40, 40]);
    let refs: Vec<_> = same.iter().collect();
    assert_eq!(
        seal_models::length_groups(&refs, 0).len(),
        1,
        "equal lengths stay one batch"
    );
}

#[test]
fn grouped_losses_and_gradients_equal_one_padded_batch() {
    use burn::tensor::{Tensor, TensorData};
    let device = cpu_device();
    let model = load_llama::<CpuTrain>(&fixture("tiny-llama"), &device)
        .unwrap()
        .model;
    let rows = rows_of_lengths(&[6, 60, 7, 58, 5]);
    let refs: Vec<_> = rows.iter().collect();
    let coef = [0.5f32, 1.0, 1.5, 2.0, 2.5];
    let weighted = |batch: &TrainBatch, c: Vec<f32>| {
        let losses = seal_models::response_losses(&model, &batch.tokens, &batch.loss_mask).unwrap();
        let n = c.len();
        let grads = (losses.clone() * Tensor::<CpuTrain, 1>::from_data(TensorData::new(c, [n]), &device))
            .sum()
            .backward();
        let g = model.model.embed_tokens.weight.grad(&grads).unwrap();
        (
            losses.inner().into_data().to_vec::<f32>().unwrap(),
            g.into_data().to_vec::<f32>().unwrap(),
        )
    };
    let (whole_losses, whole_grad) = weighted(&TrainBatch::right_padded(&refs, 0), coef.to_vec());
    let groups = seal_models::length_groups(&refs, 0);
    assert!(groups.len() > 1, "the rows are meant to split");
    let mut losses = vec![0.0f32; rows.len()];
    let mut grad = vec![0.0f32; whole_grad.len()];
    for group in &groups {
        let (l, g) = weighted(&group.batch, group.positions.iter().map(|&p| coef[p]).collect());
        for (&p, v) in group.positions.iter().zip(l) {
            losses[p] = v;
        }
        grad.iter_mut().zip(g).for_each(|(a, b)| *a += b);
    }
    assert!(
        max_abs_diff(&losses, &whole_losses) < 1e-5,
        "{losses:?} vs {whole_losses:?}"
    );
    let scale = whole_grad.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(
        max_abs_diff(&grad, &whole_grad) <= 1e-5 * scale,
        "gradients differ beyond rounding"
    );
}
