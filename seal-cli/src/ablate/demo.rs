//! `seal demo`: the default ablation plan on the embedded fixture world. The world's data, its
//! tokenizer, the tiny aligned Llama trained on it (`just world-model`) and the plans are
//! compiled into the binary, so the demo runs anywhere without a download.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{AblateOptions, run_plan_file};

/// Embedded files, by their path under the demo's `inputs/` folder.
const FILES: &[(&str, &[u8])] = &[
    ("plan.toml", include_bytes!("../../../fixtures/demo/plan.toml")),
    ("quick.toml", include_bytes!("../../../fixtures/demo/quick.toml")),
    (
        "world/safe.jsonl",
        include_bytes!("../../../fixtures/world/safe.jsonl"),
    ),
    (
        "world/ft.jsonl",
        include_bytes!("../../../fixtures/world/ft.jsonl"),
    ),
    (
        "world/eval_helpful.jsonl",
        include_bytes!("../../../fixtures/world/eval_helpful.jsonl"),
    ),
    (
        "world/eval_general.jsonl",
        include_bytes!("../../../fixtures/world/eval_general.jsonl"),
    ),
    (
        "world/eval_harmful.jsonl",
        include_bytes!("../../../fixtures/world/eval_harmful.jsonl"),
    ),
    (
        "world/preferences.jsonl",
        include_bytes!("../../../fixtures/world/preferences.jsonl"),
    ),
    (
        "world/tokenizer.json",
        include_bytes!("../../../fixtures/world/tokenizer.json"),
    ),
    (
        "world/tokenizer_config.json",
        include_bytes!("../../../fixtures/world/tokenizer_config.json"),
    ),
    (
        "world-model/config.json",
        include_bytes!("../../../fixtures/world-model/config.json"),
    ),
    (
        "world-model/model.safetensors",
        include_bytes!("../../../fixtures/world-model/model.safetensors"),
    ),
    (
        "world-model/tokenizer.json",
        include_bytes!("../../../fixtures/world-model/tokenizer.json"),
    ),
    (
        "world-model/tokenizer_config.json",
        include_bytes!("../../../fixtures/world-model/tokenizer_config.json"),
    ),
];

/// Writes the embedded inputs into `dir` (files that already hold the same bytes are left
/// alone, so a resumed demo sees unchanged inputs) and returns the plan's path.
pub fn write_inputs(dir: &Path, quick: bool) -> anyhow::Result<PathBuf> {
    for (name, bytes) in FILES {
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() == Some(*bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        seal_models::io::write_atomic(&path, bytes)?;
    }
    Ok(dir.join(if quick { "quick.toml" } else { "plan.toml" }))
}

/// Runs the demo into `out`; returns the report's path.
pub fn run(out: &Path, quick: bool, options: &AblateOptions) -> anyhow::Result<PathBuf> {
    let plan = write_inputs(&out.join("inputs"), quick)?;
    run_plan_file(&plan, out, options)
}
