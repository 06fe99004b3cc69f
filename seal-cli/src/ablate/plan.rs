//! The ablation plan (`seal ablate --plan plan.toml`): the model, the datasets, the test sets,
//! the judge, shared stage settings and the runs. Every key is checked (unknown keys are
//! errors naming the key) and every path is resolved against the plan's folder and checked
//! before any expensive work starts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use seal_core::{
    Algorithm, AuxLoss, BilevelConfig, PenaltySchedule, SelectionMethod, SelectorOptimizer, SoftmaxScope,
};
use seal_models::backend::Device;
use seal_models::{AdamSettings, LrSchedule, SamplingConfig, SftConfig};
use serde::{Deserialize, Serialize};

use crate::stages::common::{ModelSource, TemplateChoice, require_file};
use crate::stages::finetune::FinetuneSpec;
use crate::stages::generate::{GenerateSpec, PromptSet};
use crate::stages::select::{AlgorithmChoice, SelectSpec};

/// A plan as written in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Shown in the report.
    pub name: String,
    /// Seed of every stage (batch order, sampling, bootstrap).
    #[serde(default)]
    pub seed: u64,
    /// Compute device of the training and generation stages: `cpu`, or `cuda` in a build with
    /// the `cuda` feature (judging stays on the CPU).
    #[serde(default)]
    pub device: Device,
    /// The aligned model every run starts from (a HF folder).
    pub model: PathBuf,
    /// D_safe and D_ft.
    pub data: DataPlan,
    /// Evaluation prompt sets (needed when a run fine-tunes).
    #[serde(default)]
    pub test_sets: Vec<TestSet>,
    /// The judge of the win rates. Without one, the runs are still fine-tuned, answer the test
    /// sets and get their refusal rates, and the report has no win rates; adding a judge later
    /// reuses every stage but the judging (`--resume`).
    #[serde(default)]
    pub judge: Option<JudgePlan>,
    /// Defaults of every selector run.
    #[serde(default)]
    pub select: SelectDefaults,
    /// Defaults of every fine-tuning run.
    #[serde(default)]
    pub finetune: FinetuneDefaults,
    /// Decoding of the evaluation answers.
    #[serde(default)]
    pub generate: GenerateDefaults,
    /// The runs; `full` (the reference of every win rate) is added if missing.
    pub runs: Vec<RunPlan>,
    /// Also evaluate the plan's model as it is, before any fine-tuning: a run named `start`
    /// (method `none`) with its answers, refusal rates and win rates against `full`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub evaluate_start: bool,
    /// Outputs of known kind that measure the refusal detector behind every refusal rate; the
    /// report shows its precision and recall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal_check: Option<RefusalCheckPlan>,
}

/// Labelled outputs for [`seal_eval::DetectorCheck`]: two canonical datasets whose responses
/// are, respectively, refusals and answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusalCheckPlan {
    /// Records whose response refuses (e.g. SafeInstr's safety demonstrations).
    pub refusals: PathBuf,
    /// Records whose response answers (e.g. Alpaca-GPT4's).
    pub compliances: PathBuf,
}

/// The datasets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataPlan {
    /// D_safe, canonical records.
    pub safe: PathBuf,
    /// D_ft, canonical records (labels, if present, feed the diagnostics).
    pub ft: PathBuf,
    /// Longest training row in tokens.
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// Prompt template.
    #[serde(default)]
    pub template: TemplateChoice,
}

fn default_max_len() -> usize {
    512
}

