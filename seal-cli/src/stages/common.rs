//! What every training stage shares: where the model comes from, how records become token
//! rows, and the run folder's bookkeeping (resolved config, metrics, atomic writes).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use seal_data::{
    ChatTemplate, Example, TextTokenizer, TokenizeOptions, Tokenized, read_examples, tokenize_examples,
};
use seal_models::backend::Backend;
use seal_models::llama::config::LlamaConfig;
use seal_models::{HfLlamaConfig, Llama, init_random, load_llama};
use serde::{Deserialize, Serialize};

/// Where a stage's starting model comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSource {
    /// A Hugging Face model folder (config.json, safetensors, tokenizer.json).
    Folder {
        /// The folder.
        path: PathBuf,
    },
    /// A fresh model: random weights (normal, std `init_std`, seeded) for a config.json, with
    /// the tokenizer of `tokenizer` (a folder holding tokenizer.json).
    Scratch {
        /// The config.json.
        config: PathBuf,
        /// Folder with tokenizer.json (and tokenizer_config.json).
        tokenizer: PathBuf,
        /// Standard deviation of the initial weights.
        init_std: f64,
    },
}

impl ModelSource {
    /// The folder holding the tokenizer.
    pub fn tokenizer_dir(&self) -> &Path {
        match self {
            Self::Folder { path } => path,
            Self::Scratch { tokenizer, .. } => tokenizer,
        }
    }

    /// Loads (or initialises, seeded with `seed`) the model with its config.
    pub fn load<B: Backend>(
        &self,
        seed: u64,
        device: &B::Device,
    ) -> anyhow::Result<(Llama<B>, HfLlamaConfig)> {
        match self {
            Self::Folder { path } => {
                let loaded = load_llama::<B>(path, device)
                    .with_context(|| format!("loading model {}", path.display()))?;
                Ok((loaded.model, loaded.hf_config))
            }
            Self::Scratch { config, init_std, .. } => {
                let (llama_config, hf) = LlamaConfig::from_file(config)?;
                seal_models::backend::seed::<B>(device, seed);
                Ok((init_random::<B>(&llama_config, *init_std, device), hf))
            }
        }
    }

    /// Checks that the files exist and the config parses as a supported model, before any
    /// expensive work (and before the tokenizer, which reads config.json too and would report a
    /// broken one as a tokenizer problem).
    pub fn check(&self) -> anyhow::Result<()> {
        let config = match self {
            Self::Folder { path } => path.join("config.json"),
            Self::Scratch {
                config, tokenizer, ..
            } => {
                require_file(&tokenizer.join("tokenizer.json"))?;
                config.clone()
            }
        };
        require_file(&config)?;
        LlamaConfig::from_file(&config).with_context(|| format!("model config {}", config.display()))?;
        Ok(())
    }
}

/// How prompts are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum TemplateChoice {
    /// `Human: {prompt}\nAssistant: ` (DESIGN section 5).
    #[default]
    Reference,
    /// The tokenizer's own chat template.
    Model,
}

impl TemplateChoice {
    /// The template for `tokenizer`.
    pub fn resolve(self, tokenizer: &TextTokenizer) -> anyhow::Result<ChatTemplate> {
        Ok(match self {
            Self::Reference => ChatTemplate::Reference,
            Self::Model => tokenizer.model_template()?,
        })
    }
}

/// A file that must exist, with an error naming it.
pub fn require_file(path: &Path) -> anyhow::Result<()> {
    if !path.is_file() {
        bail!("{} does not exist (or is not a file)", path.display());
    }
    Ok(())
}

/// Reads a canonical record file (`.parquet` or `.jsonl`).
pub fn read_records(path: &Path) -> anyhow::Result<Vec<Example>> {
    let records = read_examples(path).with_context(|| format!("reading {}", path.display()))?;
    if records.is_empty() {
        bail!("{} holds no records", path.display());
    }
    Ok(records)
}

