//! The fine-tuning stage (DESIGN section 5): choose the training ids (SEAL's selection or a
//! baseline), tokenize, run resumable SFT, and write an HF model folder with the run's metrics.
//!
//! Run folder layout: `finetune.json` (the resolved spec), `trained_ids.txt`, `checkpoints/epoch-NNNN/`,
//! `model/` (merged weights, config, tokenizer), `adapter/` (LoRA only), `metrics.json`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use seal_core::{ExampleId, SelectionMethod};
use seal_data::{Example, Label, TextTokenizer, read_scores};
use seal_models::backend::AutodiffBackend;
use seal_models::train::sft::{epoch_dir, latest_checkpoint};
use seal_models::{
    LoraConfig, Sft, SftConfig, SftEpochReport, attach_lora, merge_lora, save_adapter, save_llama,
};
use serde::{Deserialize, Serialize};

use super::choose::{Chosen, choose_ids};
use super::common::{
    ModelSource, TemplateChoice, check_run_dir, copy_tokenizer, peak_rss, read_records, record_run_spec,
    require_file, tokenize, write_folder, write_json,
};

/// Everything a fine-tuning run depends on; written to `finetune.json` as resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneSpec {
    /// The starting model.
    pub model: ModelSource,
    /// D_ft: canonical records.
    pub data: PathBuf,
    /// D_safe (safety demonstrations): needed by `dsir`, `safeinstr`, `seal+safeinstr`.
    pub safe: Option<PathBuf>,
    /// What to train on.
    pub method: SelectionMethod,
    /// Kept share p for the selecting methods.
    pub keep: f64,
    /// `scores.parquet` of a selector run (`seal`, `seal+safeinstr`).
    pub scores: Option<PathBuf>,
    /// Prompt template.
    pub template: TemplateChoice,
    /// Longest training row in tokens; longer rows are left out (and reported).
    pub max_len: usize,
    /// Optimizer, schedule, epochs, batch sizes, seed.
    pub sft: SftConfig,
    /// LoRA adapters (else full parameters).
    pub lora: Option<LoraConfig>,
}

impl FinetuneSpec {
    /// Checks inputs before any expensive work.
    pub fn check(&self) -> anyhow::Result<()> {
        self.model.check()?;
        require_file(&self.data)?;
        if !(self.keep > 0.0 && self.keep <= 1.0) {
            bail!("keep share p = {} is outside (0, 1]", self.keep);
        }
        if matches!(
            self.method,
            SelectionMethod::Seal | SelectionMethod::SealSafeInstr
        ) {
            match &self.scores {
                Some(path) => require_file(path)?,
                None => bail!("method `{}` needs a scores file (--scores)", self.method),
            }
        }
        if matches!(
            self.method,
            SelectionMethod::Dsir | SelectionMethod::SafeInstr | SelectionMethod::SealSafeInstr
        ) {
            match &self.safe {
                Some(path) => require_file(path)?,
                None => bail!("method `{}` needs the safe set (--safe)", self.method),
            }
        }
        if let Some(lora) = &self.lora {
            lora.validate()?;
        }
        self.sft.validate()?;
        Ok(())
    }
}

/// What `metrics.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneMetrics {
    /// The method.
    pub method: SelectionMethod,
    /// Examples trained on (after the length filter).
    pub train_examples: usize,
    /// Selected examples left out by the length filter.
    pub dropped_by_length: usize,
    /// One report per epoch (loss curve, wall time, tokens/s).
    pub epochs: Vec<SftEpochReport>,
    /// Wall time of the stage in this process (a resumed run counts only its own part).
    pub wall_s: f64,
    /// Tokens per second over the epochs.
    pub tokens_per_s: f64,
    /// Peak resident memory of the process (CPU), bytes.
    pub peak_rss_bytes: u64,
    /// Seed of the run.
    pub seed: u64,
}

