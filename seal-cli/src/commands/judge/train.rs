//! `seal judge train`: a reward-model judge from preference pairs (`seal_cli::stages::reward`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use seal_cli::stages::reward::{self, HeldOut, RewardJob};
use seal_data::TextTokenizer;
use seal_eval::{RewardArch, RewardInit, RewardTrainSettings};
use seal_models::AdamSettings;

use crate::cli::JudgeTrainArgs;

pub fn exec(args: JudgeTrainArgs) -> anyhow::Result<()> {
    let init = match (&args.backbone, &args.tokenizer) {
        (Some(dir), _) => RewardInit::Backbone { dir: dir.clone() },
        (None, Some(tokenizer)) => {
            let dir = tokenizer_dir(tokenizer)?;
            let tok = TextTokenizer::from_dir(&dir)
                .with_context(|| format!("loading tokenizer {}", dir.display()))?;
            let arch = RewardArch {
                hidden_size: args.hidden,
                num_layers: args.layers,
                num_heads: args.heads,
                intermediate_size: 2 * args.hidden,
                max_positions: args.max_len,
            };
            RewardInit::Random {
                config: Box::new(arch.hf_config(&tok)),
                tokenizer_dir: dir,
            }
        }
        (None, None) => bail!("--tokenizer or --backbone is required"),
    };
    let settings = RewardTrainSettings {
        epochs: args.epochs,
        batch_size: args.batch_size,
        adam: AdamSettings {
            lr: args.lr,
            ..RewardTrainSettings::default().adam
        },
        max_len: args.max_len,
        ..RewardTrainSettings::default()
    };
    let job = RewardJob {
        pairs: args.pairs,
        held_out: args.held_out.map_or(HeldOut::LastOf(args.holdout), HeldOut::File),
        init,
        settings,
        seed: args.seed,
        out: args.out,
    };
    // The step count is known once the pairs are read: the bar starts at the first step.
    let mut bar: Option<seal_cli::progress::Progress> = None;
    let outcome = reward::train(&job, &mut |step: &seal_models::TrainStep| {
        let bar = bar.get_or_insert_with(|| {
            seal_cli::progress::Progress::new("reward model", "steps", Some(step.total_steps))
        });
        bar.set_message(format!("epoch {} loss {:.4}", step.epoch + 1, step.loss));
        bar.set_position(step.global_step + 1);
    })?;
    drop(bar);
    println!(
        "trained on {} pairs; final loss {:.4}, train accuracy {:.3}{}; saved {}",
        outcome.train_pairs,
        outcome.report.epoch_losses.last().copied().unwrap_or(f64::NAN),
        outcome.report.epoch_accuracy.last().copied().unwrap_or(f64::NAN),
        outcome.held_out_accuracy.map_or(String::new(), |a| format!(
            ", held-out accuracy {a:.3} on {}",
            outcome.held_out_pairs
        )),
        job.out.display()
    );
    Ok(())
}

/// `--tokenizer` names tokenizer.json or the folder holding it; the loader wants the folder.
fn tokenizer_dir(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if path.file_name().is_some_and(|n| n == "tokenizer.json") {
        return Ok(path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf));
    }
    bail!(
        "--tokenizer {}: expected tokenizer.json or a folder holding it",
        path.display()
    )
}
