//! Preference tuning (`seal dpo`): a model folder and a JSONL file of `{prompt, chosen,
//! rejected}` pairs in; the tuned model (an HF folder with its tokenizer), a checkpoint per epoch,
//! `metrics.json`, `metrics.jsonl` (per step) and the resolved `dpo.json` out. A pair with either
//! answer over `max_len` tokens is left out and counted. The loss is DPO's
//! (`seal_models::train::preference`), against the starting model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use seal_core::ExampleId;
use seal_data::{ChatMessage, Example, Label, TextTokenizer};
use seal_eval::read_preferences;
use seal_models::backend::AutodiffBackend;
use seal_models::train::sft::{epoch_dir, latest_checkpoint};
use seal_models::{
    Dpo, PreferenceConfig, PreferenceEpochReport, TokenizedPair, TrainStep, load_llama, save_llama,
};
use serde::{Deserialize, Serialize};

use super::common::{
    TemplateChoice, check_run_dir, copy_tokenizer, peak_rss, record_run_spec, require_file, tokenize,
    write_folder, write_json,
};

/// Everything a preference run depends on; written to `dpo.json` as resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpoSpec {
    /// The model folder tuned, and the reference of the loss.
    pub model: PathBuf,
    /// The pairs: JSONL with `prompt`, `chosen`, `rejected` (as `seal data pairs` writes them).
    pub pairs: PathBuf,
    /// Prompt template.
    pub template: TemplateChoice,
    /// Longest answer in tokens, prompt included.
    pub max_len: usize,
    /// Batches, Adam, β, seed.
    pub dpo: PreferenceConfig,
}

/// `metrics.json` of a preference run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DpoMetrics {
    /// Pairs trained on (after the length filter).
    pub train_pairs: usize,
    /// Pairs left out by the length filter.
    pub dropped_by_length: usize,
    /// One report per epoch (loss, accuracy, margin, wall time).
    pub epochs: Vec<PreferenceEpochReport>,
    /// Wall time of the stage in this process (a resumed run counts only its own part).
    pub wall_s: f64,
    /// Peak resident memory of the process (CPU), bytes.
    pub peak_rss_bytes: u64,
    /// Seed of the run.
    pub seed: u64,
}

