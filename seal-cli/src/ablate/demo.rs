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
        "option-runs.toml",
        include_bytes!("../../../fixtures/demo/option-runs.toml"),
    ),
    (
        "diagnostics.toml",
        include_bytes!("../../../fixtures/demo/diagnostics.toml"),
    ),
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

/// `--quick` reads the first rows of each world file (the generator shuffles them, so a prefix
/// holds every kind of example): (file written, embedded source, rows).
const QUICK_SLICES: &[(&str, &str, usize)] = &[
    ("quick/ft.jsonl", "world/ft.jsonl", 160),
    ("quick/safe.jsonl", "world/safe.jsonl", 40),
    ("quick/eval_general.jsonl", "world/eval_general.jsonl", 20),
    ("quick/eval_harmful.jsonl", "world/eval_harmful.jsonl", 22),
    ("quick/preferences.jsonl", "world/preferences.jsonl", 120),
];

fn embedded(name: &str) -> &'static [u8] {
    FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .expect("only embedded files are named")
}

/// The first `rows` lines of `bytes`.
fn first_lines(bytes: &[u8], rows: usize) -> Vec<u8> {
    let end = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(rows - 1)
        .map_or(bytes.len(), |(i, _)| i + 1);
    bytes[..end].to_vec()
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    seal_io::write_atomic(path, bytes)?;
    Ok(())
}

/// Which plan the demo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoPlan {
    /// The default plan (algorithms, schedules, baselines).
    Default,
    /// The default plan plus the selector-option runs (`option-runs.toml`).
    WithOptions,
    /// A slice of the world for tests.
    Quick,
    /// Select-only runs over three seeds: the judge-free diagnostics (`diagnostics.toml`).
    Diagnostics,
}

/// Writes the embedded inputs into `dir` (files that already hold the same bytes are left
/// alone, so a resumed demo sees unchanged inputs) and returns the plan's path.
pub fn write_inputs(dir: &Path, plan: DemoPlan) -> anyhow::Result<PathBuf> {
    let quick = plan == DemoPlan::Quick;
    for (name, bytes) in FILES {
        write_if_changed(&dir.join(name), bytes)?;
    }
    if quick {
        for (name, source, rows) in QUICK_SLICES {
            write_if_changed(&dir.join(name), &first_lines(embedded(source), *rows))?;
        }
    }
    Ok(match plan {
        DemoPlan::Default => dir.join("plan.toml"),
        DemoPlan::Quick => dir.join("quick.toml"),
        DemoPlan::Diagnostics => dir.join("diagnostics.toml"),
        DemoPlan::WithOptions => {
            let mut text = embedded("plan.toml").to_vec();
            text.extend_from_slice(embedded("option-runs.toml"));
            let path = dir.join("plan-with-options.toml");
            write_if_changed(&path, &text)?;
            path
        }
    })
}

/// Runs the demo into `out`; returns the report's path.
pub fn run(out: &Path, plan: DemoPlan, options: &AblateOptions) -> anyhow::Result<PathBuf> {
    let plan = write_inputs(&out.join("inputs"), plan)?;
    run_plan_file(&plan, out, options)
}
