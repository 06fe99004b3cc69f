//! Judges: a model that reads a prompt and two answers and says how likely the first is the
//! better one (DESIGN section 6). Every judge is a real model: a reward model
//! ([`RewardJudge`]) or an instruct model asked to compare ([`GenerativeJudge`]).

pub mod generative;
pub mod http;
pub mod reward;

use std::path::{Path, PathBuf};

use seal_models::backend::{Cpu, cpu_device, host_f32};

pub use generative::{GenerativeJudge, GenerativeSettings};
pub use http::{HttpJudge, HttpSettings};
pub use reward::{
    PreferencePair, RewardArch, RewardEpochReport, RewardInit, RewardJudge, RewardModel, RewardTrainReport,
    RewardTrainSettings, pair_accuracy, read_preferences, train_reward_judge, train_reward_judge_with,
};

use crate::error::{EvalError, Result};

/// One comparison: a prompt and two answers, A shown first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairItem {
    /// The user's request, without any template.
    pub prompt: String,
    /// The answer shown first.
    pub answer_a: String,
    /// The answer shown second.
    pub answer_b: String,
}

/// A pairwise judge.
pub trait Judge {
    /// A short name for reports (`reward:<dir>`, ...).
    fn name(&self) -> String;

    /// P(A is better than B) in [0, 1] for every item, in order.
    ///
    /// # Errors
    /// Model or tokenizer failures.
    fn prefer(&mut self, items: &[PairItem]) -> Result<Vec<f64>>;
}

/// Which judge to load, as the command line spells it: `reward:<dir>`, `generative:<dir>` or
/// `http:<base url>#<model>`.
#[derive(Debug, Clone, PartialEq)]
pub enum JudgeSpec {
    /// A `LlamaForSequenceClassification` folder with one label.
    Reward(PathBuf),
    /// An instruct model folder with a chat template.
    Generative(PathBuf),
    /// An OpenAI-compatible endpoint, `http:<base url>#<model>` (`http://` or `https://`), with
    /// its key variable, trusted certificates, timeouts and retries.
    Http(Box<HttpSettings>),
}

impl std::str::FromStr for JudgeSpec {
    type Err = EvalError;

    fn from_str(s: &str) -> Result<Self> {
        match s.split_once(':') {
            Some(("reward", dir)) if !dir.is_empty() => Ok(Self::Reward(dir.into())),
            Some(("generative", dir)) if !dir.is_empty() => Ok(Self::Generative(dir.into())),
            Some(("http", rest)) => match rest.split_once('#') {
                Some((base_url, model)) if !base_url.is_empty() && !model.is_empty() => {
                    Ok(Self::Http(Box::new(HttpSettings {
                        base_url: base_url.into(),
                        model: model.into(),
                        ..HttpSettings::default()
                    })))
                }
                _ => Err(EvalError::invalid(
                    "judge spec",
                    format!("`{s}` is not `http:http(s)://host[:port][/prefix]#model`"),
                )),
            },
            _ => Err(EvalError::invalid(
                "judge spec",
                format!("`{s}` is not `reward:<dir>`, `generative:<dir>` or `http:<url>#<model>`"),
            )),
        }
    }
}

/// Loads the judge `spec` names on the CPU backend (an HTTP judge without a verdict cache).
///
/// # Errors
/// Missing or malformed model folders; a reward folder that is not a classifier.
pub fn load_judge(spec: &JudgeSpec) -> Result<Box<dyn Judge>> {
    load_judge_cached(spec, None)
}

/// [`load_judge`], with an HTTP judge keeping its verdicts in the JSON Lines file `cache` (model
/// judges are cheap to rerun locally and keep none).
///
/// # Errors
/// As [`load_judge`]; an unreadable cache file.
pub fn load_judge_cached(spec: &JudgeSpec, cache: Option<&Path>) -> Result<Box<dyn Judge>> {
    let device = cpu_device();
    Ok(match spec {
        JudgeSpec::Reward(dir) => Box::new(RewardJudge::<Cpu>::load(dir, &device)?),
        JudgeSpec::Generative(dir) => Box::new(GenerativeJudge::<Cpu>::load(
            dir,
            GenerativeSettings::default(),
            &device,
        )?),
        JudgeSpec::Http(settings) => Box::new(HttpJudge::new(HttpSettings {
            cache: cache.map(Path::to_path_buf),
            ..(**settings).clone()
        })?),
    })
}

/// Runs `judge` over `items` in chunks of `batch_size`, checking it answers every item with a
/// probability.
///
/// # Errors
/// The judge's own errors; [`EvalError::JudgeOutput`] if it returns the wrong count,
/// [`EvalError::BadPreference`] for a value outside [0, 1].
pub fn prefer_batched(judge: &mut dyn Judge, items: &[PairItem], batch_size: usize) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(batch_size.max(1)) {
        let got = judge.prefer(chunk)?;
        if got.len() != chunk.len() {
            return Err(EvalError::JudgeOutput {
                judge: judge.name(),
                want: chunk.len(),
                got: got.len(),
            });
        }
        if let Some((i, &value)) = got.iter().enumerate().find(|(_, p)| !(0.0..=1.0).contains(*p)) {
            return Err(EvalError::BadPreference {
                prompt_id: format!("{} of this batch", out.len() + i),
                value,
            });
        }
        out.extend(got);
    }
    Ok(out)
}

pub(crate) fn folder_name(dir: &Path) -> String {
    dir.display().to_string()
}
