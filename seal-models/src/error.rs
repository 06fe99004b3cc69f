//! The one error type of seal-models.

use std::path::PathBuf;

/// Everything that can go wrong while reading, building, running or writing a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON file (config, index, tokenizer config) is malformed.
    #[error("cannot parse {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A config field is missing, out of range or inconsistent with another.
    #[error("invalid model config {path}: field `{field}`: {reason}")]
    Config {
        /// The config file (or a description of where the config came from).
        path: PathBuf,
        /// The offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A safetensors file is truncated or malformed.
    #[error("cannot read safetensors file {path}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: safetensors::SafeTensorError,
    },
    /// A tensor has a dtype seal cannot read.
    #[error("tensor `{name}` in {path} has unsupported dtype {dtype}")]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// The dtype as the file names it.
        dtype: String,
    },
    /// A tensor the architecture needs is not in the checkpoint.
    #[error("missing tensor `{name}`")]
    MissingTensor {
        /// The tensor.
        name: String,
    },
    /// The checkpoint holds tensors the architecture does not use.
    #[error("unexpected tensors in checkpoint: {}", names.join(", "))]
    UnexpectedTensors {
        /// The unused tensors (at most a handful are listed).
        names: Vec<String>,
    },
    /// The same tensor appears twice (e.g. in two shards).
    #[error("tensor `{name}` appears twice")]
    DuplicateTensor {
        /// The tensor.
        name: String,
    },
    /// A tensor's shape differs from what the config implies.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    TensorShape {
        /// The tensor.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape in the checkpoint.
        found: Vec<usize>,
    },
    /// A GGUF file is malformed or uses something seal cannot read.
    #[error("invalid GGUF file {path}: {reason}")]
    Gguf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A model folder lacks a file seal needs.
    #[error("model folder {dir} has no {file}")]
    MissingFile {
        /// The folder.
        dir: PathBuf,
        /// The missing file name(s).
        file: String,
    },
    /// A training checkpoint is unreadable or does not fit the run.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Training produced a NaN or infinite loss.
    #[error("non-finite loss {loss} at epoch {epoch}, step {step}")]
    NonFiniteLoss {
        /// The loss.
        loss: f32,
        /// The epoch (from 0).
        epoch: u64,
        /// The step within the epoch (from 0).
        step: u64,
    },
    /// A batch a model call cannot take: empty, inconsistent sizes, a token id out of the
    /// vocabulary, a position past the context, an index outside the dataset.
    #[error("invalid batch: {0}")]
    Batch(String),
    /// A setting out of its range (LoRA, sampling, fine-tuning), naming the setting.
    #[error("invalid setting: {0}")]
    Setting(String),
    /// Fine-tuning data that cannot be trained on (empty, or a row without a response token).
    #[error("invalid training data: {0}")]
    TrainingData(String),
    /// `run_epoch` after every planned epoch has run.
    #[error("all {epochs} epochs have run already")]
    Finished {
        /// The planned epochs.
        epochs: u64,
    },
    /// `save_adapter` on a model without a LoRA adapter.
    #[error("the model has no LoRA adapter to save")]
    NoAdapter,
    /// An output folder an import will not write into (it exists, is a file, or holds foreign files).
    #[error("{0}")]
    OutputFolder(String),
}

/// Result alias of seal-models.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<seal_io::IoError> for ModelError {
    fn from(e: seal_io::IoError) -> Self {
        Self::Io {
            path: e.path,
            source: e.source,
        }
    }
}
