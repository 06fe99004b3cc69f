//! Training a reward-model judge (`seal judge train`): preference pairs in; a
//! `LlamaForSequenceClassification` folder with `train_report.json` (the pairs, the held-out
//! accuracy, the seed and settings) out. The held-out pairs are never trained on: either the
//! last `n` of the pairs file or a file of their own (for example the other side of a hash split).

use std::path::PathBuf;

use anyhow::{Context, bail};
use seal_core::Observer;
use seal_eval::{
    RewardEpochReport, RewardInit, RewardTrainReport, RewardTrainSettings, pair_accuracy, read_preferences,
};
use seal_models::TrainStep;

/// Where the held-out pairs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum HeldOut {
    /// The last `n` pairs of the training file (0: none).
    LastOf(usize),
    /// A pairs file of their own.
    File(PathBuf),
}

/// One reward-model training run.
#[derive(Debug, Clone)]
pub struct RewardJob {
    /// Preference pairs (JSONL).
    pub pairs: PathBuf,
    /// The held-out pairs.
    pub held_out: HeldOut,
    /// The backbone: a model folder or a random architecture.
    pub init: RewardInit,
    /// Epochs, batch, Adam, max length.
    pub settings: RewardTrainSettings,
    /// Seed of the pair order and the head's initialisation.
    pub seed: u64,
    /// Output folder.
    pub out: PathBuf,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct RewardOutcome {
    /// Pairs trained on.
    pub train_pairs: usize,
    /// Pairs held out.
    pub held_out_pairs: usize,
    /// Share of held-out pairs ranked correctly (`None` without any).
    pub held_out_accuracy: Option<f64>,
    /// Per-epoch loss and train accuracy.
    pub report: RewardTrainReport,
}

/// Trains, measures the held-out accuracy, and saves the judge and its `train_report.json` to
/// `job.out`; `observer` sees every optimizer step and epoch.
pub fn train(
    job: &RewardJob,
    observer: &mut dyn Observer<TrainStep, RewardEpochReport>,
) -> anyhow::Result<RewardOutcome> {
    let read = |path: &PathBuf| read_preferences(path).with_context(|| format!("reading {}", path.display()));
    let pairs = read(&job.pairs)?;
    let held_file;
    let (train, held_out) = match &job.held_out {
        HeldOut::LastOf(n) => {
            if *n >= pairs.len() {
                bail!("--holdout {n} leaves no training pairs out of {}", pairs.len());
            }
            pairs.split_at(pairs.len() - n)
        }
        HeldOut::File(path) => {
            held_file = read(path)?;
            (&pairs[..], &held_file[..])
        }
    };
    let (judge, report) =
        seal_eval::train_reward_judge_with(train, &job.init, &job.settings, job.seed, observer)
            .context("training the reward model")?;
    let held_out_accuracy = if held_out.is_empty() {
        None
    } else {
        Some(pair_accuracy(&judge, held_out)?)
    };
    judge
        .save(&job.out)
        .with_context(|| format!("saving the reward model to {}", job.out.display()))?;
    let held_out_file = match &job.held_out {
        HeldOut::File(path) => Some(path),
        HeldOut::LastOf(_) => None,
    };
    let summary = serde_json::json!({
        "pairs": job.pairs,
        "held_out_file": held_out_file,
        "train_pairs": train.len(),
        "held_out_pairs": held_out.len(),
        "held_out_accuracy": held_out_accuracy,
        "seed": job.seed,
        "settings": job.settings,
        "report": report,
    });
    seal_io::write_json_atomic(&job.out.join("train_report.json"), &summary)?;
    Ok(RewardOutcome {
        train_pairs: train.len(),
        held_out_pairs: held_out.len(),
        held_out_accuracy,
        report,
    })
}
