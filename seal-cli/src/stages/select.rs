//! The selector stage (DESIGN sections 2–4 and 7): tokenize D_safe and D_ft, run Algorithm 1 or
//! 2 with a γ schedule, checkpoint every epoch, and write the scores, the selector and the
//! metrics.
//!
//! Run folder layout: `select.json` (the resolved spec), `checkpoints/epoch-NNNN/` (loop state,
//! θ and θ̂ with their optimizers), `scores.parquet`, `selector.safetensors` + `selector_ids.json`,
//! `metrics.json`, and `dropped_by_length.jsonl` when the length filter left rows out.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use seal_core::{
    Algorithm, AuxLoss, Bilevel, BilevelConfig, BilevelState, EpochReport, ExampleId, Observer,
    PenaltySchedule, SelectorOptimizer, SoftmaxScope, StepReport, WeightKind,
};
use seal_data::{Example, TextTokenizer, write_scores};
use seal_models::backend::AutodiffBackend;
use seal_models::train::sft::{epoch_dir, latest_checkpoint};
use seal_models::{
    AdamSettings, HostTensor, LlamaObjective, LoraConfig, ObjectiveSettings, TensorMap, attach_lora,
};
use serde::{Deserialize, Serialize};

use super::common::{
    ModelSource, TemplateChoice, check_run_dir, peak_rss, read_records, record_run_spec, require_file,
    tokenize, write_json,
};

/// Everything a selector run depends on; written to `select.json` as resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectSpec {
    /// The aligned model θ starts from.
    pub model: ModelSource,
    /// D_safe: canonical records (the upper level).
    pub safe: PathBuf,
    /// D_ft: canonical records (the lower level, one selector logit each).
    pub data: PathBuf,
    /// Prompt template.
    pub template: TemplateChoice,
    /// Longest row in tokens; longer rows are left out (and reported).
    pub max_len: usize,
    /// Algorithm, schedule, selector settings, batch sizes, epochs, seed.
    pub bilevel: BilevelConfig,
    /// Adam on θ (and θ̂).
    pub model_adam: AdamSettings,
    /// Global gradient-norm clip of θ.
    pub clip_norm: f64,
    /// LoRA adapters on θ (else full parameters).
    pub lora: Option<LoraConfig>,
    /// Kept share p written into `scores.parquet`'s `kept` column.
    pub keep: f64,
    /// Warm-start logits from a `selector.safetensors` of the same data.
    pub init_selector: Option<PathBuf>,
}

impl SelectSpec {
    /// Checks inputs before any expensive work.
    pub fn check(&self) -> anyhow::Result<()> {
        self.model.check()?;
        require_file(&self.safe)?;
        require_file(&self.data)?;
        if !(self.keep > 0.0 && self.keep <= 1.0) {
            bail!("keep share p = {} is outside (0, 1]", self.keep);
        }
        self.bilevel.validate()?;
        // Checked here, not found at the first step: a NaN rate only shows as a NaN loss.
        if !(self.model_adam.lr.is_finite() && self.model_adam.lr > 0.0) {
            bail!(
                "the model learning rate --lr = {} must be a positive number",
                self.model_adam.lr
            );
        }
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            bail!("--clip-norm = {} must be a positive number", self.clip_norm);
        }
        if let Some(lora) = &self.lora {
            lora.validate()?;
        }
        if let Some(path) = &self.init_selector {
            require_file(path)?;
        }
        Ok(())
    }
}

/// Which of the paper's algorithms a selector runs, spelled as on the CLI and in plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AlgorithmChoice {
    /// Algorithm 1, with the auxiliary model θ̂.
    Alg1,
    /// Algorithm 2, without it.
    Alg2,
}

/// The optional TOML file of `seal select --config`: every key optional, unknown keys are
/// errors; flags given on the command line win over it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectConfig {
    /// The bilevel settings.
    pub bilevel: Option<BilevelConfig>,
    /// Adam on θ (and θ̂).
    pub model_adam: Option<AdamSettings>,
    /// Global gradient-norm clip.
    pub clip_norm: Option<f64>,
    /// LoRA adapters on θ.
    pub lora: Option<LoraConfig>,
    /// Longest row in tokens.
    pub max_len: Option<usize>,
    /// Share of D_ft kept.
    pub keep: Option<f64>,
    /// Prompt template.
    pub template: Option<TemplateChoice>,
}

