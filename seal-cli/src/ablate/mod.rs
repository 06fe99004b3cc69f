//! The ablation runner (`seal ablate`, `seal demo`): a plan of runs, each select -> fine-tune ->
//! generate -> judge against `full`, in a run folder with one folder per stage.
//!
//! A stage is keyed by a hash of its spec, its inputs' contents and its upstream stages' keys. A
//! stage folder whose `stage.json` holds the same key is reused; one without it (a crash, a kill)
//! is continued from its checkpoints, so `--resume` finishes a plan with the results an
//! uninterrupted run gives. A finished stage drops its epoch checkpoints (its marker and outputs
//! are all that is read again). Training stages run in child processes of their own, so each
//! selector's peak memory is its own.

pub mod demo;
pub mod plan;
mod report;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use plan::{JudgePlan, Plan, ResolvedPlan, ResolvedRun};
use seal_eval::{
    GenerationRecord, JudgeRunSettings, JudgeSpec, RefusalRate, judge_generations, load_judge_cached,
    read_generations, refusal_rates,
};
use seal_models::backend::Device;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::stages::common::write_json;
use crate::stages::finetune::{FinetuneMetrics, FinetuneSpec};
use crate::stages::generate::GenerateSpec;
use crate::stages::select::{SelectMetrics, SelectSpec};

/// How the runner behaves.
#[derive(Debug, Clone, Default)]
pub struct AblateOptions {
    /// Continue a run folder that already holds (part of) this plan.
    pub resume: bool,
    /// No progress bar, warnings only.
    pub quiet: bool,
}

/// The `stage.json` marker of a finished stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StageMarker {
    kind: String,
    key: String,
    wall_s: f64,
}

/// What one run produced, as the report reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// Run name.
    pub name: String,
    /// Report table.
    pub group: String,
    /// Method.
    pub method: String,
    /// Selector metrics (SEAL methods).
    pub select: Option<SelectMetrics>,
    /// Folder of the selector stage.
    pub select_dir: Option<PathBuf>,
    /// Fine-tuning metrics.
    pub finetune: Option<FinetuneMetrics>,
    /// Folder of the fine-tuning stage (holds its ranking, `scores.parquet`).
    pub finetune_dir: Option<PathBuf>,
    /// Folder of a select-only baseline's ranking (holds `scores.parquet`).
    #[serde(default)]
    pub rank_dir: Option<PathBuf>,
    /// The run's name before a `seeds` list expanded it.
    #[serde(default)]
    pub family: String,
    /// The run's seed.
    #[serde(default)]
    pub seed: u64,
    /// Win rates against `full` (`None` for `full` itself and select-only runs).
    pub win_rates: Option<Vec<seal_eval::WinRate>>,
    /// Refusal rates per test set.
    pub refusals: Vec<RefusalRate>,
}

/// The name of the run that evaluates the plan's model as it is (`evaluate_start`).
pub const START_RUN: &str = "start";

/// A run's answers with the key of the stage that generated them (the win-rate reference).
type Generated = (String, Vec<GenerationRecord>);

impl RunResult {
    /// The folder holding this run's ranking (`scores.parquet`): its fine-tuning stage, or the ranking
    /// stage of a select-only baseline.
    pub fn selection_dir(&self) -> Option<&Path> {
        self.finetune_dir.as_deref().or(self.rank_dir.as_deref())
    }
}

/// Runs `plan_path` into `out`; returns the path of `report.md`.
pub fn run_plan_file(plan_path: &Path, out: &Path, options: &AblateOptions) -> anyhow::Result<PathBuf> {
    // Validate the whole plan before anything expensive.
    let plan = Plan::load(plan_path)?;
    run_plan(&plan, out, options)
}