/// Runs (or with `resume`, continues) a fine-tuning run into `out`; returns the metrics.
pub fn run<B: AutodiffBackend>(
    spec: &FinetuneSpec,
    out: &Path,
    resume: bool,
    device: &B::Device,
) -> anyhow::Result<FinetuneMetrics> {
    spec.check()?;
    let started = Instant::now();
    let spec_path = out.join("finetune.json");
    check_run_dir(out, &spec_path, spec, resume, "fine-tuning", |old, new| {
        old == new
    })?;
    if resume {
        // A kill mid-write leaves a temporary file; the run restarts from its last complete
        // checkpoint, without it.
        seal_io::remove_stale_temp_files(out)?;
    }

    let (tokenizer, template) = tokenizer_and_template(spec)?;
    let inputs = Inputs::read(spec)?;
    // Loaded once: the loss-rank baseline scores D_ft with the starting model it then trains.
    let (model, hf_config) = spec.model.load::<B>(spec.sft.seed, device)?;
    let losses = if spec.method == SelectionMethod::LossRank {
        Some(initial_losses(spec, &model, &inputs, (&tokenizer, &template))?)
    } else {
        None
    };
    let chosen = choose(spec, &inputs, losses.as_ref())?;
    let train = training_records(&inputs.records, inputs.safe.as_deref(), &chosen)?;
    let tokenized = tokenize(&train, &tokenizer, &template, spec.max_len, "training data")?;
    let ids: Vec<String> = tokenized.rows.iter().map(|r| r.id.to_string()).collect();

    let model = match &spec.lora {
        Some(lora) => attach_lora(model, lora, device)?,
        None => model,
    };
    let mut config = spec.sft.clone();
    config.pad_id = tokenizer.pad_id;
    let checkpoints = out.join("checkpoints");
    let mut sft = match latest_checkpoint(&checkpoints).filter(|_| resume) {
        Some(dir) => {
            tracing::info!(checkpoint = %dir.display(), "resuming fine-tuning");
            Sft::resume(model, tokenized.examples(), config, &dir, device)?
        }
        None => Sft::new(model, tokenized.examples(), config)?,
    };
    // Everything the run needs has loaded and the trainer accepted it: only now is --out
    // touched, so a bad model, data file or setting leaves it as it was.
    record_run_spec(out, &spec_path, spec)?;
    let _lock = super::common::lock_run_folder(out)?;
    write_selection(out, &chosen, &inputs.records)?;
    seal_io::write_atomic(
        &out.join("trained_ids.txt"),
        format!("{}\n", ids.join("\n")).as_bytes(),
    )?;
    let steps_per_epoch = spec.sft.steps_per_epoch(tokenized.rows.len());
    let mut bar =
        crate::progress::Progress::new("fine-tuning", "steps", Some(steps_per_epoch * spec.sft.epochs));
    bar.resume_at(sft.state().global_step);
    let mut metrics = crate::progress::MetricsStream::open(out, sft.state().global_step)?;
    let (started_steps, mut last_step) = (Instant::now(), Instant::now());
    while !sft.is_done() {
        let report = sft.run_epoch(&mut |step: &seal_models::TrainStep| {
            let dt = last_step.elapsed().as_secs_f64().max(1e-9);
            last_step = Instant::now();
            metrics.write_train_step(step, dt, started_steps.elapsed().as_secs_f64());
            bar.set_message(format!(
                "epoch {} loss {:.4} lr {:.2e}",
                step.epoch + 1,
                step.loss,
                step.lr
            ));
            bar.set_position(step.global_step + 1);
        })?;
        tracing::info!(
            epoch = report.epoch,
            loss = format!("{:.4}", report.mean_loss),
            tokens_per_s = format!("{:.0}", report.tokens_per_s),
            "fine-tuning epoch done"
        );
        sft.save_checkpoint(&epoch_dir(&checkpoints, report.epoch))?;
    }
    let history = sft.state().history.clone();
    let model = sft.into_model();
    if spec.lora.is_some() {
        let base = spec.model.tokenizer_dir().display().to_string();
        write_folder(&out.join("adapter"), |dir| Ok(save_adapter(&model, &base, dir)?))?;
    }
    let merged = merge_lora(model);
    write_folder(&out.join("model"), |dir| {
        save_llama(&merged, &hf_config, dir)?;
        copy_tokenizer(spec.model.tokenizer_dir(), dir)
    })?;
    let tokens: u64 = history.iter().map(|e| e.tokens).sum();
    let train_s: f64 = history.iter().map(|e| e.wall_s).sum();
    let metrics = FinetuneMetrics {
        method: spec.method,
        train_examples: tokenized.rows.len(),
        dropped_by_length: tokenized.dropped.len(),
        epochs: history,
        wall_s: started.elapsed().as_secs_f64(),
        tokens_per_s: tokens as f64 / train_s.max(1e-9),
        peak_rss_bytes: peak_rss(),
        seed: spec.sft.seed,
    };
    write_json(&out.join("metrics.json"), &metrics)?;
    Ok(metrics)
}