impl SelectConfig {
    /// Reads and parses `path`, naming it in any error.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Command-line choices over a `[bilevel]` table (`seal select`'s flags): each one given
/// replaces the table's value; the rest stay.
#[derive(Debug, Clone, Default)]
pub struct BilevelOverrides {
    /// `--algo`: the algorithm, with Algorithm 1's defaults when it changes.
    pub algorithm: Option<AlgorithmChoice>,
    /// `--inner-steps` of θ̂ (Algorithm 1).
    pub inner_steps: Option<usize>,
    /// `--aux-loss` (Algorithm 1 only).
    pub aux_loss: Option<AuxLoss>,
    /// `--gamma`.
    pub penalty: Option<PenaltySchedule>,
    /// `--weights`.
    pub weights: Option<WeightKind>,
    /// `--softmax-scope`.
    pub softmax_scope: Option<SoftmaxScope>,
    /// `--selector-optimizer`.
    pub selector_optimizer: Option<SelectorOptimizer>,
    /// `--selector-lr`, applied to whichever optimizer is chosen.
    pub selector_lr: Option<f64>,
    /// `--epochs`.
    pub epochs: Option<u64>,
    /// `--batch-size`.
    pub batch_size: Option<usize>,
    /// `--micro-batch-size`.
    pub micro_batch_size: Option<usize>,
    /// `--seed`.
    pub seed: Option<u64>,
}

impl BilevelOverrides {
    /// `bilevel` with these choices applied.
    ///
    /// # Errors
    /// `--aux-loss` with Algorithm 2, which has no θ̂.
    pub fn apply(self, mut bilevel: BilevelConfig) -> anyhow::Result<BilevelConfig> {
        if let Some(algo) = self.algorithm {
            bilevel.algorithm = match algo {
                AlgorithmChoice::Alg1 => Algorithm::Alg1 {
                    inner_steps: self.inner_steps.unwrap_or(1),
                    keep_penalty_factor: false,
                    aux_loss: AuxLoss::default(),
                },
                AlgorithmChoice::Alg2 => Algorithm::Alg2 {},
            };
        } else if let (Some(steps), Algorithm::Alg1 { inner_steps, .. }) =
            (self.inner_steps, &mut bilevel.algorithm)
        {
            *inner_steps = steps;
        }
        if let Some(when) = self.aux_loss {
            match &mut bilevel.algorithm {
                Algorithm::Alg1 { aux_loss, .. } => *aux_loss = when,
                Algorithm::Alg2 {} => bail!("--aux-loss is an option of --algo alg1 (Algorithm 2 has no θ̂)"),
            }
        }
        bilevel.penalty = self.penalty.unwrap_or(bilevel.penalty);
        bilevel.weights = self.weights.unwrap_or(bilevel.weights);
        bilevel.softmax_scope = self.softmax_scope.unwrap_or(bilevel.softmax_scope);
        bilevel.selector_optimizer = self.selector_optimizer.unwrap_or(bilevel.selector_optimizer);
        if let Some(lr) = self.selector_lr {
            match &mut bilevel.selector_optimizer {
                SelectorOptimizer::Adam { lr: l, .. } | SelectorOptimizer::Sgd { lr: l, .. } => *l = lr,
            }
        }
        bilevel.epochs = self.epochs.unwrap_or(bilevel.epochs);
        bilevel.batch_size = self.batch_size.unwrap_or(bilevel.batch_size);
        bilevel.micro_batch_size = self.micro_batch_size.unwrap_or(bilevel.micro_batch_size);
        bilevel.seed = self.seed.unwrap_or(bilevel.seed);
        Ok(bilevel)
    }
}

/// One epoch in `metrics.json`: the loop's report plus throughput and the labels' view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SelectEpochMetrics {
    /// The loop's report (γ, λ, losses, wall time).
    #[serde(flatten)]
    pub report: EpochReport,
    /// Tokens through the model per second (θ's passes; θ̂'s are extra work of Algorithm 1).
    pub tokens_per_s: f64,
}

/// What `metrics.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SelectMetrics {
    /// `alg1` or `alg2`.
    pub algorithm: String,
    /// The penalty schedule.
    pub penalty: seal_core::PenaltySchedule,
    /// Selector optimizer and softmax scope, as run.
    pub selector_optimizer: seal_core::SelectorOptimizer,
    /// Softmax scope.
    pub softmax_scope: seal_core::SoftmaxScope,
    /// Weight kind.
    pub weights: seal_core::WeightKind,
    /// Per epoch.
    pub epochs: Vec<SelectEpochMetrics>,
    /// Training time of the selector loop (all epochs, including any before a resume).
    pub train_wall_s: f64,
    /// Peak resident memory of this process (CPU), bytes.
    pub peak_rss_bytes: u64,
    /// D_ft examples scored.
    pub ft_examples: usize,
    /// D_ft rows the length filter left out (not scored).
    pub dropped_by_length: usize,
    /// Kept share.
    pub keep: f64,
    /// AUROC of the final logits ranking benign above harmful (labels known only).
    pub label_auroc: Option<f64>,
    /// Share of harmful among the dropped examples (labels known only).
    pub dropped_harmful_share: Option<f64>,
    /// AUROC of novel-benign above harmful (when a novel subset is marked).
    pub novel_vs_harmful_auroc: Option<f64>,
    /// Seed of the run.
    pub seed: u64,
}

