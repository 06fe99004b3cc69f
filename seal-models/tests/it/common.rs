//! Shared helpers: fixture paths, golden files, tolerances.

use std::path::PathBuf;

use serde::Deserialize;

/// A folder under the workspace's `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join(name)
}

#[derive(Deserialize)]
pub struct Forward {
    pub input_ids: Vec<Vec<u32>>,
    pub attention_mask: Vec<Vec<u8>>,
    pub loss_mask: Vec<Vec<u8>>,
    pub logits: Vec<Vec<Vec<f32>>>,
    #[serde(default)]
    pub per_example_loss: Vec<f32>,
}

#[derive(Deserialize)]
pub struct Greedy {
    pub prompt_ids: Vec<Vec<u32>>,
    #[serde(default)]
    pub attention_mask: Option<Vec<Vec<u8>>>,
    pub max_new_tokens: usize,
    pub tokens: Vec<Vec<u32>>,
    #[serde(default)]
    pub repetition_penalty: Option<f32>,
}

#[derive(Deserialize)]
pub struct Expected {
    pub forward: Forward,
    pub greedy: Option<Greedy>,
    pub greedy_batch: Option<Greedy>,
    pub greedy_repetition_penalty: Option<Greedy>,
}

pub fn expected(dir: &str, file: &str) -> Expected {
    let path = fixture(dir).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

impl Forward {
    pub fn batch(&self) -> seal_models::TokenBatch {
        seal_models::TokenBatch {
            input_ids: self.input_ids.concat(),
            attention_mask: self.attention_mask.concat(),
            batch: self.input_ids.len(),
            seq_len: self.input_ids[0].len(),
        }
    }
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Absolute tolerance on logits against transformers (issue 2).
pub const LOGITS_TOL: f32 = 1e-4;
/// Absolute tolerance on per-example losses against transformers (issue 2).
pub const LOSS_TOL: f32 = 1e-5;

/// The tiny Llama fixture's rows (`expected.json`), unpadded, as training examples.
pub fn fixture_rows() -> Vec<seal_core::TokenizedExample> {
    let exp = expected("tiny-llama", "expected.json");
    exp.forward
        .input_ids
        .iter()
        .zip(exp.forward.loss_mask.iter().zip(&exp.forward.attention_mask))
        .map(|(ids, (mask, att))| {
            let len = att.iter().filter(|&&a| a != 0).count();
            seal_core::TokenizedExample {
                input_ids: ids[..len].to_vec(),
                loss_mask: mask[..len].to_vec(),
            }
        })
        .collect()
}
