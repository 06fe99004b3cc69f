//! Golden parity with Hugging Face `transformers` on the generated tiny checkpoints
//! (fixtures/make_fixtures.py): logits, per-example losses, greedy tokens; and a save/load
//! round trip.

use seal_models::backend::{Cpu, cpu_device};
use seal_models::{SamplingConfig, generate, load_llama, per_example_loss, response_losses, save_llama};

use crate::common::{LOGITS_TOL, LOSS_TOL, expected, fixture, max_abs_diff};

fn to_vec<const D: usize>(t: burn::tensor::Tensor<Cpu, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

fn check_forward(name: &str) {
    let device = cpu_device();
    let loaded = load_llama::<Cpu>(&fixture(name), &device).unwrap();
    let exp = expected(name, "expected.json");
    let batch = exp.forward.batch();
    let logits = loaded.model.forward(&batch).unwrap();
    let got = to_vec(logits.clone());
    let want: Vec<f32> = exp.forward.logits.iter().flatten().flatten().copied().collect();
    let diff = max_abs_diff(&got, &want);
    assert!(diff <= LOGITS_TOL, "{name}: logits differ by {diff}");

    let losses = to_vec(per_example_loss(logits, &batch, &exp.forward.loss_mask.concat()).unwrap());
    let diff = max_abs_diff(&losses, &exp.forward.per_example_loss);
    assert!(
        diff <= LOSS_TOL,
        "{name}: per-example losses differ by {diff}: {losses:?}"
    );
}

fn check_greedy(name: &str) {
    let device = cpu_device();
    let loaded = load_llama::<Cpu>(&fixture(name), &device).unwrap();
    let exp = expected(name, "expected.json");
    for case in [exp.greedy, exp.greedy_repetition_penalty, exp.greedy_batch]
        .into_iter()
        .flatten()
    {
        // Strip the left padding: seal pads again itself.
        let prompts: Vec<Vec<u32>> = match &case.attention_mask {
            Some(masks) => case
                .prompt_ids
                .iter()
                .zip(masks)
                .map(|(ids, m)| {
                    ids.iter()
                        .zip(m)
                        .filter(|(_, m)| **m != 0)
                        .map(|(id, _)| *id)
                        .collect()
                })
                .collect(),
            None => case.prompt_ids.clone(),
        };
        let config = SamplingConfig {
            repetition_penalty: case.repetition_penalty.unwrap_or(1.0),
            ..SamplingConfig::greedy(case.max_new_tokens)
        };
        let got = generate(&loaded.model, &prompts, &config, &[], 0).unwrap();
        assert_eq!(got, case.tokens, "{name}: greedy tokens for prompts {prompts:?}");
    }
}

#[test]
fn tiny_llama_gqa_matches_transformers() {
    check_forward("tiny-llama");
    check_greedy("tiny-llama");
}

#[test]
fn tiny_llama_tied_bf16_llama3_rope_matches_transformers() {
    check_forward("tiny-llama-tied");
    check_greedy("tiny-llama-tied");
}

#[test]
fn tiny_qwen2_sharded_f16_with_biases_matches_transformers() {
    check_forward("tiny-qwen2");
    check_greedy("tiny-qwen2");
}

#[test]
fn tiny_mistral_matches_transformers() {
    check_forward("tiny-mistral");
    check_greedy("tiny-mistral");
}

#[test]
fn save_then_load_gives_identical_logits() {
    let device = cpu_device();
    let loaded = load_llama::<Cpu>(&fixture("tiny-qwen2"), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_llama(&loaded.model, &loaded.hf_config, dir.path()).unwrap();
    let reloaded = load_llama::<Cpu>(dir.path(), &device).unwrap();
    assert_eq!(reloaded.config, loaded.config);
    let batch = expected("tiny-qwen2", "expected.json").forward.batch();
    let a = to_vec(loaded.model.forward(&batch).unwrap());
    let b = to_vec(reloaded.model.forward(&batch).unwrap());
    assert_eq!(a, b, "a save/load round trip must be exact (f32 on disk)");
}

#[test]
fn response_losses_have_the_same_gradients_as_full_logits() {
    use seal_models::backend::CpuTrain;
    let device = cpu_device();
    let exp = expected("tiny-llama-tied", "expected.json");
    let batch = exp.forward.batch();
    let mask = exp.forward.loss_mask.concat();
    let grad_of = |use_rows: bool| {
        let model = load_llama::<CpuTrain>(&fixture("tiny-llama-tied"), &device)
            .unwrap()
            .model;
        let losses = if use_rows {
            response_losses(&model, &batch, &mask).unwrap()
        } else {
            per_example_loss(model.forward(&batch).unwrap(), &batch, &mask).unwrap()
        };
        // Weighted as the selector weights them.
        let weights = burn::tensor::Tensor::<CpuTrain, 1>::from_floats([0.5, 1.0, 2.0], &device);
        let mut grads = (losses * weights).mean().backward();
        let embed = model.model.embed_tokens.weight.val();
        embed
            .grad_remove(&mut grads)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap()
    };
    let diff = max_abs_diff(&grad_of(true), &grad_of(false));
    // f32 summation order differs (rows vs full logits): 1e-6 seen.
    assert!(diff <= 1e-5, "embedding gradients differ by {diff}");
}

#[test]
fn rows_that_stop_leave_the_batch_without_changing_the_others() {
    // Decoding drops a row from the batch and the cache once it emits a stop token. Greedy,
    // every other row must decode exactly as if it had stayed: each output is the unstopped
    // output cut after its first stop token.
    let device = cpu_device();
    let loaded = load_llama::<Cpu>(&fixture("tiny-llama"), &device).unwrap();
    let prompts: Vec<Vec<u32>> = vec![
        vec![5, 9, 14],
        vec![3],
        vec![8, 2, 11, 4, 7, 1],
        vec![12, 6],
        vec![10, 13, 5, 2],
    ];
    let greedy = SamplingConfig::greedy(24);
    let free = generate(&loaded.model, &prompts, &greedy, &[], 0).unwrap();
    // Stop on tokens the rows reach at different steps.
    let stops = [free[0][3], free[2][9]];
    let cut = |tokens: &Vec<u32>| -> Vec<u32> {
        match tokens.iter().position(|t| stops.contains(t)) {
            Some(at) => tokens[..=at].to_vec(),
            None => tokens.clone(),
        }
    };
    let want: Vec<Vec<u32>> = free.iter().map(cut).collect();
    let lengths: std::collections::BTreeSet<usize> = want.iter().map(Vec::len).collect();
    assert!(lengths.len() >= 3 && lengths.contains(&24), "{want:?}");
    assert_eq!(
        generate(&loaded.model, &prompts, &greedy, &stops, 0).unwrap(),
        want
    );
    // The tensor cache (backends without the host one; here the training backend) drops rows too.
    let train = load_llama::<seal_models::backend::CpuTrain>(&fixture("tiny-llama"), &device).unwrap();
    assert_eq!(
        generate(&train.model, &prompts, &greedy, &stops, 0).unwrap(),
        want
    );

    // Sampled, a stopped row draws no more tokens (as before rows left the batch), so the
    // others' later draws move on; until the first row stops, every row draws as unstopped,
    // and the run is seeded.
    let sampled = SamplingConfig {
        seed: 7,
        max_new_tokens: 24,
        ..SamplingConfig::default()
    };
    let free = generate(&loaded.model, &prompts, &sampled, &[], 0).unwrap();
    let stops = [free[1][4]];
    let got = generate(&loaded.model, &prompts, &sampled, &stops, 0).unwrap();
    let first_stop = got.iter().map(Vec::len).min().unwrap();
    assert!(first_stop < 24, "{got:?}");
    for (got, free) in got.iter().zip(&free) {
        assert_eq!(got[..first_stop], free[..first_stop]);
    }
    assert_eq!(
        generate(&loaded.model, &prompts, &sampled, &stops, 0).unwrap(),
        got
    );
}