/// Runs (or with `resume`, continues) a preference run into `out`; returns its metrics.
pub fn run<B: AutodiffBackend>(
    spec: &DpoSpec,
    out: &Path,
    resume: bool,
    device: &B::Device,
) -> anyhow::Result<DpoMetrics> {
    require_file(&spec.pairs)?;
    spec.dpo.validate()?;
    let started = Instant::now();
    let spec_path = out.join("dpo.json");
    check_run_dir(out, &spec_path, spec, resume, "preference tuning", |old, new| {
        old == new
    })?;
    if resume {
        seal_io::remove_stale_temp_files(out)?;
    }
    let tokenizer = TextTokenizer::from_dir(&spec.model)
        .with_context(|| format!("loading tokenizer of {}", spec.model.display()))?;
    let template = spec.template.resolve(&tokenizer)?;
    let (pairs, dropped) = tokenized_pairs(spec, &tokenizer, &template)?;
    let train_pairs = pairs.len();
    let loaded = load_llama::<B>(&spec.model, device)?;
    let config = PreferenceConfig {
        pad_id: tokenizer.pad_id,
        ..spec.dpo.clone()
    };
    let checkpoints = out.join("checkpoints");
    let mut dpo = match latest_checkpoint(&checkpoints).filter(|_| resume) {
        Some(dir) => {
            tracing::info!(checkpoint = %dir.display(), "resuming preference tuning");
            Dpo::resume(loaded.model, pairs, config, &dir, device)?
        }
        None => Dpo::new(loaded.model, pairs, config)?,
    };
    // Everything loaded and the trainer accepted it: only now is --out touched.
    record_run_spec(out, &spec_path, spec)?;
    let _lock = super::common::lock_run_folder(out)?;
    let steps_per_epoch = spec.dpo.steps_per_epoch(train_pairs);
    let mut bar = crate::progress::Progress::new(
        "preference tuning",
        "steps",
        Some(steps_per_epoch * spec.dpo.epochs),
    );
    bar.resume_at(dpo.state().global_step);
    let mut metrics = crate::progress::MetricsStream::open(out, dpo.state().global_step)?;
    let mut last_step = Instant::now();
    while !dpo.is_done() {
        let report = dpo.run_epoch(&mut |step: &TrainStep| {
            let dt = last_step.elapsed().as_secs_f64().max(1e-9);
            last_step = Instant::now();
            metrics.write_train_step(step, dt, started.elapsed().as_secs_f64());
            bar.set_message(format!("epoch {} loss {:.4}", step.epoch + 1, step.loss));
            bar.set_position(step.global_step + 1);
        })?;
        tracing::info!(
            epoch = report.epoch,
            loss = format!("{:.4}", report.mean_loss),
            accuracy = format!("{:.3}", report.accuracy),
            margin = format!("{:.3}", report.mean_margin),
            "preference epoch done"
        );
        dpo.save_checkpoint(&epoch_dir(&checkpoints, report.epoch))?;
    }
    let epochs = dpo.state().history.clone();
    let model = dpo.into_model();
    write_folder(&out.join("model"), |dir| {
        save_llama(&model, &loaded.hf_config, dir)?;
        copy_tokenizer(&spec.model, dir)
    })?;
    let metrics = DpoMetrics {
        train_pairs,
        dropped_by_length: dropped,
        epochs,
        wall_s: started.elapsed().as_secs_f64(),
        peak_rss_bytes: peak_rss(),
        seed: spec.dpo.seed,
    };
    write_json(&out.join("metrics.json"), &metrics)?;
    Ok(metrics)
}

/// The pairs of `spec.pairs`, both answers tokenized with the prompt; pairs with an answer over
/// `max_len` are left out (returned: how many).
fn tokenized_pairs(
    spec: &DpoSpec,
    tokenizer: &TextTokenizer,
    template: &seal_data::ChatTemplate,
) -> anyhow::Result<(Vec<TokenizedPair>, usize)> {
    let pairs = read_preferences(&spec.pairs).with_context(|| format!("reading {}", spec.pairs.display()))?;
    if pairs.is_empty() {
        bail!("{} holds no preference pairs", spec.pairs.display());
    }
    // One record per answer, ids naming the pair's line and side, so both sides stay matched
    // through the length filter.
    let record = |line: usize, side: &str, prompt: &str, answer: &str| Example {
        id: ExampleId(format!("pair-{line}/{side}")),
        source: "preference pairs".into(),
        prompt: vec![ChatMessage::user(prompt)],
        response: Some(answer.to_string()),
        label: Label::Unknown,
        category: None,
        split: None,
        novel: false,
    };
    let records: Vec<Example> = pairs
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            [
                record(i + 1, "chosen", &p.prompt, &p.chosen),
                record(i + 1, "rejected", &p.prompt, &p.rejected),
            ]
        })
        .collect();
    let tokenized = tokenize(&records, tokenizer, template, spec.max_len, "preference pairs")?;
    let by_id: HashMap<&ExampleId, &seal_core::TokenizedExample> =
        tokenized.rows.iter().map(|row| (&row.id, &row.tokens)).collect();
    let mut out = Vec::with_capacity(pairs.len());
    for line in 1..=pairs.len() {
        let side = |s: &str| {
            by_id
                .get(&ExampleId(format!("pair-{line}/{s}")))
                .map(|&t| t.clone())
        };
        if let (Some(chosen), Some(rejected)) = (side("chosen"), side("rejected")) {
            out.push(TokenizedPair { chosen, rejected });
        }
    }
    let dropped = pairs.len() - out.len();
    if out.is_empty() {
        bail!("every preference pair has an answer over {} tokens", spec.max_len);
    }
    Ok((out, dropped))
}