const STATE_FILE: &str = "state.json";

/// Runs (or with `resume`, continues) a selector run into `out`; returns the metrics.
pub fn run<B: AutodiffBackend>(
    spec: &SelectSpec,
    out: &Path,
    resume: bool,
    device: &B::Device,
) -> anyhow::Result<SelectMetrics> {
    spec.check()?;
    let spec_path = out.join("select.json");
    // More epochs may be added on resume; everything else must match.
    let same = |old: &SelectSpec, new: &SelectSpec| {
        let mut old = old.clone();
        old.bilevel.epochs = new.bilevel.epochs;
        &old == new
    };
    check_run_dir(out, &spec_path, spec, resume, "selector", same)?;
    if resume {
        // A kill mid-write leaves a temporary file; the run restarts from its last complete
        // checkpoint, without it.
        seal_io::remove_stale_temp_files(out)?;
    }

    let tokenizer = TextTokenizer::from_dir(spec.model.tokenizer_dir())
        .with_context(|| format!("loading tokenizer of {}", spec.model.tokenizer_dir().display()))?;
    let template = spec.template.resolve(&tokenizer)?;
    let safe_records = read_records(&spec.safe)?;
    let ft_records = read_records(&spec.data)?;
    let safe = tokenize(&safe_records, &tokenizer, &template, spec.max_len, "safe data")?;
    let ft = tokenize(
        &ft_records,
        &tokenizer,
        &template,
        spec.max_len,
        "fine-tuning data",
    )?;
    let ids = ft.ids();
    // The selection at the end keeps ⌊p·N⌋ examples; checked here so that no training is wasted.
    if seal_core::keep_count(spec.keep, ids.len())? == 0 {
        bail!(
            "keep share p = {} of the {} fine-tuning rows left after the length filter keeps none",
            spec.keep,
            ids.len()
        );
    }
    let tokens_per_epoch = epoch_tokens(&safe, &ft);

    let (model, _) = spec.model.load::<B>(spec.bilevel.seed, device)?;
    let model = match &spec.lora {
        Some(lora) => attach_lora(model, lora, device)?,
        None => model,
    };
    let settings = ObjectiveSettings {
        adam: spec.model_adam.clone(),
        clip_norm: spec.clip_norm,
        pad_id: tokenizer.pad_id,
    };
    let objective = LlamaObjective::new(model, safe.examples(), ft.examples(), settings);
    let checkpoints = out.join("checkpoints");
    let mut run = match latest_checkpoint(&checkpoints).filter(|_| resume) {
        Some(dir) => {
            tracing::info!(checkpoint = %dir.display(), "resuming the selector");
            restore(spec, objective, &dir, device)?
        }
        None => match &spec.init_selector {
            Some(path) => {
                let logits = read_selector(path, &ids)?;
                let state = BilevelState {
                    epochs_done: 0,
                    global_step: 0,
                    logits,
                    optimizer: spec.bilevel.selector_optimizer.init_state(ids.len()),
                    ids: ids.clone(),
                    history: Vec::new(),
                };
                Bilevel::from_state(spec.bilevel.clone(), objective, None, state)?
            }
            None => Bilevel::new(spec.bilevel.clone(), ids.clone(), objective)?,
        },
    };
    // Everything the run needs has loaded and the loop accepted its settings and data: only now
    // is --out touched, so a bad model or data file (or an empty set) leaves it as it was and
    // the corrected command is not refused.
    record_run_spec(out, &spec_path, spec)?;
    let _lock = super::common::lock_run_folder(out)?;
    if !ft.dropped.is_empty() {
        let lines: Vec<String> = ft
            .dropped
            .iter()
            .map(|d| serde_json::json!({"id": d.id, "length": d.length, "reason": d.reason}).to_string())
            .collect();
        seal_io::write_atomic(
            &out.join("dropped_by_length.jsonl"),
            format!("{}\n", lines.join("\n")).as_bytes(),
        )?;
    }
    let steps_per_epoch = (ids.len() as u64).div_ceil(run.config().batch_size as u64);
    let mut progress = SelectProgress::new(
        out,
        run.config().epochs * steps_per_epoch,
        run.state().global_step,
        spec.model_adam.lr,
    )?;
    while !run.is_done() {
        let report = run.run_epoch(&mut progress)?;
        save_checkpoint(&run, &epoch_dir(&checkpoints, report.epoch))?;
    }

    let result = run.selection(spec.keep)?;
    let candidates = result.selection.candidates();
    let ids: Vec<ExampleId> = candidates.iter().map(|c| c.id.clone()).collect();
    let logits = result.logits();
    let labels: HashMap<&ExampleId, &Example> = ft_records.iter().map(|r| (&r.id, r)).collect();
    let rows = super::choose::score_rows(&result.selection, &ft_records, Some(&result.weights));
    write_scores(&out.join("scores.parquet"), &rows)?;
    write_selector(out, &ids, &logits)?;

    let examples: Vec<&Example> = ids.iter().map(|id| labels[id]).collect();
    let (label_auroc, dropped_harmful_share, novel_vs_harmful_auroc) =
        seal_eval::label_diagnostics(&examples, &logits, &result.selection.kept_flags())?;
    let epochs: Vec<SelectEpochMetrics> = result
        .epochs
        .iter()
        .map(|e| SelectEpochMetrics {
            tokens_per_s: tokens_per_epoch as f64 / e.wall_seconds.max(1e-9),
            report: e.clone(),
        })
        .collect();
    let config = run.config();
    let metrics = SelectMetrics {
        algorithm: config.algorithm.name().to_string(),
        penalty: config.penalty.clone(),
        selector_optimizer: config.selector_optimizer.clone(),
        softmax_scope: config.softmax_scope,
        weights: config.weights,
        train_wall_s: result.epochs.iter().map(|e| e.wall_seconds).sum(),
        epochs,
        peak_rss_bytes: peak_rss(),
        ft_examples: ids.len(),
        dropped_by_length: ft.dropped.len(),
        keep: spec.keep,
        label_auroc,
        dropped_harmful_share,
        novel_vs_harmful_auroc,
        seed: config.seed,
    };
    write_json(&out.join("metrics.json"), &metrics)?;
    Ok(metrics)
}

