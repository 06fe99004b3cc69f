//! `seal select`: train the data selector and score D_ft.

use anyhow::bail;
use seal_models::LoraConfig;

use crate::cli::SelectArgs;
use seal_cli::stages::common::ModelSource;
use seal_cli::stages::select::{BilevelOverrides, SelectConfig, SelectSpec, run};

pub fn exec(args: SelectArgs) -> anyhow::Result<()> {
    let out = args.out.clone();
    let resume = args.resume;
    let device = args.device;
    let spec = match &args.spec {
        Some(path) => seal_cli::stages::common::read_spec(path)?,
        None => spec_from_args(args)?,
    };
    let metrics = seal_models::on_train_device!(device, run, &spec, &out, resume)?;
    let fmt = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.4}"));
    println!(
        "scored {} examples with {} in {:.1} s (peak RSS {:.0} MiB); label AUROC {}, harmful share of dropped {} -> {}",
        metrics.ft_examples,
        metrics.algorithm,
        metrics.train_wall_s,
        metrics.peak_rss_bytes as f64 / (1024.0 * 1024.0),
        fmt(metrics.label_auroc),
        fmt(metrics.dropped_harmful_share),
        out.join("scores.parquet").display()
    );
    Ok(())
}

fn spec_from_args(args: SelectArgs) -> anyhow::Result<SelectSpec> {
    let file = match &args.config {
        Some(path) => SelectConfig::read(path)?,
        None => SelectConfig::default(),
    };
    let bilevel = BilevelOverrides {
        algorithm: args.algo,
        inner_steps: args.inner_steps,
        aux_loss: args.aux_loss.map(Into::into),
        penalty: args.gamma,
        weights: args.weights.map(Into::into),
        softmax_scope: args.softmax_scope.map(Into::into),
        selector_optimizer: args.selector_optimizer,
        selector_lr: args.selector_lr,
        epochs: args.epochs,
        batch_size: args.batch_size,
        micro_batch_size: args.micro_batch_size,
        seed: args.seed,
    }
    .apply(file.bilevel.unwrap_or_default())?;
    let mut model_adam = file.model_adam.unwrap_or_default();
    if let Some(lr) = args.lr {
        model_adam.lr = lr;
    }
    let lora = match args.lora_rank {
        Some(rank) => Some(LoraConfig {
            rank,
            ..file.lora.unwrap_or_default()
        }),
        None => file.lora,
    };
    let template = match &args.template {
        Some(t) => *t,
        None => file.template.unwrap_or_default(),
    };
    let (Some(model), Some(safe), Some(data)) = (args.model, args.safe, args.data) else {
        bail!("give --model, --safe and --data");
    };
    Ok(SelectSpec {
        model: ModelSource::Folder { path: model },
        safe,
        data,
        template,
        max_len: args.max_len.or(file.max_len).unwrap_or(512),
        bilevel,
        model_adam,
        clip_norm: file.clip_norm.unwrap_or(1.0),
        lora,
        keep: args.keep.or(file.keep).unwrap_or(0.8),
        init_selector: args.init_selector,
    })
}
