//! CUDA checks (`just test-gpu` on a GPU machine): the same golden parity and a training step
//! on the CUDA backend. Compiled only with the `cuda` feature, ignored unless asked for.

#![cfg(feature = "cuda")]

use seal_models::backend::{Cuda, CudaTrain};
use seal_models::{load_llama, per_example_loss};

use crate::common::{LOGITS_TOL, LOSS_TOL, expected, fixture, max_abs_diff};

fn device() -> burn::backend::cuda::CudaDevice {
    Default::default()
}

#[test]
#[ignore = "needs a GPU"]
fn tiny_llama_matches_transformers_on_cuda() {
    for name in ["tiny-llama", "tiny-llama-tied", "tiny-qwen2"] {
        let loaded = load_llama::<Cuda>(&fixture(name), &device()).unwrap();
        let exp = expected(name, "expected.json");
        let batch = exp.forward.batch();
        let logits = loaded.model.forward(&batch).unwrap();
        let got = logits
            .clone()
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap();
        let want: Vec<f32> = exp.forward.logits.iter().flatten().flatten().copied().collect();
        let diff = max_abs_diff(&got, &want);
        assert!(diff <= LOGITS_TOL, "{name}: logits differ by {diff} on CUDA");
        let losses = per_example_loss(logits, &batch, &exp.forward.loss_mask.concat()).unwrap();
        let losses = losses.into_data().convert::<f32>().to_vec::<f32>().unwrap();
        let diff = max_abs_diff(&losses, &exp.forward.per_example_loss);
        assert!(diff <= LOSS_TOL * 10.0, "{name}: losses differ by {diff} on CUDA");
    }
}

#[test]
#[ignore = "needs a GPU"]
fn training_step_runs_on_cuda() {
    let (config, _) =
        seal_models::LlamaConfig::from_file(&fixture("tiny-llama").join("config.json")).unwrap();
    let report = seal_models::bench::bench_train_step::<CudaTrain>(&config, 2, 16, 2, &device()).unwrap();
    assert!(report.median_step_s > 0.0);
}