/// One evaluation set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSet {
    /// Name in tables (`helpful`, `general`, `harmful`).
    pub name: String,
    /// Canonical records whose prompts are answered.
    pub path: PathBuf,
    /// Harmful prompts: their refusal rate is reported (else the over-refusal rate).
    #[serde(default)]
    pub harmful: bool,
    /// Use only the first `limit` prompts.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The judge: an existing folder, or a reward model trained on preference pairs first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum JudgePlan {
    /// A `LlamaForSequenceClassification` folder.
    Reward {
        /// The folder.
        path: PathBuf,
    },
    /// An instruct model compared by the logits of its answer tokens.
    Generative {
        /// The folder.
        path: PathBuf,
    },
    /// An OpenAI-compatible endpoint (`http://` or `https://`), its API key read from the
    /// variable `api_key_env` names; the runner keeps its verdicts in each win-rate stage folder
    /// (`cache` is not a plan key).
    Http(seal_eval::HttpSettings),
    /// A reward model trained (Bradley–Terry) on preference pairs as the plan's first stage.
    TrainReward {
        /// JSONL of {prompt, chosen, rejected}.
        pairs: PathBuf,
        /// Held-out pairs (JSONL) whose accuracy the report shows; without them the last 10% of
        /// `pairs` are held out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        held_out: Option<PathBuf>,
        /// Start from this pretrained causal LM folder (its LM head replaced by a scalar head)
        /// instead of a random backbone of `hidden_size` and `num_layers`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backbone: Option<PathBuf>,
        /// Folder with the tokenizer (defaults to the plan's model).
        #[serde(default)]
        tokenizer: Option<PathBuf>,
        /// Width of the reward model.
        #[serde(default = "default_judge_hidden")]
        hidden_size: usize,
        /// Decoder layers.
        #[serde(default = "default_judge_layers")]
        num_layers: usize,
        /// Passes over the pairs.
        #[serde(default = "default_judge_epochs")]
        epochs: usize,
    },
}

impl JudgePlan {
    /// The judge to load for a plan that names an existing folder (`None` when it trains one).
    pub fn existing(&self) -> Option<seal_eval::JudgeSpec> {
        match self {
            Self::Reward { path } => Some(seal_eval::JudgeSpec::Reward(path.clone())),
            Self::Generative { path } => Some(seal_eval::JudgeSpec::Generative(path.clone())),
            Self::Http(settings) => Some(seal_eval::JudgeSpec::Http(Box::new(settings.clone()))),
            Self::TrainReward { .. } => None,
        }
    }
}

fn default_judge_hidden() -> usize {
    64
}
fn default_judge_layers() -> usize {
    2
}
fn default_judge_epochs() -> usize {
    6
}

/// Selector settings shared by the runs (a run may override the algorithm, schedule and
/// selector options).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectDefaults {
    /// Passes over D_ft.
    pub epochs: u64,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Examples per forward/backward pass.
    pub micro_batch_size: usize,
    /// Adam learning rate of θ (and θ̂).
    pub lr: f64,
    /// Kept share p.
    pub keep: f64,
    /// `alg1` or `alg2`.
    pub algorithm: AlgorithmChoice,
    /// γ schedule, as on the CLI (`reference`, `constant:0.1`, ...).
    pub gamma: String,
    /// `adam` or `sgd:LR`.
    pub optimizer: String,
    /// `global` or `batch`.
    pub softmax_scope: SoftmaxScope,
    /// Train θ (and θ̂) through LoRA adapters (e.g. `{ rank = 16, alpha = 16.0 }`).
    pub lora: Option<seal_models::LoraConfig>,
    /// `alg1`: measure θ̂'s losses `before` its inner steps (default) or `after` them.
    #[serde(skip_serializing_if = "is_default")]
    pub aux_loss: AuxLoss,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl Default for SelectDefaults {
    fn default() -> Self {
        Self {
            epochs: 3,
            batch_size: 64,
            micro_batch_size: 8,
            lr: 1e-5,
            keep: 0.8,
            algorithm: AlgorithmChoice::Alg2,
            gamma: "reference".into(),
            optimizer: "adam".into(),
            softmax_scope: SoftmaxScope::Global,
            lora: None,
            aux_loss: AuxLoss::default(),
        }
    }
}

/// Fine-tuning settings shared by the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneDefaults {
    /// Passes over the selection.
    pub epochs: u64,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Examples per forward/backward pass.
    pub micro_batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// `constant` or `cosine`.
    pub schedule: String,
    /// Warm-up share for `cosine`.
    pub warmup_ratio: f64,
    /// Fine-tune LoRA adapters (merged into the output model) instead of full parameters.
    pub lora: Option<seal_models::LoraConfig>,
}