/// Runs a resolved plan into `out`.
pub fn run_plan(plan: &ResolvedPlan, out: &Path, options: &AblateOptions) -> anyhow::Result<PathBuf> {
    let started = Instant::now();
    let plan_json = out.join("plan.json");
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let _lock = crate::stages::common::lock_run_folder(out)?;
    if plan_json.exists() && !options.resume {
        bail!(
            "{} already holds an ablation run: pass --resume to continue or reuse it, or choose another --out",
            out.display()
        );
    }
    std::fs::create_dir_all(out.join("stages")).with_context(|| format!("creating {}", out.display()))?;
    write_json(&plan_json, &plan.plan)?;

    let total = stage_count(plan);
    let bar = progress_bar(total, options.quiet);
    let runner = Runner {
        out: out.to_path_buf(),
        device: plan.plan.device,
        bar: bar.clone(),
        quiet: options.quiet,
    };

    let judge = plan
        .plan
        .judge
        .as_ref()
        .map(|judge| runner.judge_stage(&plan.plan, judge))
        .transpose()?;
    let mut results: Vec<RunResult> = Vec::new();
    let mut reference: Option<Generated> = None;
    for run in &plan.runs {
        let (result, generated) = runner.run_one(plan, run, judge.as_ref(), reference.as_ref())?;
        if run.plan.name == "full" {
            reference = generated;
        }
        results.push(result);
    }
    if plan.plan.evaluate_start {
        results.push(runner.start_run(plan, judge.as_ref(), reference.as_ref())?);
    }
    bar.finish_and_clear();
    let report = report::write(out, plan, &results)?;
    let wall = started.elapsed().as_secs_f64();
    let peak = seal_models::backend::peak_rss_bytes().unwrap_or(0);
    if !options.quiet {
        eprintln!(
            "ablation `{}`: {} runs in {:.1} s (runner peak RSS {:.0} MiB) -> {}",
            plan.plan.name,
            results.len(),
            wall,
            peak as f64 / (1024.0 * 1024.0),
            report.display()
        );
    }
    Ok(report)
}

fn stage_count(plan: &ResolvedPlan) -> u64 {
    let mut selects = std::collections::BTreeSet::new();
    let mut n = u64::from(plan.plan.judge.is_some());
    for run in &plan.runs {
        if let Some(s) = &run.select {
            selects.insert(serde_json::to_string(s).unwrap_or_default());
        }
        if run.finetune.is_some() {
            n += 3; // fine-tune, generate, judge
        }
        if run.rank.is_some() {
            n += 1;
        }
    }
    if plan.plan.evaluate_start {
        n += 2; // generate, judge
    }
    n + selects.len() as u64
}

fn progress_bar(total: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} stages (ETA {eta}) {msg}")
            .expect("a valid template"),
    );
    crate::progress::logs_above(&bar);
    bar
}

struct Runner {
    out: PathBuf,
    device: Device,
    bar: ProgressBar,
    quiet: bool,
}

/// A stable fingerprint of a file or folder's contents.
fn fingerprint(path: &Path, hasher: &mut Sha256) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for entry in entries {
            hasher.update(
                entry
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            fingerprint(&entry, hasher)?;
        }
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        hasher.update(&bytes);
    }
    Ok(())
}

/// Stage kinds whose files changed shape, with the layout they write now: the layout joins
/// their keys, so a folder written in an older layout is recomputed rather than read as the new
/// one. `scores-v2`: every ranking is one `scores.parquet` with a `score` column (the selector's
/// had a `logit` column; fine-tuning and rank stages wrote `selection.csv`).
const OUTPUT_LAYOUTS: [(&str, &str); 3] = [
    ("select", "scores-v2"),
    ("rank", "scores-v2"),
    ("finetune", "scores-v2"),
];