/// Tokens θ processes in one epoch: all of D_ft and as many safe rows (mean safe length).
fn epoch_tokens(safe: &seal_data::Tokenized, ft: &seal_data::Tokenized) -> usize {
    let safe_mean = safe.token_count() as f64 / safe.rows.len().max(1) as f64;
    ft.token_count() + (safe_mean * ft.rows.len() as f64) as usize
}

fn save_checkpoint<B: AutodiffBackend>(run: &Bilevel<LlamaObjective<B>>, dir: &Path) -> anyhow::Result<()> {
    run.model().save_checkpoint(&dir.join("model"))?;
    if let Some(aux) = run.aux() {
        aux.save_checkpoint(&dir.join("aux"))?;
    }
    // The state goes last: a checkpoint folder with a state file is complete.
    write_json(&dir.join(STATE_FILE), &run.state())
}

fn restore<B: AutodiffBackend>(
    spec: &SelectSpec,
    mut objective: LlamaObjective<B>,
    dir: &Path,
    device: &B::Device,
) -> anyhow::Result<Bilevel<LlamaObjective<B>>> {
    let state_path = dir.join(STATE_FILE);
    let text =
        std::fs::read_to_string(&state_path).with_context(|| format!("reading {}", state_path.display()))?;
    let state: BilevelState =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", state_path.display()))?;
    let aux = match spec.bilevel.algorithm {
        Algorithm::Alg1 { .. } => {
            use seal_core::BilevelModel;
            let mut aux = objective.fork()?;
            aux.load_checkpoint(&dir.join("aux"), device)?;
            Some(aux)
        }
        Algorithm::Alg2 {} => None,
    };
    objective.load_checkpoint(&dir.join("model"), device)?;
    Bilevel::from_state(spec.bilevel.clone(), objective, aux, state)
        .with_context(|| format!("resuming from {}", dir.display()))
}

/// Writes `selector.safetensors` (one f32 tensor `logits`, `[N]`) and `selector_ids.json` (the
/// ids in the same order), atomically.
fn write_selector(out: &Path, ids: &[ExampleId], logits: &[f32]) -> anyhow::Result<()> {
    let mut map = TensorMap::new();
    map.insert(
        "logits".to_string(),
        HostTensor::new(vec![logits.len()], logits.to_vec()),
    )?;
    seal_models::hf::weights::write_safetensors(&out.join("selector.safetensors"), &map)?;
    write_json(&out.join("selector_ids.json"), &ids)
}