impl Default for FinetuneDefaults {
    fn default() -> Self {
        Self {
            epochs: 2,
            batch_size: 64,
            micro_batch_size: 8,
            lr: 1e-5,
            schedule: "constant".into(),
            warmup_ratio: 0.03,
            lora: None,
        }
    }
}

/// Decoding of the evaluation answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerateDefaults {
    /// Most new tokens per answer.
    pub max_new_tokens: usize,
    /// Greedy decoding instead of sampling.
    pub greedy: bool,
    /// Sampling temperature.
    pub temperature: f32,
    /// Nucleus mass.
    pub top_p: f32,
    /// Repetition penalty.
    pub repetition_penalty: f32,
    /// Prompts per batch.
    pub batch_size: usize,
}

impl Default for GenerateDefaults {
    fn default() -> Self {
        let s = SamplingConfig::default();
        Self {
            max_new_tokens: 128,
            greedy: s.greedy,
            temperature: s.temperature,
            top_p: s.top_p,
            repetition_penalty: s.repetition_penalty,
            batch_size: 16,
        }
    }
}

/// One run: a method, and for the SEAL methods the selector's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPlan {
    /// Unique name (a row of the report).
    pub name: String,
    /// Report table: `algorithm`, `schedule`, `baseline`, `option` (free text is allowed).
    #[serde(default = "default_group")]
    pub group: String,
    /// full, seal, random, dsir, safeinstr, seal+safeinstr, loss-rank.
    pub method: String,
    /// Overrides of the selector defaults.
    #[serde(default)]
    pub algorithm: Option<AlgorithmChoice>,
    /// γ schedule override.
    #[serde(default)]
    pub gamma: Option<String>,
    /// Selector optimizer override.
    #[serde(default)]
    pub optimizer: Option<String>,
    /// Softmax scope override.
    #[serde(default)]
    pub softmax_scope: Option<SoftmaxScope>,
    /// `alg1`'s `aux_loss` override (`before` or `after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux_loss: Option<AuxLoss>,
    /// Kept share override.
    #[serde(default)]
    pub keep: Option<f64>,
    /// Only rank D_ft (train and score the selector, or a baseline's ranking) for the
    /// diagnostics: no fine-tuning or judging.
    #[serde(default)]
    pub select_only: bool,
    /// Seed of this run's selector, baseline ranking and fine-tuning (else the plan's).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Repeat the run once per seed, as `NAME-seedS`; the report adds the spread over seeds.
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
}

fn default_group() -> String {
    "baseline".into()
}

/// A run resolved into stage specs.
#[derive(Debug, Clone)]
pub struct ResolvedRun {
    /// The run as planned.
    pub plan: RunPlan,
    /// The method.
    pub method: SelectionMethod,
    /// The selector stage (SEAL methods only).
    pub select: Option<SelectSpec>,
    /// The fine-tuning stage (`scores` is filled in by the runner); `None` for select-only runs.
    pub finetune: Option<FinetuneSpec>,
    /// A select-only baseline's ranking (`random`, `dsir`, `loss-rank`): the fine-tuning spec
    /// whose selection is computed and written, without the training.
    pub rank: Option<FinetuneSpec>,
    /// The run's name before a `seeds` list expanded it (its own name otherwise).
    pub family: String,
    /// The seed of every stage of the run.
    pub seed: u64,
}

/// A plan with paths resolved and every setting parsed.
#[derive(Debug, Clone)]
pub struct ResolvedPlan {
    /// The plan as written (paths absolute).
    pub plan: Plan,
    /// The runs, `full` first.
    pub runs: Vec<ResolvedRun>,
    /// Generation settings (shared by every fine-tuned model).
    pub generate: GenerateSpec,
}

