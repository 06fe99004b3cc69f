//! The command line: clap definitions only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "seal",
    version,
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
    /// Datasets: import source files into canonical records, inspect a record file.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Import source files (Alpaca, HH-RLHF, ShareGPT, OpenAI, PyRIT, AdvBench, CatQA,
    /// StrongREJECT, HarmBench, XSTest, MT-Bench, SafeInstr, canonical, generic) into one
    /// canonical Parquet (or .jsonl) file.
    Import(Box<DataImportArgs>),
    /// Counts by source, label, category and split; a token-length histogram with --tokenizer.
    Inspect(DataInspectArgs),
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
    pub format: Option<String>,
    /// Source name for every record (default: each file's stem).
    #[arg(long)]
    pub source: Option<String>,
    /// Label every record `benign`, `harmful` or `unknown`, overriding the format's own.
    #[arg(long)]
    pub label: Option<String>,
    /// HH-RLHF: which side is the response, `chosen` or `rejected`.
    #[arg(long, default_value = "chosen")]
    pub hh_side: String,
    /// Leave bad rows out (into the rejects file) instead of failing on the first one.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Where rejected rows go (default: OUT with `.rejects.jsonl`).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
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
    #[arg(long, required = true)]
    pub prompt: Vec<String>,
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
}

#[derive(Args, Debug)]
pub struct BenchSelectArgs {
    #[command(flatten)]
    pub shape: BenchShape,
    /// Time one mode in this process (`sft`, `alg2`, `alg1`); by default every mode runs in a
    /// child process of its own so that peak memory is per mode.
    #[arg(long)]
    pub mode: Option<String>,
    /// Print JSON: `{"sft": {...}, "alg2": {...}, "alg1": {...}}`, each with `median_step_s`
    /// and `peak_bytes`.
    #[arg(long)]
    pub json: bool,
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