fn stage_key(
    kind: &str,
    spec: &impl Serialize,
    inputs: &[&Path],
    upstream: &[&str],
) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(kind);
    if let Some((_, layout)) = OUTPUT_LAYOUTS.iter().find(|(k, _)| *k == kind) {
        hasher.update(layout);
    }
    hasher.update(serde_json::to_string(spec)?);
    for input in inputs {
        fingerprint(input, &mut hasher)?;
    }
    for key in upstream {
        hasher.update(key);
    }
    Ok(hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl Runner {
    fn stage_dir(&self, kind: &str, name: &str) -> PathBuf {
        self.out.join("stages").join(format!("{kind}-{name}"))
    }

    /// Runs `body` in `dir` unless a marker with `key` says it is done; a folder left by
    /// another key (the plan changed) is cleared first.
    fn stage(
        &self,
        kind: &str,
        dir: &Path,
        key: &str,
        label: &str,
        body: impl FnOnce(&Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        // Every stage folder is a child of `--out/stages`, never anything above or beside it:
        // this code removes folders whose key changed, and must only ever remove its own.
        let stages = self.out.join("stages");
        anyhow::ensure!(
            dir.parent() == Some(stages.as_path())
                && dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| plan::plain_name(n).is_ok()),
            "stage folder {} is not a plain folder inside {}",
            dir.display(),
            stages.display()
        );
        let marker_path = dir.join("stage.json");
        let key_path = dir.join("stage.key");
        if crate::stages::common::read_spec::<StageMarker>(&marker_path).is_ok_and(|m| m.key == key) {
            self.bar.inc(1);
            tracing::debug!(stage = label, "reused");
            return Ok(());
        }
        // `stage.key` is written when a stage starts: a folder holding another key (the plan
        // changed, finished or not) is not ours to reuse or resume.
        if dir.exists() && std::fs::read_to_string(&key_path).ok().as_deref() != Some(key) {
            std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir)?;
        seal_io::write_atomic(&key_path, key.as_bytes())?;
        self.bar.set_message(label.to_string());
        let started = Instant::now();
        body(dir).with_context(|| format!("stage {label} ({})", dir.display()))?;
        let marker = StageMarker {
            kind: kind.to_string(),
            key: key.to_string(),
            wall_s: started.elapsed().as_secs_f64(),
        };
        write_json(&marker_path, &marker)?;
        // A finished stage is reused by its marker and read by its outputs; its epoch
        // checkpoints (model, optimizer state and, for Algorithm 1, θ̂) would only fill the disk:
        // gigabytes per stage for a 135M model.
        let checkpoints = dir.join("checkpoints");
        if checkpoints.is_dir() {
            std::fs::remove_dir_all(&checkpoints)
                .with_context(|| format!("removing {}", checkpoints.display()))?;
        }
        self.bar.inc(1);
        Ok(())
    }

    /// Runs `seal <command> --spec SPEC --out DIR --resume` in a child process, forwarding its
    /// log lines above the progress bar.
    fn child(&self, command: &str, spec: &Path, dir: &Path, device: Device) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("locating the seal executable")?;
        let mut cmd = Command::new(exe);
        cmd.arg(command)
            .arg("--spec")
            .arg(spec)
            .arg("--out")
            .arg(dir)
            .arg("--resume")
            .arg("--device")
            .arg(device.as_str())
            // The stage ends with this process (see `main::exit_with_parent`).
            .env(crate::PARENT_PID_ENV, std::process::id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if self.quiet {
            cmd.arg("--quiet");
        }
        let mut child = cmd.spawn().with_context(|| format!("starting seal {command}"))?;
        let mut last = Vec::new();
        if let Some(stderr) = child.stderr.take() {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !self.quiet {
                    self.bar.println(&line);
                }
                last.push(line);
                if last.len() > 20 {
                    last.remove(0);
                }
            }
        }
        let status = child.wait()?;
        if !status.success() {
            bail!("seal {command} failed ({status}):\n{}", last.join("\n"));
        }
        Ok(())
    }

    fn judge_stage(&self, plan: &Plan, judge: &JudgePlan) -> anyhow::Result<(JudgeSpec, String)> {
        match judge {
            JudgePlan::Reward { path } | JudgePlan::Generative { path } => {
                let spec = judge.existing().expect("a folder judge");
                Ok((spec, stage_key("judge", judge, &[path], &[])?))
            }
            // The endpoint's name, model and settings (the key variable's name, never its value).
            JudgePlan::Http(_) => {
                let spec = judge.existing().expect("an http judge");
                Ok((spec, stage_key("judge", judge, &[], &[])?))
            }
            JudgePlan::TrainReward {
                pairs,
                held_out,
                backbone,
                tokenizer,
                ..
            } => {
                let tokenizer = tokenizer.clone().unwrap_or_else(|| plan.model.clone());
                let tok_file = tokenizer.join("tokenizer.json");
                let mut inputs: Vec<&Path> = vec![pairs, &tok_file];
                inputs.extend(held_out.as_deref());
                inputs.extend(backbone.as_deref());
                let key = stage_key("judge", &(judge, plan.seed), &inputs, &[])?;
                let dir = self.stage_dir("judge", "reward-model");
                self.stage("judge", &dir, &key, "train the reward judge", |dir| {
                    train_reward_folder(judge, &tokenizer, plan.seed, &dir.join("model"))
                })?;
                Ok((JudgeSpec::Reward(dir.join("model")), key))
            }
        }
    }

    fn select_stage(&self, spec: &SelectSpec) -> anyhow::Result<(PathBuf, String, SelectMetrics)> {
        let key = stage_key(
            "select",
            spec,
            &[&spec.safe, &spec.data, spec.model.tokenizer_dir()],
            &[],
        )?;
        let dir = self.stage_dir("select", &key);
        let label = format!(
            "select {} {}",
            spec.bilevel.algorithm.name(),
            serde_json::to_string(&spec.bilevel.penalty).unwrap_or_default()
        );
        self.stage("select", &dir, &key, &label, |dir| {
            let spec_path = dir.join("spec.json");
            write_json(&spec_path, spec)?;
            self.child("select", &spec_path, dir, self.device)
        })?;
        let metrics: SelectMetrics = crate::stages::common::read_spec(&dir.join("metrics.json"))?;
        Ok((dir, key, metrics))
    }

    fn run_one(
        &self,
        plan: &ResolvedPlan,
        run: &ResolvedRun,
        judge: Option<&(JudgeSpec, String)>,
        reference: Option<&Generated>,
    ) -> anyhow::Result<(RunResult, Option<Generated>)> {
        let name = &run.plan.name;
        let mut result = RunResult {
            name: name.clone(),
            group: run.plan.group.clone(),
            method: run.method.to_string(),
            select: None,
            select_dir: None,
            finetune: None,
            finetune_dir: None,
            rank_dir: None,
            family: run.family.clone(),
            seed: run.seed,
            win_rates: None,
            refusals: Vec::new(),
        };
        let mut select_key = String::new();
        let mut scores = None;
        if let Some(spec) = &run.select {
            let (dir, key, metrics) = self.select_stage(spec)?;
            scores = Some(dir.join("scores.parquet"));
            select_key = key;
            result.select = Some(metrics);
            result.select_dir = Some(dir);
        }
        if let Some(spec) = &run.rank {
            let key = stage_key(
                "rank",
                spec,
                &[&spec.data, &plan.plan.data.safe, spec.model.tokenizer_dir()],
                &[],
            )?;
            let dir = self.stage_dir("rank", name);
            self.stage("rank", &dir, &key, &format!("rank {name}"), |dir| {
                write_json(&dir.join("spec.json"), spec)?;
                seal_models::on_train_device!(self.device, crate::stages::finetune::rank, spec, dir)?;
                Ok(())
            })?;
            result.rank_dir = Some(dir);
        }
        let Some(ft_spec) = &run.finetune else {
            return Ok((result, None));
        };
        let ft_spec = FinetuneSpec {
            scores,
            ..ft_spec.clone()
        };
        let ft_key = stage_key(
            "finetune",
            &ft_spec,
            &[&ft_spec.data, &plan.plan.data.safe, ft_spec.model.tokenizer_dir()],
            &[&select_key],
        )?;
        let ft_dir = self.stage_dir("finetune", name);
        self.stage(
            "finetune",
            &ft_dir,
            &ft_key,
            &format!("fine-tune {name}"),
            |dir| {
                let spec_path = dir.join("spec.json");
                write_json(&spec_path, &ft_spec)?;
                self.child("finetune", &spec_path, dir, self.device)
            },
        )?;
        result.finetune = Some(crate::stages::common::read_spec(&ft_dir.join("metrics.json"))?);
        result.finetune_dir = Some(ft_dir.clone());

        let (gen_key, generations) = self.evaluate(
            plan,
            name,
            &ft_dir.join("model"),
            &ft_key,
            judge,
            reference,
            &mut result,
        )?;
        // The reference of every later win rate, when this run is `full`.
        Ok((result, Some((gen_key, generations))))
    }

    /// The plan's model as it is (`evaluate_start`): its answers, refusal rates and win rates
    /// against `full`, as the run `start` (method `none`).
    fn start_run(
        &self,
        plan: &ResolvedPlan,
        judge: Option<&(JudgeSpec, String)>,
        reference: Option<&Generated>,
    ) -> anyhow::Result<RunResult> {
        let mut result = RunResult {
            name: START_RUN.into(),
            group: "baseline".into(),
            method: "none".into(),
            select: None,
            select_dir: None,
            finetune: None,
            finetune_dir: None,
            rank_dir: None,
            family: START_RUN.into(),
            seed: plan.plan.seed,
            win_rates: None,
            refusals: Vec::new(),
        };
        // Keyed by the model folder's contents, as a fine-tuned model is by its stage's key.
        let model_key = stage_key("start", &(), &[&plan.plan.model], &[])?;
        self.evaluate(
            plan,
            START_RUN,
            &plan.plan.model,
            &model_key,
            judge,
            reference,
            &mut result,
        )?;
        Ok(result)
    }

    /// Generates `model`'s answers to the test sets, records their refusal rates in `result`,
    /// and judges them against the reference's (when there is a judge and a reference); returns
    /// the generation stage's key and the answers.
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        plan: &ResolvedPlan,
        name: &str,
        model: &Path,
        upstream: &str,
        judge: Option<&(JudgeSpec, String)>,
        reference: Option<&Generated>,
        result: &mut RunResult,
    ) -> anyhow::Result<Generated> {
        let set_paths: Vec<&Path> = plan.generate.sets.iter().map(|s| s.path.as_path()).collect();
        let gen_key = stage_key("generate", &plan.generate, &set_paths, &[upstream])?;
        let gen_dir = self.stage_dir("generate", name);
        let gen_spec = GenerateSpec {
            model: model.to_path_buf(),
            model_name: name.to_string(),
            ..plan.generate.clone()
        };
        self.stage(
            "generate",
            &gen_dir,
            &gen_key,
            &format!("generate {name}"),
            |dir| {
                let path = dir.join("generations.jsonl");
                seal_models::on_device!(self.device, crate::stages::generate::run, &gen_spec, &path)?;
                Ok(())
            },
        )?;
        let generations = read_generations(&gen_dir.join("generations.jsonl"))?;
        result.refusals = refusal_rates(&generations);

        if let (Some((ref_key, ref_records)), Some(judge)) = (reference, judge) {
            let judge_key = stage_key("judge-run", &plan.plan.seed, &[], &[&judge.1, ref_key, &gen_key])?;
            let judge_dir = self.stage_dir("winrate", name);
            self.stage(
                "winrate",
                &judge_dir,
                &judge_key,
                &format!("judge {name} vs full"),
                |dir| {
                    // An HTTP judge keeps its verdicts here: a resumed run never asks twice.
                    let cache = seal_eval::judge::http::default_cache(dir);
                    let mut judge = load_judge_cached(&judge.0, Some(&cache))?;
                    let mut settings = JudgeRunSettings::default();
                    settings.bootstrap.seed = plan.plan.seed;
                    let judged = judge_generations(&generations, ref_records, judge.as_mut(), &settings)?;
                    seal_eval::write_reports(dir, &judged)?;
                    write_json(&dir.join("judge_run.json"), &judged)
                },
            )?;
            let judged: seal_eval::JudgeRun =
                crate::stages::common::read_spec(&judge_dir.join("judge_run.json"))?;
            result.win_rates = Some(judged.win_rates);
        } else {
            self.bar.inc(1);
        }
        Ok((gen_key, generations))
    }
}