impl Plan {
    /// Reads and resolves a plan file.
    pub fn load(path: &Path) -> anyhow::Result<ResolvedPlan> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading plan {}", path.display()))?;
        let plan: Plan = toml::from_str(&text).with_context(|| format!("plan {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        plan.resolve(base)
            .with_context(|| format!("plan {}", path.display()))
    }

    /// Resolves relative paths against `base`, parses every setting and checks every input.
    pub fn resolve(mut self, base: &Path) -> anyhow::Result<ResolvedPlan> {
        let abs = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        self.model = abs(&self.model);
        self.data.safe = abs(&self.data.safe);
        self.data.ft = abs(&self.data.ft);
        for set in &mut self.test_sets {
            set.path = abs(&set.path);
        }
        if let Some(check) = &mut self.refusal_check {
            check.refusals = abs(&check.refusals);
            check.compliances = abs(&check.compliances);
        }
        match &mut self.judge {
            Some(JudgePlan::Reward { path } | JudgePlan::Generative { path }) => *path = abs(path),
            Some(JudgePlan::Http(settings)) => settings.ca_file = settings.ca_file.as_deref().map(abs),
            Some(JudgePlan::TrainReward {
                pairs,
                held_out,
                backbone,
                tokenizer,
                ..
            }) => {
                *pairs = abs(pairs);
                *held_out = held_out.as_deref().map(abs);
                *backbone = backbone.as_deref().map(abs);
                *tokenizer = Some(tokenizer.as_deref().map_or_else(|| self.model.clone(), abs));
            }
            None => {}
        }
        self.device.ensure_built().context("device")?;
        let evaluates = self.runs.iter().any(|r| !r.select_only);
        self.check_inputs(evaluates)?;
        if evaluates {
            self.check_disjoint()?;
        }
        if evaluates && !self.runs.iter().any(|r| r.name == "full") {
            self.runs.insert(
                0,
                RunPlan {
                    name: "full".into(),
                    group: default_group(),
                    method: "full".into(),
                    algorithm: None,
                    gamma: None,
                    optimizer: None,
                    softmax_scope: None,
                    aux_loss: None,
                    keep: None,
                    select_only: false,
                    seed: None,
                    seeds: None,
                },
            );
        }
        let mut names = BTreeSet::new();
        let mut runs = Vec::new();
        for (family, run) in self.expand_seeds()? {
            plain_name(&run.name).with_context(|| format!("runs: the name `{}`", run.name))?;
            if !names.insert(run.name.clone()) {
                bail!("runs: the name `{}` is used twice", run.name);
            }
            let mut resolved = self
                .resolve_run(&run)
                .with_context(|| format!("run `{}`", run.name))?;
            resolved.family = family;
            runs.push(resolved);
        }
        if self.evaluate_start && names.contains(crate::ablate::START_RUN) {
            bail!(
                "runs: the name `{}` is the starting model's with evaluate_start = true",
                crate::ablate::START_RUN
            );
        }
        if let Some(full) = runs.iter().position(|r| r.plan.name == "full") {
            if runs[full].method != SelectionMethod::Full || runs[full].finetune.is_none() {
                bail!(
                    "run `full` must use method `full` and fine-tune: it is the reference of every win rate"
                );
            }
            let full_run = runs.remove(full);
            runs.insert(0, full_run);
        }
        let g = &self.generate;
        anyhow::ensure!(g.batch_size > 0, "generate.batch_size must be at least 1");
        let generate = GenerateSpec {
            model: PathBuf::new(),
            model_name: String::new(),
            sets: self
                .test_sets
                .iter()
                .map(|s| PromptSet {
                    name: s.name.clone(),
                    path: s.path.clone(),
                    limit: s.limit,
                })
                .collect(),
            sampling: SamplingConfig {
                greedy: g.greedy,
                temperature: g.temperature,
                top_p: g.top_p,
                repetition_penalty: g.repetition_penalty,
                max_new_tokens: g.max_new_tokens,
                seed: self.seed,
            },
            template: self.data.template,
            batch_size: g.batch_size,
        };
        Ok(ResolvedPlan {
            plan: self,
            runs,
            generate,
        })
    }

    /// The runs with each `seeds` list expanded into one run per seed, named `NAME-seedS`, each
    /// beside the name it came from.
    fn expand_seeds(&self) -> anyhow::Result<Vec<(String, RunPlan)>> {
        let mut expanded = Vec::new();
        for run in &self.runs {
            let Some(seeds) = &run.seeds else {
                expanded.push((run.name.clone(), run.clone()));
                continue;
            };
            if run.seed.is_some() {
                bail!("run `{}`: give `seed` or `seeds`, not both", run.name);
            }
            if seeds.is_empty() || seeds.iter().collect::<BTreeSet<_>>().len() != seeds.len() {
                bail!(
                    "run `{}`: `seeds` must list at least one seed, each once",
                    run.name
                );
            }
            if run.name == "full" {
                bail!("run `full` is the one reference of the win rates: it cannot have `seeds`");
            }
            for &seed in seeds {
                expanded.push((
                    run.name.clone(),
                    RunPlan {
                        name: format!("{}-seed{seed}", run.name),
                        seed: Some(seed),
                        seeds: None,
                        ..run.clone()
                    },
                ));
            }
        }
        Ok(expanded)
    }

    /// Checks every input; the test sets and the judge only when some run fine-tunes
    /// (`evaluates`).
    fn check_inputs(&self, evaluates: bool) -> anyhow::Result<()> {
        require_file(&self.model.join("config.json")).context("model")?;
        require_file(&self.model.join("tokenizer.json")).context("model")?;
        require_file(&self.data.safe).context("data.safe")?;
        require_file(&self.data.ft).context("data.ft")?;
        if let Some(check) = &self.refusal_check {
            require_file(&check.refusals).context("refusal_check.refusals")?;
            require_file(&check.compliances).context("refusal_check.compliances")?;
        }
        if !evaluates {
            // A diagnostics plan: the judge and test sets would never be read.
            return Ok(());
        }
        if self.test_sets.is_empty() {
            bail!("test_sets: at least one evaluation set is needed when a run fine-tunes");
        }
        let mut names = BTreeSet::new();
        for set in &self.test_sets {
            plain_name(&set.name).with_context(|| format!("test_sets: the name `{}`", set.name))?;
            require_file(&set.path).with_context(|| format!("test set `{}`", set.name))?;
            if !names.insert(&set.name) {
                bail!("test_sets: the name `{}` is used twice", set.name);
            }
        }
        let Some(judge) = &self.judge else {
            // Refusal rates only: the report says the win rates need a judge.
            return Ok(());
        };
        match judge {
            JudgePlan::Reward { path } | JudgePlan::Generative { path } => {
                require_file(&path.join("config.json")).context("judge")?;
                // Load it now: a folder that is not a one-label classifier fails here, not
                // after hours of training.
                let spec = judge.existing().expect("a folder judge");
                seal_eval::load_judge(&spec).context("judge")?;
            }
            JudgePlan::Http(settings) => {
                anyhow::ensure!(
                    settings.cache.is_none(),
                    "judge.cache: the runner keeps an HTTP judge's verdicts in each win-rate stage folder; \
remove the key"
                );
                // Builds the client: a bad URL, an unset api_key_env or an unreadable ca_file
                // fails here, before any stage (and before any request: building sends none).
                seal_eval::HttpJudge::new(settings.clone()).context("judge")?;
            }
            JudgePlan::TrainReward {
                pairs,
                held_out,
                backbone,
                tokenizer,
                hidden_size,
                num_layers,
                epochs,
            } => {
                require_file(pairs).context("judge.pairs")?;
                if let Some(held_out) = held_out {
                    require_file(held_out).context("judge.held_out")?;
                }
                if let Some(backbone) = backbone {
                    require_file(&backbone.join("config.json")).context("judge.backbone")?;
                }
                let dir = tokenizer.as_deref().unwrap_or(&self.model);
                require_file(&dir.join("tokenizer.json")).context("judge.tokenizer")?;
                anyhow::ensure!(
                    *hidden_size > 0 && *num_layers > 0 && *epochs > 0,
                    "judge: hidden_size, num_layers and epochs must be positive"
                );
            }
        }
        Ok(())
    }

    /// No prompt a model or the judge trains on may be a prompt it is evaluated on: D_ft, D_safe
    /// and a trained judge's pairs against every test set, prompts compared normalised
    /// (lowercase, whitespace collapsed). An overlap is an error naming the ids on both sides.
    fn check_disjoint(&self) -> anyhow::Result<()> {
        use std::collections::HashMap;
        // A pair's prompt is one string, normalised as `seal_data::normalized_prompt` does a turn.
        let key = |text: &str| -> String {
            text.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let record_keys = |path: &Path| -> anyhow::Result<Vec<(String, String)>> {
            let records =
                seal_data::read_examples(path).with_context(|| format!("reading {}", path.display()))?;
            Ok(records
                .iter()
                .map(|e| (seal_data::normalized_prompt(e), e.id.to_string()))
                .collect())
        };
        let mut evaluated: HashMap<String, (String, String)> = HashMap::new();
        for set in &self.test_sets {
            for (k, id) in record_keys(&set.path)? {
                evaluated.entry(k).or_insert_with(|| (set.name.clone(), id));
            }
        }
        let mut trained: Vec<(&str, Vec<(String, String)>)> = vec![
            ("data.ft", record_keys(&self.data.ft)?),
            ("data.safe", record_keys(&self.data.safe)?),
        ];
        if let Some(JudgePlan::TrainReward { pairs, .. }) = &self.judge {
            let rows =
                seal_eval::read_preferences(pairs).with_context(|| format!("reading {}", pairs.display()))?;
            let keys = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        key(&r.prompt),
                        r.id.clone().unwrap_or_else(|| format!("line {}", i + 1)),
                    )
                })
                .collect();
            trained.push(("judge.pairs", keys));
        }
        for (what, keys) in trained {
            let clashes: Vec<String> = keys
                .iter()
                .filter_map(|(k, id)| {
                    evaluated
                        .get(k)
                        .map(|(set, test_id)| format!("{id} = test set `{set}` {test_id}"))
                })
                .collect();
            if !clashes.is_empty() {
                let shown: Vec<&str> = clashes.iter().take(10).map(String::as_str).collect();
                bail!(
                    "{what} shares {} prompt(s) with the test sets (a model would be evaluated on what it trained on): \
                     {}{}; remove them from one side (e.g. a recipe filter or hash split)",
                    clashes.len(),
                    shown.join(", "),
                    if clashes.len() > shown.len() {
                        format!(" and {} more", clashes.len() - shown.len())
                    } else {
                        String::new()
                    }
                );
            }
        }
        Ok(())
    }

    fn resolve_run(&self, run: &RunPlan) -> anyhow::Result<ResolvedRun> {
        let method: SelectionMethod = run.method.parse()?;
        let keep = run.keep.unwrap_or(self.select.keep);
        if !(keep > 0.0 && keep <= 1.0) {
            bail!("keep share p = {keep} is outside (0, 1]");
        }
        let is_seal = matches!(method, SelectionMethod::Seal | SelectionMethod::SealSafeInstr);
        if !is_seal
            && (run.algorithm.is_some()
                || run.gamma.is_some()
                || run.optimizer.is_some()
                || run.softmax_scope.is_some())
        {
            bail!(
                "selector settings (algorithm, gamma, optimizer, softmax_scope) apply to the seal methods only"
            );
        }
        if run.select_only && matches!(method, SelectionMethod::Full | SelectionMethod::SafeInstr) {
            bail!("select_only: method `{method}` does not rank D_ft, so it has nothing to score");
        }
        let seed = run.seed.unwrap_or(self.seed);
        let select = is_seal.then(|| self.select_spec(run, keep, seed)).transpose()?;
        let spec = self.finetune_spec(method, keep, seed)?;
        let (finetune, rank) = match (run.select_only, is_seal) {
            (false, _) => (Some(spec), None),
            (true, true) => (None, None),
            (true, false) => (None, Some(spec)),
        };
        Ok(ResolvedRun {
            plan: run.clone(),
            method,
            select,
            finetune,
            rank,
            family: run.name.clone(),
            seed,
        })
    }

    fn select_spec(&self, run: &RunPlan, keep: f64, seed: u64) -> anyhow::Result<SelectSpec> {
        let d = &self.select;
        let algorithm = match run.algorithm.unwrap_or(d.algorithm) {
            AlgorithmChoice::Alg1 => Algorithm::Alg1 {
                inner_steps: 1,
                keep_penalty_factor: false,
                aux_loss: run.aux_loss.unwrap_or(d.aux_loss),
            },
            AlgorithmChoice::Alg2 if run.aux_loss.is_some() => {
                bail!("aux_loss is an option of algorithm `alg1` (Algorithm 2 has no θ̂)")
            }
            AlgorithmChoice::Alg2 => Algorithm::Alg2 {},
        };
        let penalty: PenaltySchedule = run.gamma.as_deref().unwrap_or(&d.gamma).parse()?;
        let selector_optimizer: SelectorOptimizer = run
            .optimizer
            .as_deref()
            .unwrap_or(&d.optimizer)
            .parse()
            .map_err(anyhow::Error::msg)?;
        let softmax_scope = run.softmax_scope.unwrap_or(d.softmax_scope);
        let bilevel = BilevelConfig {
            algorithm,
            batch_size: d.batch_size,
            micro_batch_size: d.micro_batch_size,
            epochs: d.epochs,
            seed,
            penalty,
            softmax_scope,
            selector_optimizer,
            ..BilevelConfig::default()
        };
        bilevel.validate()?;
        Ok(SelectSpec {
            model: ModelSource::Folder {
                path: self.model.clone(),
            },
            safe: self.data.safe.clone(),
            data: self.data.ft.clone(),
            template: self.data.template,
            max_len: self.data.max_len,
            bilevel,
            model_adam: AdamSettings {
                lr: d.lr,
                ..AdamSettings::default()
            },
            clip_norm: 1.0,
            lora: d.lora.clone(),
            keep,
            init_selector: None,
        })
    }

    fn finetune_spec(&self, method: SelectionMethod, keep: f64, seed: u64) -> anyhow::Result<FinetuneSpec> {
        let d = &self.finetune;
        let schedule = match d.schedule.as_str() {
            "constant" => LrSchedule::Constant,
            "cosine" => LrSchedule::Cosine {
                warmup_ratio: d.warmup_ratio,
            },
            other => bail!("finetune.schedule: unknown `{other}`: expected `constant` or `cosine`"),
        };
        Ok(FinetuneSpec {
            model: ModelSource::Folder {
                path: self.model.clone(),
            },
            data: self.data.ft.clone(),
            safe: Some(self.data.safe.clone()),
            method,
            keep,
            scores: None,
            template: self.data.template,
            max_len: self.data.max_len,
            sft: SftConfig {
                epochs: d.epochs,
                batch_size: d.batch_size,
                micro_batch_size: d.micro_batch_size,
                adam: AdamSettings {
                    lr: d.lr,
                    ..AdamSettings::default()
                },
                clip_norm: 1.0,
                schedule,
                seed,
                pad_id: 0,
            },
            lora: d.lora.clone(),
        })
    }
}

