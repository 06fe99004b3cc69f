//! The one error type of seal-eval.

use std::path::PathBuf;

/// Everything that can go wrong while reading outputs, judging them or writing reports.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON Lines row is malformed or lacks a field.
    #[error("{path}:{line}: invalid record")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The underlying error (names the field).
        source: serde_json::Error,
    },
    /// A JSON Lines row has a field with a value out of its domain.
    #[error("{path}:{line}: field `{field}`: {reason}")]
    Field {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A file holds no record.
    #[error("{path} holds no records")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The same (set, prompt id) appears twice in one file.
    #[error("{path}:{line}: prompt `{prompt_id}` of set `{set}` appears twice")]
    DuplicatePrompt {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the second occurrence.
        line: usize,
        /// The set.
        set: String,
        /// The prompt id.
        prompt_id: String,
    },
    /// Candidate and reference outputs do not cover the same prompts.
    #[error(
        "candidate and reference prompts differ: only in candidate: [{}]; only in reference: [{}]",
        only_candidate.join(", "),
        only_reference.join(", ")
    )]
    PromptMismatch {
        /// `set/prompt_id` keys found only in the candidate file (at most a handful).
        only_candidate: Vec<String>,
        /// `set/prompt_id` keys found only in the reference file (at most a handful).
        only_reference: Vec<String>,
    },
    /// Candidate and reference give a different prompt text under the same id.
    #[error("prompt `{prompt_id}` of set `{set}` has different text in candidate and reference")]
    PromptTextMismatch {
        /// The set.
        set: String,
        /// The prompt id.
        prompt_id: String,
    },
    /// A prompt lacks the verdict of one of its two orders.
    #[error("prompt `{prompt_id}` of set `{set}` has no verdict with the {order} first")]
    MissingOrder {
        /// The set.
        set: String,
        /// The prompt id.
        prompt_id: String,
        /// `candidate` or `reference`.
        order: &'static str,
    },
    /// A preference outside [0, 1] (or NaN).
    #[error("preference {value} for prompt `{prompt_id}` is outside [0, 1]")]
    BadPreference {
        /// The prompt id.
        prompt_id: String,
        /// The value.
        value: f64,
    },
    /// A model folder is not a single-score sequence classifier.
    #[error("{dir} is not a reward model (LlamaForSequenceClassification with num_labels 1): {reason}")]
    NotClassifier {
        /// The folder.
        dir: PathBuf,
        /// What is missing or different.
        reason: String,
    },
    /// A judge specification, setting or input is invalid.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was invalid (`judge spec`, `settings.epochs`, ...).
        what: String,
        /// Why.
        reason: String,
    },
    /// The judge returned a different number of preferences than it was given pairs.
    #[error("judge `{judge}` returned {got} preferences for {want} pairs")]
    JudgeOutput {
        /// The judge.
        judge: String,
        /// Pairs given.
        want: usize,
        /// Preferences returned.
        got: usize,
    },
    /// An HTTP judge gave up on a comparison.
    #[error("judge endpoint {url} failed after {attempts} attempts: {reason}")]
    Http {
        /// The endpoint.
        url: String,
        /// Attempts made.
        attempts: usize,
        /// The last failure.
        reason: String,
    },
    /// Training diverged.
    #[error("non-finite loss at epoch {epoch}, step {step}")]
    NonFiniteLoss {
        /// Epoch (from 0).
        epoch: usize,
        /// Step within the epoch (from 0).
        step: usize,
    },
    /// A model error from seal-models.
    #[error(transparent)]
    Model(#[from] seal_models::ModelError),
    /// A tokenizer or chat-template error from seal-data.
    #[error(transparent)]
    Text(#[from] seal_data::TextError),
    /// A chart could not be drawn.
    #[error("cannot draw the chart: {0}")]
    Plot(String),
    /// PNG encoding failed.
    #[error("cannot encode {path}")]
    Png {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: png::EncodingError,
    },
}

/// Result alias of seal-eval.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;

impl EvalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

impl From<seal_io::IoError> for EvalError {
    fn from(e: seal_io::IoError) -> Self {
        Self::Io {
            path: e.path,
            source: e.source,
        }
    }
}
