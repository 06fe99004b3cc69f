//! The command line: clap definitions only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use seal_cli::bench::data::Phase;
use seal_cli::stages::common::TemplateChoice;
use seal_cli::stages::select::AlgorithmChoice;
use seal_models::backend::Device;

#[derive(Parser, Debug)]
#[command(
    name = "seal",
    version = crate::version::long(),
    about = "Keep an aligned LLM safe while it is fine-tuned (SEAL data selection)"
)]
pub struct Cli {
    /// Print warnings and errors only.
    #[arg(long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Sample an answer from a model folder.
    Generate(GenerateArgs),
    /// Model folders: import a GGUF file, inspect a folder.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Throughput benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run the default ablation plan on the embedded fixture world (tiny Llama, CPU):
    /// Algorithm 1 vs 2, the penalty schedules and the baselines, into a report.
    Demo(DemoArgs),
    /// Run an ablation plan (TOML): select -> fine-tune -> generate -> judge per run, cached
    /// and resumable, into report.md, results.csv, results.json and plots.
    Ablate(AblateArgs),
    /// Train the SEAL data selector (bilevel, Algorithm 1 or 2) and score every fine-tuning
    /// example.
    Select(Box<SelectArgs>),
    /// Fine-tune a model on SEAL's selection or a baseline (or train one from scratch).
    Finetune(Box<FinetuneArgs>),
    /// Preference-tune a model (DPO) on pairs of a preferred and a worse answer to one prompt,
    /// against the model as it starts.
    Dpo(Box<DpoArgs>),
    /// Datasets: import source files into canonical records, inspect a record file.
    #[command(subcommand)]
    Data(DataCommand),
    /// Print a shell completion script (`seal completions bash > /etc/bash_completion.d/seal`,
    /// `seal completions zsh > "${fpath[1]}/_seal"`, `seal completions fish >
    /// ~/.config/fish/completions/seal.fish`).
    Completions(CompletionsArgs),
    /// Win rates of a candidate's generations against a reference's, judged in both orders
    /// (`seal judge --candidate ... --reference ... --judge ... --out ...`); or `seal judge
    /// train`: fit a reward-model judge on preference pairs.
    Judge(Box<JudgeArgs>),
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Import source files (Alpaca, HH-RLHF, ShareGPT, OpenAI, PyRIT, AdvBench, CatQA,
    /// StrongREJECT, HarmBench, XSTest, MT-Bench, SafeInstr, canonical, generic) into one
    /// canonical Parquet (or .jsonl) file.
    Import(Box<DataImportArgs>),
    /// Counts by source, label, category and split; a token-length histogram with --tokenizer.
    Inspect(DataInspectArgs),
    /// Template and tokenize a canonical record file into a tokenized Parquet table (`id`,
    /// `input_ids`, `loss_mask`, `length`, `prompt_len`); over-long rows are dropped and listed
    /// in OUT with `.dropped.jsonl`.
    Tokenize(DataTokenizeArgs),
    /// Build a mixture from a TOML recipe (sources, filters, counts or fractions, labels, dedup,
    /// seed); writes OUT and a report OUT with `.mix.json`.
    Mix(DataMixArgs),
    /// Join two record files of the same prompts (e.g. the `chosen` and `rejected` sides of
    /// HH-RLHF, mixed by two recipes with one hash split) into preference pairs (JSONL of
    /// prompt, chosen, rejected) for `seal judge train`.
    Pairs(DataPairsArgs),
}

#[derive(Args, Debug)]
pub struct DataPairsArgs {
    /// Records whose responses are the preferred answers.
    #[arg(long)]
    pub chosen: PathBuf,
    /// Records of the same prompts whose responses are the dispreferred answers.
    #[arg(long)]
    pub rejected: PathBuf,
    /// Output JSONL, written atomically.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct DataTokenizeArgs {
    /// A canonical `.parquet` (streamed by row groups) or canonical `.jsonl` file.
    #[arg(long)]
    pub data: PathBuf,
    /// A folder with tokenizer.json (a model folder, or fixtures/world).
    #[arg(long)]
    pub tokenizer: PathBuf,
    /// `reference` (`Human: {prompt}\nAssistant: `) or `model` (the tokenizer's chat template).
    #[arg(long, value_enum, default_value_t = TemplateChoice::Reference)]
    pub template: TemplateChoice,
    /// Longest row kept, in tokens (prompt + response + eos); longer rows are dropped.
    #[arg(long, default_value_t = 512)]
    pub max_len: usize,
    /// Tokenizer threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output tokenized table (`.parquet`), written atomically.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct DataMixArgs {
    /// The recipe (TOML); paths in it are relative to the recipe's folder.
    #[arg(long)]
    pub recipe: PathBuf,
    /// Output file: `.parquet`, or `.jsonl` for canonical JSON Lines. Written atomically.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct DataImportArgs {
    /// Source files, imported in order (ids must be unique across all of them).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output file: `.parquet`, or `.jsonl` for canonical JSON Lines. Written atomically.
    #[arg(long)]
    pub out: PathBuf,
    /// Force a format (canonical, alpaca, hh-rlhf, sharegpt, openai, pyrit, advbench, catqa,
    /// strongreject, harmbench, xstest, mt-bench, safeinstr-eval, safeinstr-train, generic);
    /// by default it is detected from the extension and field names.
    #[arg(long)]
    pub format: Option<seal_data::Format>,
    /// Source name for every record (default: each file's stem).
    #[arg(long)]
    pub source: Option<String>,
    /// Label every record `benign`, `harmful` or `unknown`, overriding the format's own.
    #[arg(long)]
    pub label: Option<seal_data::Label>,
    /// HH-RLHF: which side is the response, `chosen` or `rejected`.
    #[arg(long, value_enum, default_value_t = HhSideArg::Chosen)]
    pub hh_side: HhSideArg,
    /// Leave bad rows out (into the rejects file) instead of failing on the first one.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Where rejected rows go (default: OUT with `.rejects.jsonl`).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Longest record accepted, in bytes of prompt and response text (default 64 MiB); a longer
    /// one is an error naming its row, or a reject with --skip-invalid.
    #[arg(long, default_value_t = seal_data::DEFAULT_MAX_RECORD_BYTES, value_parser = at_least_one())]
    pub max_record_bytes: usize,
    /// Generic format: the prompt field (a string or a list of {role, content}).
    #[arg(long, default_value = "prompt")]
    pub prompt_field: String,
    /// Generic format: the response field.
    #[arg(long, default_value = "response")]
    pub response_field: String,
    /// Generic format: an id field (default: content-hash ids).
    #[arg(long)]
    pub id_field: Option<String>,
    /// Generic format: a label field (benign/harmful/unknown or safe/unsafe).
    #[arg(long)]
    pub label_field: Option<String>,
    /// Generic format: a category field.
    #[arg(long)]
    pub category_field: Option<String>,
}

#[derive(Args, Debug)]
pub struct DataInspectArgs {
    /// A canonical `.parquet` or `.jsonl` file.
    pub file: PathBuf,
    /// A model folder with tokenizer.json: adds a token-length histogram.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Render prompts with the tokenizer's own chat template (else the reference template).
    #[arg(long, requires = "tokenizer")]
    pub chat: bool,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Hugging Face model folder (config.json, *.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Prompt text (repeat for a batch).
    #[arg(long, required_unless_present = "prompts")]
    pub prompt: Vec<String>,
    /// An evaluation prompt set instead: canonical records (.parquet or .jsonl); answers go to
    /// --out as generation records (prompt id, set, category, model, seed, settings, output).
    #[arg(long, conflicts_with = "prompt", requires = "out")]
    pub prompts: Option<PathBuf>,
    /// Set name recorded with each answer (default: the prompt file's stem).
    #[arg(long, requires = "prompts")]
    pub set: Option<String>,
    /// Output generations file (JSONL) for --prompts.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute device: `cpu`, or `cuda` in a build with the `cuda` feature.
    #[arg(long, default_value = "cpu", value_parser = Device::parse_built)]
    pub device: Device,
    /// Prompts per batch for --prompts.
    #[arg(long, default_value_t = 16, value_parser = at_least_one())]
    pub batch_size: usize,
    /// Wrap the prompt in the model's own chat template (else the SEAL reference template
    /// `Human: {prompt}\nAssistant: `).
    #[arg(long)]
    pub chat: bool,
    /// Feed the prompt as raw text, without any template.
    #[arg(long, conflicts_with = "chat")]
    pub raw: bool,
    /// Greedy decoding (no sampling, no repetition penalty unless given).
    #[arg(long)]
    pub greedy: bool,
    /// Most new tokens.
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Nucleus mass.
    #[arg(long, default_value_t = 0.9)]
    pub top_p: f32,
    /// Repetition penalty (default 1.2 when sampling, 1.0 when greedy).
    #[arg(long)]
    pub repetition_penalty: Option<f32>,
    /// Sampler seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// With --prompts: write the model's own finished answers as canonical training records
    /// (.parquet or .jsonl, `response` = the answer: self-distillation data) instead of
    /// generation records; answers cut at --max-new-tokens are left out and counted, unless
    /// --keep-cut keeps them
    #[arg(long, requires = "prompts")]
    pub distill: bool,
    /// With --distill: keep the answers cut at --max-new-tokens too (as rejected sides of
    /// preference pairs, where a cut compliance is still the behaviour to push down; never as
    /// SFT targets, which would teach stopping mid-sentence)
    #[arg(long, requires = "distill")]
    pub keep_cut: bool,
    /// Print JSON lines (prompt, answer, token counts) instead of plain text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Convert a llama.cpp GGUF file into a Hugging Face folder (config.json,
    /// model.safetensors, tokenizer.json, tokenizer_config.json).
    ImportGguf {
        /// The .gguf file.
        gguf: PathBuf,
        /// Output folder (created; must not hold a model already unless --force).
        #[arg(long)]
        out: PathBuf,
        /// Overwrite an existing output folder's files.
        #[arg(long)]
        force: bool,
    },
    /// Re-save a model folder as seal writes models (config.json + one f32
    /// model.safetensors, tokenizer files copied), e.g. to turn a sharded bf16 checkpoint
    /// into the layout seal's stages produce.
    Export {
        /// Source model folder.
        dir: PathBuf,
        /// Destination folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a model folder's architecture and parameter count.
    Inspect {
        /// Model folder.
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// One training step (forward + backward + Adam), fp32, random tokens, after warm-up.
    TrainStep(BenchTrainArgs),
    /// Batched greedy generation with the KV cache.
    Generate(BenchGenerateArgs),
    /// Step time and peak memory of SFT, Algorithm 2 and Algorithm 1 of the selector loop,
    /// each mode in its own process.
    Select(BenchSelectArgs),
    /// Rows/s and peak RSS of streaming import and tokenization of a generated JSONL file.
    Data(BenchDataArgs),
}

#[derive(Args, Debug)]
pub struct BenchDataArgs {
    /// Rows of the generated Alpaca-format JSONL file.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: usize,
    /// Records per streamed chunk.
    #[arg(long, default_value_t = 65_536)]
    pub chunk: usize,
    /// Tokenizer folder (default: the fixture world's tokenizer).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Keep the generated files in this folder (default: a temporary folder, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Run one phase (`import` or `tokenize`) on the files in --dir, in this process, and
    /// print its JSON; by default each phase runs in a child process of its own so that its
    /// peak RSS is its own.
    #[arg(long, requires = "dir", value_enum)]
    pub phase: Option<Phase>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BenchSelectArgs {
    #[command(flatten)]
    pub shape: BenchShape,
    /// Time one mode in this process (`sft`, `alg2`, `alg1`); by default every mode runs in a
    /// child process of its own so that peak memory is per mode.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Print JSON: `{"sft": {...}, "alg2": {...}, "alg1": {...}}`, each with `median_step_s`
    /// and `peak_bytes`.
    #[arg(long)]
    pub json: bool,
}

/// Which side of an HH-RLHF row is the response.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum HhSideArg {
    /// The preferred answer.
    Chosen,
    /// The other one.
    Rejected,
}

impl From<HhSideArg> for seal_data::HhSide {
    fn from(s: HhSideArg) -> Self {
        match s {
            HhSideArg::Chosen => Self::Chosen,
            HhSideArg::Rejected => Self::Rejected,
        }
    }
}

/// A mode of `seal bench select`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ModeArg {
    /// Plain SFT.
    Sft,
    /// Algorithm 2.
    Alg2,
    /// Algorithm 1.
    Alg1,
}

impl From<ModeArg> for seal_models::bench::SelectMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Sft => Self::Sft,
            ModeArg::Alg2 => Self::Alg2,
            ModeArg::Alg1 => Self::Alg1,
        }
    }
}

