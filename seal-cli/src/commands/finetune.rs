//! `seal finetune`: SFT on a selection or a baseline, into a run folder.

use anyhow::{Context, bail};
use seal_models::{AdamSettings, LoraConfig, LrSchedule, SftConfig};

use crate::cli::FinetuneArgs;
use seal_cli::stages::common::ModelSource;
use seal_cli::stages::finetune::{FinetuneSpec, run};

pub fn exec(args: FinetuneArgs) -> anyhow::Result<()> {
    let spec = match &args.spec {
        Some(path) => seal_cli::stages::common::read_spec(path)?,
        None => spec_from_args(&args)?,
    };
    let metrics = seal_models::on_train_device!(args.device, run, &spec, &args.out, args.resume)?;
    let last = metrics.epochs.last().map_or(f64::NAN, |e| e.mean_loss);
    println!(
        "fine-tuned on {} examples ({}): final epoch loss {last:.4}, {:.0} tokens/s, peak RSS {:.0} MiB -> {}",
        metrics.train_examples,
        metrics.method,
        metrics.tokens_per_s,
        metrics.peak_rss_bytes as f64 / (1024.0 * 1024.0),
        args.out.join("model").display()
    );
    Ok(())
}

fn spec_from_args(args: &FinetuneArgs) -> anyhow::Result<FinetuneSpec> {
    let model = match (&args.model, &args.init_config, &args.tokenizer) {
        (Some(path), None, _) => ModelSource::Folder { path: path.clone() },
        (None, Some(config), Some(tokenizer)) => ModelSource::Scratch {
            config: config.clone(),
            tokenizer: tokenizer.clone(),
            init_std: args.init_std,
        },
        _ => bail!("give --model DIR, or --init-config config.json with --tokenizer DIR"),
    };
    let epochs = args.epochs;
    let schedule = match args.schedule.as_str() {
        "constant" => LrSchedule::Constant,
        "cosine" => LrSchedule::Cosine {
            warmup_ratio: args.warmup_ratio,
        },
        other => bail!("unknown --schedule `{other}`: expected `constant` or `cosine`"),
    };
    let lora = args.lora_rank.map(|rank| LoraConfig {
        rank,
        alpha: args.lora_alpha,
        target_modules: args
            .lora_targets
            .split(',')
            .map(|s| s.trim().to_string())
            .collect(),
    });
    Ok(FinetuneSpec {
        model,
        data: args.data.clone().context("give --data")?,
        safe: args.safe.clone(),
        method: args.method.parse()?,
        keep: args.keep,
        scores: args.scores.clone(),
        template: args.template,
        max_len: args.max_len,
        sft: SftConfig {
            epochs,
            batch_size: args.batch_size,
            micro_batch_size: args.micro_batch_size,
            adam: AdamSettings {
                lr: args.lr,
                ..AdamSettings::default()
            },
            clip_norm: args.clip_norm,
            schedule,
            seed: args.seed,
            pad_id: 0,
        },
        lora,
    })
}