/// Win rates by (run, set) for the tables.
pub fn overall_rates(results: &[RunResult]) -> BTreeMap<(String, String), seal_eval::WinRate> {
    let mut out = BTreeMap::new();
    for r in results {
        for w in r.win_rates.iter().flatten().filter(|w| w.category.is_none()) {
            out.insert((r.name.clone(), w.set.clone()), w.clone());
        }
    }
    out
}

/// Trains the plan's reward judge (on all of `pairs` when `held_out` names a file, else on all
/// but the last 10%), saves it in `out`, and records the held-out accuracy beside it
/// (`train_report.json`, which the report reads).
fn train_reward_folder(judge: &JudgePlan, tokenizer: &Path, seed: u64, out: &Path) -> anyhow::Result<()> {
    use seal_eval::judge::RewardArch;
    use seal_eval::{RewardInit, RewardTrainSettings, pair_accuracy, read_preferences, train_reward_judge};
    let JudgePlan::TrainReward {
        pairs,
        held_out,
        backbone,
        hidden_size,
        num_layers,
        epochs,
        ..
    } = judge
    else {
        unreachable!("only a train_reward judge is trained");
    };
    let read = |path: &Path| read_preferences(path).with_context(|| format!("reading {}", path.display()));
    let pairs_all = read(pairs)?;
    let held_file = held_out.as_deref().map(read).transpose()?;
    let (train, held_out) = match &held_file {
        Some(held) => (&pairs_all[..], &held[..]),
        None => pairs_all.split_at(pairs_all.len() - pairs_all.len() / 10),
    };
    let init = match backbone {
        Some(dir) => RewardInit::Backbone { dir: dir.clone() },
        None => {
            let tok = seal_data::TextTokenizer::from_dir(tokenizer)?;
            let arch = RewardArch {
                hidden_size: *hidden_size,
                num_layers: *num_layers,
                intermediate_size: 2 * hidden_size,
                ..RewardArch::default()
            };
            RewardInit::Random {
                config: Box::new(arch.hf_config(&tok)),
                tokenizer_dir: tokenizer.to_path_buf(),
            }
        }
    };
    let settings = RewardTrainSettings {
        epochs: *epochs,
        ..RewardTrainSettings::default()
    };
    let (judge, report) = train_reward_judge(train, &init, &settings, seed)?;
    let accuracy = if held_out.is_empty() {
        None
    } else {
        Some(pair_accuracy(&judge, held_out)?)
    };
    judge.save(out)?;
    write_json(
        &out.join("train_report.json"),
        &serde_json::json!({
            "train_pairs": train.len(),
            "held_out_pairs": held_out.len(),
            "held_out_accuracy": accuracy,
            "seed": seed,
            "report": report,
        }),
    )
}
