//! The one error type of seal-core.

use crate::ids::ExampleId;

/// Everything that can go wrong in schedules, the selector, its optimizer and selection.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A CLI spelling of a penalty schedule did not parse.
    #[error("cannot parse penalty schedule `{text}`: {reason}; expected one of {expected}")]
    ParseSchedule {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: String,
        /// The spellings there are (`SCHEDULE_FORMS`).
        expected: &'static str,
    },
    /// A penalty schedule parameter is out of range.
    #[error("invalid penalty schedule {schedule}: `{field}` {reason}")]
    ScheduleParam {
        /// The schedule, in its CLI spelling.
        schedule: String,
        /// The offending parameter.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A λ-defined schedule reaches λ ≤ 0 within the planned epochs.
    #[error(
        "penalty schedule {schedule} reaches λ = {lambda} ≤ 0 at epoch {epoch}; plan at most {epoch} epochs or choose another schedule"
    )]
    ScheduleLambda {
        /// The schedule, in its CLI spelling.
        schedule: String,
        /// The first epoch (0-based) with λ ≤ 0.
        epoch: u64,
        /// λ there.
        lambda: f64,
    },
    /// A schedule yields a negative or NaN γ within the planned epochs.
    #[error("penalty schedule {schedule} gives γ = {gamma} at epoch {epoch}; γ must be ≥ 0")]
    ScheduleGamma {
        /// The schedule, in its CLI spelling.
        schedule: String,
        /// The epoch (0-based).
        epoch: u64,
        /// γ there.
        gamma: f64,
    },
    /// An example id appears twice.
    #[error("duplicate example id `{id}`")]
    DuplicateId {
        /// The repeated id.
        id: ExampleId,
    },
    /// An example id the selector does not know.
    #[error("unknown example id `{id}`")]
    UnknownId {
        /// The id.
        id: ExampleId,
    },
    /// An example index past the end of the selector.
    #[error("example index {index} out of range for {len} examples")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// The number of examples.
        len: usize,
    },
    /// Two inputs that go together differ in length.
    #[error("expected {expected} {what}, found {found}")]
    LengthMismatch {
        /// What was counted.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        found: usize,
    },
    /// The selector objective was asked for on an empty batch.
    #[error("selector objective needs a non-empty batch")]
    EmptyBatch,
    /// A per-example coefficient (a loss or loss difference) is NaN or infinite.
    #[error("selector coefficient of example `{id}` is not finite")]
    NonFiniteCoefficient {
        /// The example.
        id: ExampleId,
    },
    /// A selector gradient is NaN or infinite.
    #[error("selector gradient is not finite at index {index}")]
    NonFiniteGradient {
        /// The first offending logit index.
        index: usize,
    },
    /// A selector optimizer setting is out of range.
    #[error("invalid selector optimizer: `{field}` = {value} {reason}")]
    OptimizerParam {
        /// The setting.
        field: &'static str,
        /// Its value.
        value: f64,
        /// The allowed range.
        reason: &'static str,
    },
    /// The keep fraction of top-p% selection is not in (0, 1].
    #[error("keep fraction p = {p} must be in (0, 1]")]
    KeepFraction {
        /// The fraction given.
        p: f64,
    },
    /// A selector logit is NaN, so it cannot be ranked.
    #[error("logit of example `{id}` is NaN")]
    NanLogit {
        /// The example.
        id: ExampleId,
    },
    /// A score passed to [`auroc`](crate::auroc) is NaN.
    #[error("score at index {index} is NaN")]
    NanScore {
        /// Its index.
        index: usize,
    },
    /// AUROC needs at least one positive and one negative.
    #[error("auroc needs both classes, found {positives} positives and {negatives} negatives")]
    AurocOneClass {
        /// Number of positives.
        positives: usize,
        /// Number of negatives.
        negatives: usize,
    },
    /// A bilevel training setting is out of range.
    #[error("invalid bilevel setting `{field}`: {reason}")]
    BilevelParam {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A dataset the bilevel loop or a selection method needs has no examples.
    #[error("the {set} dataset is empty")]
    EmptyDataset {
        /// `"safe"`, `"fine-tuning"` or `"safety-demonstration"`.
        set: &'static str,
    },
    /// A saved [`BilevelState`](crate::BilevelState) does not fit the run it is resumed into.
    #[error("cannot resume bilevel training: {what}")]
    StateMismatch {
        /// What differs.
        what: &'static str,
    },
    /// All planned epochs have run.
    #[error("all {epochs} planned epochs have run")]
    NoEpochLeft {
        /// The planned number of epochs.
        epochs: u64,
    },
    /// The model behind [`BilevelModel`](crate::BilevelModel) failed.
    #[error("{op} failed at epoch {epoch}, step {step}")]
    Model {
        /// What was asked of it, e.g. `"forward of the main model"`.
        op: &'static str,
        /// The epoch (0-based).
        epoch: u64,
        /// The global optimizer step (0-based, counted across epochs).
        step: u64,
        /// The model's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A model returned a NaN or infinite per-example loss. The run stops: the caller resumes
    /// from its last good checkpoint.
    #[error(
        "non-finite {set} loss of example index {index} from the {model} model at epoch {epoch}, step {step}"
    )]
    NonFiniteLoss {
        /// `"main"` (θ) or `"auxiliary"` (θ̂ of Algorithm 1).
        model: &'static str,
        /// `"safe"` or `"fine-tuning"`.
        set: &'static str,
        /// The example's index in that dataset.
        index: usize,
        /// The epoch (0-based).
        epoch: u64,
        /// The global optimizer step (0-based, counted across epochs).
        step: u64,
    },
    /// A CLI or TOML spelling of a selection method did not parse.
    #[error("unknown selection method `{text}`; expected one of {expected}")]
    UnknownMethod {
        /// The text as given.
        text: String,
        /// The names there are (`METHOD_NAMES`).
        expected: &'static str,
    },
    /// A per-example score of a selection method (a loss, a weight) is NaN or infinite.
    #[error("{what} of example `{id}` is not finite")]
    NonFiniteScore {
        /// What the score is, e.g. `"loss"`.
        what: &'static str,
        /// The example.
        id: ExampleId,
    },
    /// Top-p% keeps ⌊p·N⌋ = 0 examples: nothing to fine-tune on.
    #[error("keeping p = {p} of {n} examples selects none; raise p or supply more examples")]
    EmptySelection {
        /// The keep fraction.
        p: f64,
        /// The number of candidates.
        n: usize,
    },
    /// A selection baseline's setting is out of range.
    #[error("invalid selection baseline setting `{field}`: {reason}")]
    BaselineParam {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// `Result` with [`CoreError`] as the default error.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
