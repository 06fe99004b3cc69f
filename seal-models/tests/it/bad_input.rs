//! Bad checkpoints are clear errors naming the file, field or tensor, never panics.

use std::path::Path;

use seal_models::backend::{Cpu, cpu_device};
use seal_models::{ModelError, load_llama};

use crate::common::fixture;

fn copy_fixture(name: &str, to: &Path) {
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn load_err(dir: &Path) -> ModelError {
    load_llama::<Cpu>(dir, &cpu_device()).expect_err("loading must fail")
}

#[test]
fn truncated_safetensors_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture("tiny-llama", dir.path());
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_err(dir.path());
    assert!(matches!(err, ModelError::Safetensors { .. }), "{err:?}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn wrong_shape_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture("tiny-llama", dir.path());
    // Same tensors, config claims a wider MLP.
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"intermediate_size\": 96", "\"intermediate_size\": 128");
    std::fs::write(&path, text).unwrap();
    let err = load_err(dir.path());
    assert!(matches!(err, ModelError::TensorShape { .. }), "{err:?}");
    assert!(err.to_string().contains("mlp.gate_proj.weight"), "{err}");
}

#[test]
fn hidden_size_not_divisible_by_heads_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture("tiny-llama", dir.path());
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"head_dim\": 16,", "")
        .replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5")
        .replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 5");
    std::fs::write(&path, text).unwrap();
    let err = load_err(dir.path());
    let msg = err.to_string();
    assert!(
        msg.contains("hidden_size") && msg.contains("config.json"),
        "{msg}"
    );
}

#[test]
fn missing_and_unexpected_tensors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture("tiny-llama", dir.path());
    // One layer more than the checkpoint has: layer 2's tensors are missing.
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
    std::fs::write(&path, &text).unwrap();
    let err = load_err(dir.path());
    assert!(err.to_string().contains("model.layers.2."), "{err}");
    // One layer fewer: layer 1's tensors are unexpected.
    std::fs::write(
        &path,
        text.replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 1"),
    )
    .unwrap();
    let err = load_err(dir.path());
    assert!(matches!(err, ModelError::UnexpectedTensors { .. }), "{err:?}");
    assert!(err.to_string().contains("model.layers.1."), "{err}");
}

#[test]
fn missing_weights_and_config_are_named() {
    let dir = tempfile::tempdir().unwrap();
    assert!(load_err(dir.path()).to_string().contains("config.json"));
    std::fs::copy(
        fixture("tiny-llama").join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    assert!(load_err(dir.path()).to_string().contains("model.safetensors"));
}

#[test]
fn out_of_vocabulary_token_is_an_input_error() {
    let loaded = load_llama::<Cpu>(&fixture("tiny-llama"), &cpu_device()).unwrap();
    let batch = seal_models::TokenBatch::right_padded(&[vec![1, 100_000]], 0);
    let err = loaded.model.forward(&batch).unwrap_err();
    assert!(err.to_string().contains("100000"), "{err}");
}