impl BenchShape {
    /// The shape without the config path.
    pub fn shape(&self) -> seal_cli::bench::select::Shape {
        seal_cli::bench::select::Shape {
            batch: self.batch,
            seq_len: self.seq_len,
            steps: self.steps,
        }
    }
}

/// The model and shape of a training-step benchmark (shared by `train-step` and `select`).
#[derive(Args, Debug)]
pub struct BenchShape {
    /// A Hugging Face config.json (e.g. ../shared/bench/bench-tiny.config.json).
    #[arg(long)]
    pub config: PathBuf,
    /// Rows per step (for `select`: fine-tuning rows, and as many safe rows).
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Tokens per row.
    #[arg(long, default_value_t = 256)]
    pub seq_len: usize,
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
}

#[derive(Args, Debug)]
pub struct BenchTrainArgs {
    #[command(flatten)]
    pub shape: BenchShape,
    /// Print `{"tokens_per_s": ..., "median_step_s": ...}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BenchGenerateArgs {
    /// A Hugging Face config.json (random weights) ...
    #[arg(long, conflicts_with = "model", required_unless_present = "model")]
    pub config: Option<PathBuf>,
    /// ... or a model folder.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Prompts per batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Prompt length in tokens.
    #[arg(long, default_value_t = 64)]
    pub prompt_len: usize,
    /// New tokens per prompt.
    #[arg(long, default_value_t = 64)]
    pub new_tokens: usize,
    /// Timed runs.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct FinetuneArgs {
    /// Starting model: a Hugging Face folder ...
    #[arg(long, required_unless_present_any = ["init_config", "spec"], conflicts_with = "init_config")]
    pub model: Option<PathBuf>,
    /// ... or a config.json to train from random weights (needs --tokenizer).
    #[arg(long, requires = "tokenizer")]
    pub init_config: Option<PathBuf>,
    /// Folder with tokenizer.json for --init-config.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Standard deviation of random initial weights (--init-config).
    #[arg(long, default_value_t = 0.02)]
    pub init_std: f64,
    /// D_ft: canonical records (.parquet or .jsonl).
    #[arg(long, required_unless_present = "spec")]
    pub data: Option<PathBuf>,
    /// A resolved spec (the `finetune.json` of a run folder) instead of the flags.
    #[arg(long, hide = true)]
    pub spec: Option<PathBuf>,
    /// D_safe (safety demonstrations), for dsir, safeinstr and seal+safeinstr.
    #[arg(long)]
    pub safe: Option<PathBuf>,
    /// What to train on: full, seal, random, dsir, safeinstr, seal+safeinstr, loss-rank.
    #[arg(long, default_value = "full")]
    pub method: String,
    /// scores.parquet of `seal select` (seal, seal+safeinstr).
    #[arg(long)]
    pub scores: Option<PathBuf>,
    /// Kept share p of D_ft for the selecting methods.
    #[arg(long, default_value_t = 0.8)]
    pub keep: f64,
    /// Output run folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Passes over the data.
    #[arg(long, default_value_t = 2)]
    pub epochs: u64,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-5)]
    pub lr: f64,
    /// Learning-rate schedule: `constant` or `cosine` (with warm-up).
    #[arg(long, default_value = "constant")]
    pub schedule: String,
    /// Warm-up share of all steps for `cosine`.
    #[arg(long, default_value_t = 0.03)]
    pub warmup_ratio: f64,
    /// Examples per optimizer step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Examples per forward/backward pass (gradients accumulate to --batch-size).
    #[arg(long, default_value_t = 8)]
    pub micro_batch_size: usize,
    /// Global gradient-norm clip.
    #[arg(long, default_value_t = 1.0)]
    pub clip_norm: f64,
    /// Longest training row in tokens; longer rows are left out and reported.
    #[arg(long, default_value_t = 512)]
    pub max_len: usize,
    /// Prompt template: `reference` (Human:/Assistant:) or `model` (the tokenizer's own).
    #[arg(long, value_enum, default_value_t = TemplateChoice::Reference)]
    pub template: TemplateChoice,
    /// Train LoRA adapters of this rank (else full parameters).
    #[arg(long)]
    pub lora_rank: Option<usize>,
    /// LoRA α.
    #[arg(long, default_value_t = 16.0)]
    pub lora_alpha: f32,
    /// LoRA target projections, comma-separated.
    #[arg(long, default_value = "q_proj,v_proj")]
    pub lora_targets: String,
    /// Compute device: `cpu`, or `cuda` in a build with the `cuda` feature.
    #[arg(long, default_value = "cpu", value_parser = Device::parse_built)]
    pub device: Device,
    /// Seed (data order, random baseline, initial weights).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct SelectArgs {
    /// The aligned model: a Hugging Face folder.
    #[arg(long, required_unless_present = "spec")]
    pub model: Option<PathBuf>,
    /// D_safe: canonical records (.parquet or .jsonl), the upper level.
    #[arg(long, required_unless_present = "spec")]
    pub safe: Option<PathBuf>,
    /// D_ft: canonical records, one selector logit each.
    #[arg(long, required_unless_present = "spec")]
    pub data: Option<PathBuf>,
    /// A resolved spec (the `select.json` of a run folder) instead of the flags; the ablation
    /// runner starts each selector stage this way, in a process of its own.
    #[arg(long, hide = true)]
    pub spec: Option<PathBuf>,
    /// Output run folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint (more --epochs may be given).
    #[arg(long)]
    pub resume: bool,
    /// A TOML file with `[bilevel]` (and optionally `model_adam`, `clip_norm`, `lora`,
    /// `max_len`, `keep`, `template`) settings; flags given on the command line win.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// `alg1` (auxiliary model θ̂) or `alg2` (one model, memory-efficient).
    #[arg(long, value_enum)]
    pub algo: Option<AlgorithmChoice>,
    /// Inner steps of θ̂ per outer step (alg1).
    #[arg(long)]
    pub inner_steps: Option<usize>,
    /// When alg1 measures θ̂'s losses: `before` its inner steps (default) or `after` them (one
    /// more forward, as V-PBGD).
    #[arg(long, value_enum)]
    pub aux_loss: Option<AuxLossArg>,
    /// Penalty schedule: reference, faster, constant:G, linear:START:STEP:MAX, ramp:START:END:STEPS.
    #[arg(long)]
    pub gamma: Option<seal_core::PenaltySchedule>,
    /// Selector weights: `softmax` (N·softmax, default) or `sigmoid` (2·sigmoid).
    #[arg(long, value_enum)]
    pub weights: Option<WeightsArg>,
    /// Softmax scope: `global` (default) or `batch`.
    #[arg(long, value_enum)]
    pub softmax_scope: Option<ScopeArg>,
    /// Selector optimizer: `adam` (default, lr 5e-3) or `sgd:LR`.
    #[arg(long)]
    pub selector_optimizer: Option<seal_core::SelectorOptimizer>,
    /// Selector learning rate (Adam).
    #[arg(long)]
    pub selector_lr: Option<f64>,
    /// Passes over D_ft.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Examples per optimizer step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Examples per forward/backward pass.
    #[arg(long)]
    pub micro_batch_size: Option<usize>,
    /// Model learning rate (Adam on θ and θ̂).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Kept share p marked in scores.parquet.
    #[arg(long)]
    pub keep: Option<f64>,
    /// Longest row in tokens.
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Prompt template: `reference` or `model`.
    #[arg(long, value_enum)]
    pub template: Option<TemplateChoice>,
    /// Train θ through LoRA adapters of this rank.
    #[arg(long)]
    pub lora_rank: Option<usize>,
    /// Compute device: `cpu`, or `cuda` in a build with the `cuda` feature.
    #[arg(long, default_value = "cpu", value_parser = Device::parse_built)]
    pub device: Device,
    /// Warm-start the logits from a selector.safetensors of the same data.
    #[arg(long)]
    pub init_selector: Option<PathBuf>,
    /// Seed of the batch order.
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Args, Debug)]
pub struct DpoArgs {
    /// The model folder to tune; it is also the reference of the loss.
    #[arg(long)]
    pub model: PathBuf,
    /// The pairs: JSONL with `prompt`, `chosen`, `rejected` per line (e.g. from `seal data pairs`).
    #[arg(long)]
    pub pairs: PathBuf,
    /// Output run folder: `model/`, `checkpoints/`, `metrics.json`, `metrics.jsonl`, `dpo.json`.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Passes over the pairs.
    #[arg(long, default_value_t = 1)]
    pub epochs: u64,
    /// Pairs per optimizer step.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Pairs per forward/backward pass (twice as many rows).
    #[arg(long, default_value_t = 4)]
    pub micro_batch_size: usize,
    /// Learning rate (Adam, constant).
    #[arg(long, default_value_t = 2e-6)]
    pub lr: f64,
    /// β: how strongly the loss holds the model to where it started.
    #[arg(long, default_value_t = 0.1)]
    pub beta: f64,
    /// Global gradient-norm clip.
    #[arg(long, default_value_t = 1.0)]
    pub clip_norm: f64,
    /// Longest answer in tokens, prompt included; pairs with a longer one are left out.
    #[arg(long, default_value_t = 512)]
    pub max_len: usize,
    /// Prompt template: `reference` (Human:/Assistant:) or `model` (the tokenizer's own).
    #[arg(long, value_enum, default_value_t = TemplateChoice::Reference)]
    pub template: TemplateChoice,
    /// Seed of the pair order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute device: `cpu`, or `cuda` in a build with the `cuda` feature.
    #[arg(long, default_value = "cpu", value_parser = Device::parse_built)]
    pub device: Device,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct JudgeArgs {
    #[command(subcommand)]
    pub command: Option<JudgeCommand>,
    /// The candidate's generations (JSONL generation records).
    #[arg(long, required = true)]
    pub candidate: Option<PathBuf>,
    /// The reference's generations on the same prompts (e.g. the `full` model's).
    #[arg(long, required = true)]
    pub reference: Option<PathBuf>,
    /// `reward:<dir>` (a LlamaForSequenceClassification folder, e.g. from `seal judge train`),
    /// `generative:<dir>` (an instruct model folder) or `http:<url>#model` with an `http://` or
    /// `https://` URL (an OpenAI-compatible server; verdicts cached in OUT/verdict-cache.jsonl).
    #[arg(long, required = true)]
    pub judge: Option<String>,
    /// HTTP judge: the environment variable holding its API key (sent as a Bearer token, never
    /// written anywhere). Default: OPENAI_API_KEY when set, else no key.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// HTTP judge: a PEM bundle of certificates to trust instead of Mozilla's roots.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// HTTP judge: deadline of one request, seconds.
    #[arg(long, value_name = "S")]
    pub timeout_s: Option<f64>,
    /// Output folder: winrates.csv, .json, .md, .svg, .png and verdicts.jsonl.
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Bootstrap resamples over prompts.
    #[arg(long, default_value_t = 1000)]
    pub resamples: usize,
    /// Comparisons per judge call.
    #[arg(long, default_value_t = 16, value_parser = at_least_one())]
    pub batch_size: usize,
}

#[derive(Subcommand, Debug)]
pub enum JudgeCommand {
    /// Fit a reward model (Llama backbone + scalar head) on preference pairs with the
    /// Bradley-Terry loss and save it as a HF LlamaForSequenceClassification folder.
    Train(JudgeTrainArgs),
    /// Measure the refusal detector behind every refusal rate on outputs of known kind: its
    /// precision and recall (a refusal is the positive class), and the ids it gets wrong.
    Refusals(JudgeRefusalsArgs),
}

#[derive(Args, Debug)]
pub struct JudgeRefusalsArgs {
    /// Canonical records whose responses refuse (e.g. `recipes/refusal-check-refusals.toml`).
    #[arg(long)]
    pub refusals: PathBuf,
    /// Canonical records whose responses answer (e.g. `recipes/refusal-check-compliances.toml`).
    #[arg(long)]
    pub compliances: PathBuf,
    /// Also write the check as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct JudgeTrainArgs {
    /// Preference pairs (JSONL with prompt, chosen, rejected).
    #[arg(long)]
    pub pairs: PathBuf,
    /// tokenizer.json, or a folder holding it (for a random backbone).
    #[arg(long, required_unless_present = "backbone")]
    pub tokenizer: Option<PathBuf>,
    /// Start from a pretrained causal LM folder instead of random weights.
    #[arg(long, conflicts_with = "tokenizer")]
    pub backbone: Option<PathBuf>,
    /// Output model folder (config.json, model.safetensors, tokenizer.json, train_report.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Hidden size of a random backbone.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Decoder layers of a random backbone.
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    /// Attention heads of a random backbone.
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Passes over the pairs.
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    /// Pairs per Adam step.
    #[arg(long, default_value_t = 16, value_parser = at_least_one())]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Longest sequence in tokens (longer ones keep their end).
    #[arg(long, default_value_t = 256)]
    pub max_len: usize,
    /// Keep the last N pairs out of training and report the accuracy on them.
    #[arg(long, default_value_t = 0, conflicts_with = "held_out")]
    pub holdout: usize,
    /// Held-out preference pairs (a file of their own, e.g. another hash split): train on all of
    /// --pairs and report the accuracy on these.
    #[arg(long)]
    pub held_out: Option<PathBuf>,
    /// Seed (initial weights, pair order).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Output run folder.
    #[arg(long, default_value = "seal-demo")]
    pub out: PathBuf,
    /// A small slice of the world (two short epochs per stage, short answers), for tests.
    #[arg(long)]
    pub quick: bool,
    /// Add the selector-option runs (SGD vs Adam on ω, batch vs global softmax, for both
    /// algorithms; scored only) to the default plan: about four more selector runs.
    #[arg(long, conflicts_with = "quick")]
    pub with_options: bool,
    /// Only the judge-free diagnostics, over seeds 0-2: both algorithms under each selector
    /// option, `loss-rank`, `dsir` and `random` rank D_ft; nothing is fine-tuned or judged
    /// (19 selector runs, about half an hour on two cores).
    #[arg(long, conflicts_with_all = ["quick", "with_options"])]
    pub diagnostics: bool,
    /// Continue (or reuse) a run already in --out.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Args, Debug)]
pub struct AblateArgs {
    /// The plan (TOML); relative paths in it are read from its folder.
    #[arg(long)]
    pub plan: PathBuf,
    /// Output run folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue (or reuse) a run already in --out: finished stages are reused, interrupted
    /// ones continue from their checkpoints.
    #[arg(long)]
    pub resume: bool,
}

/// A count that must be at least 1 (a batch of zero would loop or divide by zero later).
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

/// `--aux-loss` of `seal select`: when Algorithm 1 measures θ̂'s losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuxLossArg {
    /// Before θ̂'s inner steps.
    Before,
    /// After them (one more forward).
    After,
}

impl From<AuxLossArg> for seal_core::AuxLoss {
    fn from(arg: AuxLossArg) -> Self {
        match arg {
            AuxLossArg::Before => Self::Before,
            AuxLossArg::After => Self::After,
        }
    }
}

/// `--weights` of `seal select`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightsArg {
    /// N·softmax(ω).
    Softmax,
    /// 2·sigmoid(ω).
    Sigmoid,
}

impl From<WeightsArg> for seal_core::WeightKind {
    fn from(arg: WeightsArg) -> Self {
        match arg {
            WeightsArg::Softmax => Self::Softmax,
            WeightsArg::Sigmoid => Self::Sigmoid,
        }
    }
}

/// `--softmax-scope` of `seal select`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    /// Over the whole dataset.
    Global,
    /// Over each batch.
    Batch,
}

impl From<ScopeArg> for seal_core::SoftmaxScope {
    fn from(arg: ScopeArg) -> Self {
        match arg {
            ScopeArg::Global => Self::Global,
            ScopeArg::Batch => Self::Batch,
        }
    }
}