/// Run and test-set names become stage folder names (`stages/finetune-NAME`, ...): only a plain
/// name of letters, digits and `-_.+` is accepted, so none can climb out of `--out` (`../x`),
/// name a folder elsewhere (`/tmp/x`) or hide (`.x`).
pub(crate) fn plain_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name.len() > 100 {
        bail!("must be 1 to 100 characters");
    }
    if name.starts_with('.') {
        bail!("must not start with `.`");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.+".contains(*c)))
    {
        bail!(
            "has `{}`: only letters, digits and `-_.+` make a folder name",
            c.escape_default()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped plan parses (no unknown or misspelt keys); the demo plans also resolve
    /// against the committed fixtures... once their inputs are laid out as `seal demo` does.
    #[test]
    fn shipped_plans_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for file in [
            "plans/real-data.toml",
            "plans/hosted-judge.toml",
            "plans/gpu-llama.toml",
            "fixtures/demo/plan.toml",
            "fixtures/demo/quick.toml",
            "fixtures/demo/diagnostics.toml",
            "plans/real-diagnostics.toml",
            "plans/align-smollm2.toml",
            "plans/break-aligned.toml",
            "plans/align-dpo.toml",
        ] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let plan: Plan = toml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            // A plan without runs evaluates its model as it is (`evaluate_start`), or does nothing.
            assert!(!plan.runs.is_empty() || plan.evaluate_start, "{file}");
            if file.ends_with("hosted-judge.toml") {
                let Some(JudgePlan::Http(http)) = &plan.judge else {
                    panic!("{file}: not an http judge: {:?}", plan.judge)
                };
                assert!(http.base_url.starts_with("https://"), "{http:?}");
                assert_eq!(http.api_key_env.as_deref(), Some("OPENAI_API_KEY"));
            }
        }
        let mut with_options = std::fs::read_to_string(root.join("fixtures/demo/plan.toml")).unwrap();
        with_options.push_str(&std::fs::read_to_string(root.join("fixtures/demo/option-runs.toml")).unwrap());
        let plan: Plan = toml::from_str(&with_options).unwrap();
        assert!(plan.runs.iter().any(|r| r.select_only));
    }

    #[test]
    fn an_http_judge_is_checked_before_any_stage() {
        let dir = tempfile::tempdir().unwrap();
        let plan_path =
            crate::ablate::demo::write_inputs(dir.path(), crate::ablate::demo::DemoPlan::Default).unwrap();
        let text = std::fs::read_to_string(&plan_path).unwrap();
        let with_judge = |judge: &str| {
            let start = text.find("[judge]").unwrap();
            let end = start + text[start..].find("\n\n").unwrap();
            let path = dir.path().join("http.toml");
            std::fs::write(&path, format!("{}{judge}{}", &text[..start], &text[end..])).unwrap();
            Plan::load(&path)
        };
        let var = "SEAL_TEST_PLAN_KEY_THAT_IS_NEVER_SET";
        let err = with_judge(&format!(
            "[judge]\nkind = \"http\"\nbase_url = \"https://judge.invalid/v1\"\nmodel = \"m\"\napi_key_env = \"{var}\""
        ))
        .unwrap_err();
        assert!(format!("{err:#}").contains(var), "{err:#}");
        let err = with_judge("[judge]\nkind = \"http\"\nbase_url = \"ftp://judge.invalid\"\nmodel = \"m\"")
            .unwrap_err();
        assert!(format!("{err:#}").contains("ftp://judge.invalid"), "{err:#}");
        let err = with_judge(
            "[judge]\nkind = \"http\"\nbase_url = \"https://judge.invalid\"\nmodel = \"m\"\ncache = \"x\"",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("judge.cache"), "{err:#}");
        // A valid one loads (building the client sends nothing to the unreachable host).
        let plan =
            with_judge("[judge]\nkind = \"http\"\nbase_url = \"https://judge.invalid\"\nmodel = \"m\"")
                .unwrap();
        assert!(matches!(plan.plan.judge, Some(JudgePlan::Http(_))));
    }

    #[test]
    fn the_demo_plan_resolves_with_full_first_and_shared_selectors() {
        let dir = tempfile::tempdir().unwrap();
        let plan_path =
            crate::ablate::demo::write_inputs(dir.path(), crate::ablate::demo::DemoPlan::Default).unwrap();
        let plan = Plan::load(&plan_path).unwrap();
        assert_eq!(plan.runs[0].plan.name, "full");
        let seal = plan.runs.iter().find(|r| r.plan.name == "seal").unwrap();
        let both = plan
            .runs
            .iter()
            .find(|r| r.plan.name == "seal+safeinstr")
            .unwrap();
        // seal and seal+safeinstr train the same selector: one stage serves both.
        assert_eq!(seal.select, both.select);
        let alg1 = plan.runs.iter().find(|r| r.plan.name == "seal-alg1").unwrap();
        assert_ne!(seal.select, alg1.select);
        assert!(plan.runs.iter().all(|r| r.finetune.is_some()));
    }
}