/// The method's ranking of D_ft alone, written to `out/scores.parquet` (what the diagnostics
/// read), without fine-tuning: the select-only baselines of an ablation plan. Only `loss-rank`
/// loads the model (one forward pass over D_ft).
pub fn rank<B: AutodiffBackend>(
    spec: &FinetuneSpec,
    out: &Path,
    device: &B::Device,
) -> anyhow::Result<Chosen> {
    spec.check()?;
    let inputs = Inputs::read(spec)?;
    let losses = if spec.method == SelectionMethod::LossRank {
        let (tokenizer, template) = tokenizer_and_template(spec)?;
        let (model, _) = spec.model.load::<B>(spec.sft.seed, device)?;
        Some(initial_losses(spec, &model, &inputs, (&tokenizer, &template))?)
    } else {
        None
    };
    let chosen = choose(spec, &inputs, losses.as_ref())?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write_selection(out, &chosen, &inputs.records)?;
    Ok(chosen)
}

/// The training ids (and ranking) of the spec's method.
fn choose(
    spec: &FinetuneSpec,
    inputs: &Inputs,
    losses: Option<&HashMap<ExampleId, f32>>,
) -> anyhow::Result<Chosen> {
    choose_ids(
        spec.method,
        &inputs.records,
        inputs.safe.as_deref(),
        inputs.scores.as_deref(),
        losses,
        spec.keep,
        spec.sft.seed,
    )
}

/// The method's ranking of D_ft, as `out/scores.parquet` (labels from `records`).
fn write_selection(out: &Path, chosen: &Chosen, records: &[Example]) -> anyhow::Result<()> {
    let rows = super::choose::score_rows(&chosen.selection, records, None);
    seal_data::write_scores(&out.join("scores.parquet"), &rows)?;
    Ok(())
}

/// What a selection reads: D_ft, the safe set and a selector's scores, as the spec names them.
struct Inputs {
    records: Vec<Example>,
    safe: Option<Vec<Example>>,
    scores: Option<Vec<seal_data::ScoreRow>>,
}

impl Inputs {
    fn read(spec: &FinetuneSpec) -> anyhow::Result<Self> {
        Ok(Self {
            records: read_records(&spec.data)?,
            safe: spec.safe.as_deref().map(read_records).transpose()?,
            scores: spec
                .scores
                .as_deref()
                .map(|p| read_scores(p).with_context(|| format!("reading {}", p.display())))
                .transpose()?,
        })
    }
}

fn tokenizer_and_template(spec: &FinetuneSpec) -> anyhow::Result<(TextTokenizer, seal_data::ChatTemplate)> {
    let tokenizer = TextTokenizer::from_dir(spec.model.tokenizer_dir())
        .with_context(|| format!("loading tokenizer of {}", spec.model.tokenizer_dir().display()))?;
    let template = spec.template.resolve(&tokenizer)?;
    Ok((tokenizer, template))
}

/// Per-example loss of the starting model on D_ft (the `loss-rank` baseline), by id.
fn initial_losses<B: AutodiffBackend>(
    spec: &FinetuneSpec,
    model: &seal_models::Llama<B>,
    inputs: &Inputs,
    (tokenizer, template): (&TextTokenizer, &seal_data::ChatTemplate),
) -> anyhow::Result<HashMap<ExampleId, f32>> {
    let tokenized = tokenize(
        &inputs.records,
        tokenizer,
        template,
        spec.max_len,
        "fine-tuning data",
    )?;
    let losses = seal_models::example_losses(
        model,
        &tokenized.examples(),
        spec.sft.micro_batch_size,
        tokenizer.pad_id,
    )?;
    Ok(tokenized.ids().into_iter().zip(losses).collect())
}

/// The records to train on: the chosen D_ft ids in data order, then (for the methods that
/// add them) the safety demonstrations.
fn training_records(
    records: &[Example],
    safe: Option<&[Example]>,
    chosen: &Chosen,
) -> anyhow::Result<Vec<Example>> {
    let keep: HashSet<&ExampleId> = chosen.ft_ids.iter().collect();
    let mut train: Vec<Example> = records.iter().filter(|r| keep.contains(&r.id)).cloned().collect();
    if chosen.add_safe {
        let safe = safe.context("the safe set is required")?;
        let mut seen: HashSet<ExampleId> = train.iter().map(|r| r.id.clone()).collect();
        for demo in safe {
            if !seen.insert(demo.id.clone()) {
                bail!("id {} is in both the fine-tuning data and the safe set", demo.id);
            }
            // The demonstrations are trained on as they are; their label only says the prompt
            // is harmful, which says nothing about the answer (a refusal).
            let mut demo = demo.clone();
            demo.label = Label::Unknown;
            train.push(demo);
        }
    }
    if train.is_empty() {
        bail!("the selection is empty: nothing to fine-tune on");
    }
    Ok(train)
}