/// Tokenizes training records, logging what the length filter dropped.
pub fn tokenize(
    records: &[Example],
    tokenizer: &TextTokenizer,
    template: &ChatTemplate,
    max_len: usize,
    what: &str,
) -> anyhow::Result<Tokenized> {
    let options = TokenizeOptions {
        template: template.clone(),
        max_len,
        threads: 0,
    };
    let tokenized =
        tokenize_examples(records, tokenizer, &options).with_context(|| format!("tokenizing {what}"))?;
    if !tokenized.dropped.is_empty() {
        tracing::warn!(
            dropped = tokenized.dropped.len(),
            kept = tokenized.rows.len(),
            first = %tokenized.dropped[0].id,
            "{what}: rows over {max_len} tokens left out"
        );
    }
    if tokenized.rows.is_empty() {
        bail!("{what}: every row is longer than {max_len} tokens");
    }
    Ok(tokenized)
}

/// Writes pretty JSON atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let value = serde_json::to_value(value).context("serialising JSON")?;
    seal_io::write_json_atomic(path, &value)?;
    Ok(())
}

/// Copies the tokenizer files of `from` into the model folder `to`.
pub fn copy_tokenizer(from: &Path, to: &Path) -> anyhow::Result<()> {
    for name in [
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "generation_config.json",
    ] {
        let src = from.join(name);
        if src.is_file() {
            let bytes = std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
            seal_io::write_atomic(&to.join(name), &bytes)?;
        }
    }
    Ok(())
}

/// Peak resident memory of this process so far, in bytes (0 where unknown).
pub fn peak_rss() -> u64 {
    seal_models::backend::peak_rss_bytes().unwrap_or(0)
}

/// Reads a stage spec written as JSON (a run folder's `select.json` / `finetune.json`).
pub fn read_spec<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Checks that `out` may take this run, writing nothing: a folder that already holds a run is
/// refused unless `resume` is set, and then its recorded spec must be `same` as this one
/// (`what` names the stage in errors). Call it first; [`record_run_spec`] once the inputs have
/// loaded, so a run that fails on its inputs leaves `--out` as it was.
pub fn check_run_dir<T>(
    out: &Path,
    spec_path: &Path,
    spec: &T,
    resume: bool,
    what: &str,
    same: impl Fn(&T, &T) -> bool,
) -> anyhow::Result<()>
where
    T: Serialize + serde::de::DeserializeOwned,
{
    if spec_path.exists() {
        if !resume {
            bail!(
                "{} already holds a {what} run: pass --resume to continue it, or choose another --out",
                out.display()
            );
        }
        let old: T = read_spec(spec_path)?;
        if !same(&old, spec) {
            bail!(
                "cannot resume {}: it was started with other settings (see {})",
                out.display(),
                spec_path.display()
            );
        }
    }
    Ok(())
}

/// Holds `OUT/.seal-lock` for the life of a run, so a second seal process on the same folder
/// (`seal ablate`, `select` or `finetune`) is refused with the holder's pid instead of doing
/// all the work again beside the first. The operating system releases the lock with the
/// process: a killed run leaves none behind.
pub fn lock_run_folder(out: &Path) -> anyhow::Result<std::fs::File> {
    use std::io::Write as _;
    let path = out.join(".seal-lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            bail!(
                "{} is in use by another seal process (pid {}): wait for it to finish, or choose another --out",
                out.display(),
                holder.trim()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    file.set_len(0)?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

/// Creates the run folder `out` and records `spec` in `spec_path` (after [`check_run_dir`]).
pub fn record_run_spec<T: Serialize>(out: &Path, spec_path: &Path, spec: &T) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write_json(spec_path, spec)
}

/// Builds a folder at `dir` atomically: into a staging folder beside it, renamed into place.
pub fn write_folder(dir: &Path, build: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let staging = PathBuf::from(format!("{}.partial", dir.display()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging)?;
    build(&staging)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(&staging, dir).with_context(|| format!("moving {} into place", dir.display()))?;
    Ok(())
}