/// Reads a selector written by [`write_selector`] and orders its logits like `ids`; its ids
/// must be exactly the data's.
pub fn read_selector(path: &Path, ids: &[ExampleId]) -> anyhow::Result<Vec<f32>> {
    // The file named first: a model's weights or any other file is reported as not a selector,
    // not as a missing ids file beside it.
    let map = seal_models::hf::weights::read_safetensors(path)
        .with_context(|| format!("reading the selector {}", path.display()))?;
    let logits = map.get("logits").with_context(|| {
        format!(
            "{} is not a selector (no `logits` tensor): give the selector.safetensors a `seal select` run wrote",
            path.display()
        )
    })?;
    let ids_path = path.with_file_name("selector_ids.json");
    let text = std::fs::read_to_string(&ids_path).with_context(|| {
        format!(
            "reading {} (a selector's example ids, written beside it by `seal select`)",
            ids_path.display()
        )
    })?;
    let file_ids: Vec<ExampleId> =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", ids_path.display()))?;
    if logits.data.len() != file_ids.len() {
        bail!(
            "{} holds {} logits for {} ids in {}",
            path.display(),
            logits.data.len(),
            file_ids.len(),
            ids_path.display()
        );
    }
    let by_id: HashMap<&ExampleId, f32> = file_ids.iter().zip(logits.data.iter().copied()).collect();
    let missing: Vec<&ExampleId> = ids.iter().filter(|id| !by_id.contains_key(id)).collect();
    if !missing.is_empty() || file_ids.len() != ids.len() {
        bail!(
            "the selector {} does not match the data: {} of its {} ids are not in the data's {} \
             (e.g. `{}`); was it trained on another dataset?",
            path.display(),
            file_ids.len() - (ids.len() - missing.len()),
            file_ids.len(),
            ids.len(),
            missing.first().map_or_else(String::new, |id| id.to_string())
        );
    }
    Ok(ids.iter().map(|id| by_id[id]).collect())
}

/// The selector's progress bar (or plain log lines), its per-step `metrics.jsonl`, and a log
/// line per epoch.
struct SelectProgress {
    bar: crate::progress::Progress,
    metrics: crate::progress::MetricsStream,
    model_lr: f64,
    started: Instant,
    last_step: Instant,
}

impl SelectProgress {
    fn new(out: &Path, total_steps: u64, done: u64, model_lr: f64) -> anyhow::Result<Self> {
        let mut bar = crate::progress::Progress::new("selector", "steps", Some(total_steps));
        bar.resume_at(done);
        Ok(Self {
            bar,
            metrics: crate::progress::MetricsStream::open(out, done)?,
            model_lr,
            started: Instant::now(),
            last_step: Instant::now(),
        })
    }
}

impl Observer for SelectProgress {
    fn on_step(&mut self, r: &StepReport) {
        let dt = self.last_step.elapsed().as_secs_f64().max(1e-9);
        self.last_step = Instant::now();
        let record = serde_json::json!({
            "step": r.global_step,
            "epoch": r.epoch,
            "epoch_step": r.step,
            "steps_per_epoch": r.steps,
            "batch_size": r.batch_size,
            "gamma": r.gamma,
            "lambda": r.lambda,
            "lr": self.model_lr,
            "safe_loss": r.safe_loss,
            "ft_loss": r.ft_loss,
            "weighted_ft_loss": r.weighted_ft_loss,
            "aux_ft_loss": r.aux_ft_loss,
            "selector_objective": r.selector_objective,
            "selector_grad_norm": r.selector_grad_norm,
            "tokens": r.tokens,
            "tokens_per_s": r.tokens.map(|t| t as f64 / dt),
            "step_s": dt,
            "elapsed_s": self.started.elapsed().as_secs_f64(),
        });
        // A full disk must not kill hours of training: the checkpoint still saves the state.
        if let Err(e) = self.metrics.write(&record) {
            tracing::warn!("{e:#}");
        }
        self.bar.set_message(format!(
            "epoch {} γ {:.3} safe {:.4} ft {:.4}",
            r.epoch + 1,
            r.gamma,
            r.safe_loss,
            r.ft_loss
        ));
        self.bar.set_position(r.global_step + 1);
    }

    fn on_epoch(&mut self, r: &EpochReport) {
        tracing::info!(
            epoch = r.epoch + 1,
            gamma = format!("{:.3}", r.gamma_last),
            safe_loss = format!("{:.4}", r.safe_loss),
            weighted_ft_loss = format!("{:.4}", r.weighted_ft_loss),
            elapsed_s = format!("{:.1}", self.started.elapsed().as_secs_f64()),
            "selector epoch done"
        );
    }
}
