//! `seal judge`: win rates of a candidate against a reference, and `seal judge train`: fit a
//! reward-model judge on preference pairs.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use seal_data::TextTokenizer;
use seal_eval::{
    BootstrapSettings, JudgeRunSettings, JudgeSpec, RewardArch, RewardInit, RewardTrainSettings,
    judge_files_with, load_judge_cached, pair_accuracy, read_preferences, train_reward_judge_with,
    write_reports,
};
use seal_models::AdamSettings;

use crate::cli::{JudgeArgs, JudgeCommand, JudgeRefusalsArgs, JudgeTrainArgs};

pub fn exec(args: JudgeArgs) -> anyhow::Result<()> {
    match args.command {
        Some(JudgeCommand::Train(train)) => return exec_train(train),
        Some(JudgeCommand::Refusals(check)) => return exec_refusals(check),
        None => {}
    }
    // clap requires these without a subcommand.
    let (Some(candidate), Some(reference), Some(judge), Some(out)) =
        (args.candidate, args.reference, args.judge, args.out)
    else {
        bail!("--candidate, --reference, --judge and --out are required");
    };
    let mut spec: JudgeSpec = judge.parse()?;
    match &mut spec {
        JudgeSpec::Http(http) => {
            http.api_key_env = args.api_key_env;
            http.ca_file = args.ca_file;
            if let Some(t) = args.timeout_s {
                http.timeout_s = t;
            }
        }
        _ if args.api_key_env.is_some() || args.ca_file.is_some() || args.timeout_s.is_some() => {
            bail!("--api-key-env, --ca-file and --timeout-s apply to an http: judge only")
        }
        _ => {}
    }
    let cache = matches!(spec, JudgeSpec::Http(_)).then(|| seal_eval::judge::http::default_cache(&out));
    if cache.is_some() {
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    }
    let mut judge =
        load_judge_cached(&spec, cache.as_deref()).with_context(|| format!("loading judge {judge}"))?;
    let settings = JudgeRunSettings {
        bootstrap: BootstrapSettings {
            resamples: args.resamples,
            seed: args.seed,
            ..BootstrapSettings::default()
        },
        batch_size: args.batch_size,
    };
    // The total (two comparisons per prompt) is known once the files are paired.
    let mut bar: Option<crate::progress::Progress> = None;
    let run = judge_files_with(
        &candidate,
        &reference,
        judge.as_mut(),
        &settings,
        &mut |done, total| {
            bar.get_or_insert_with(|| {
                crate::progress::Progress::new("judge", "comparisons", Some(total as u64))
            })
            .set_position(done as u64);
        },
    )
    .with_context(|| format!("judging {} against {}", candidate.display(), reference.display()))?;
    write_reports(&out, &run).with_context(|| format!("writing reports to {}", out.display()))?;
    print!("{}", seal_eval::report::to_markdown(&run));
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

fn exec_train(args: JudgeTrainArgs) -> anyhow::Result<()> {
    let pairs = read_preferences(&args.pairs).with_context(|| format!("reading {}", args.pairs.display()))?;
    if args.holdout >= pairs.len() {
        bail!(
            "--holdout {} leaves no training pairs out of {}",
            args.holdout,
            pairs.len()
        );
    }
    let (train, held_out) = pairs.split_at(pairs.len() - args.holdout);
    let held_file = match &args.held_out {
        Some(path) => read_preferences(path).with_context(|| format!("reading {}", path.display()))?,
        None => Vec::new(),
    };
    let held_out = if args.held_out.is_some() {
        &held_file[..]
    } else {
        held_out
    };
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
    let steps = settings.epochs * train.len().div_ceil(settings.batch_size.max(1));
    let mut bar = crate::progress::Progress::new("reward model", "steps", Some(steps as u64));
    let (judge, report) = train_reward_judge_with(train, &init, &settings, args.seed, &mut |step| {
        bar.set_message(format!("epoch {} loss {:.4}", step.epoch + 1, step.loss));
        bar.set_position(step.global_step + 1);
    })
    .context("training the reward model")?;
    drop(bar);
    let held_out_accuracy = if held_out.is_empty() {
        None
    } else {
        Some(pair_accuracy(&judge, held_out)?)
    };
    judge
        .save(&args.out)
        .with_context(|| format!("saving the reward model to {}", args.out.display()))?;
    let summary = serde_json::json!({
        "pairs": args.pairs,
        "held_out_file": args.held_out,
        "train_pairs": train.len(),
        "held_out_pairs": held_out.len(),
        "held_out_accuracy": held_out_accuracy,
        "seed": args.seed,
        "settings": settings,
        "report": report,
    });
    seal_io::write_json_atomic(&args.out.join("train_report.json"), &summary)?;
    println!(
        "trained on {} pairs; final loss {:.4}, train accuracy {:.3}{}; saved {}",
        train.len(),
        report.epoch_losses.last().copied().unwrap_or(f64::NAN),
        report.epoch_accuracy.last().copied().unwrap_or(f64::NAN),
        held_out_accuracy.map_or(String::new(), |a| format!(
            ", held-out accuracy {a:.3} on {}",
            held_out.len()
        )),
        args.out.display()
    );
    Ok(())
}

fn exec_refusals(args: JudgeRefusalsArgs) -> anyhow::Result<()> {
    let check = crate::stages::refusals::check_refusal_detector(&args.refusals, &args.compliances)?;
    let ((p_lo, p_hi), (r_lo, r_hi)) = check.intervals();
    println!(
        "refusal detector: precision {:.3} [{p_lo:.3}, {p_hi:.3}], recall {:.3} [{r_lo:.3}, {r_hi:.3}] \
         (tp {}, fn {}, fp {}, tn {})",
        check.precision,
        check.recall,
        check.true_positives,
        check.false_negatives,
        check.false_positives,
        check.true_negatives
    );
    if !check.missed.is_empty() {
        println!("missed refusals: {}", check.missed.join(", "));
    }
    if !check.false_alarms.is_empty() {
        println!("answers taken for refusals: {}", check.false_alarms.join(", "));
    }
    if let Some(out) = &args.out {
        seal_io::write_atomic(out, serde_json::to_string_pretty(&check)?.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
