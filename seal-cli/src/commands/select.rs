//! `seal select`: train the data selector and score D_ft.

use anyhow::bail;
use seal_core::{Algorithm, AuxLoss, SelectorOptimizer};
use seal_models::LoraConfig;

use crate::cli::SelectArgs;
use seal_cli::stages::common::ModelSource;
use seal_cli::stages::select::{AlgorithmChoice, SelectConfig, SelectSpec, run};

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
    let mut bilevel = file.bilevel.unwrap_or_default();
    if let Some(algo) = args.algo {
        bilevel.algorithm = match algo {
            AlgorithmChoice::Alg1 => Algorithm::Alg1 {
                inner_steps: args.inner_steps.unwrap_or(1),
                keep_penalty_factor: false,
                aux_loss: AuxLoss::default(),
            },
            AlgorithmChoice::Alg2 => Algorithm::Alg2 {},
        };
    } else if let (Some(steps), Algorithm::Alg1 { inner_steps, .. }) =
        (args.inner_steps, &mut bilevel.algorithm)
    {
        *inner_steps = steps;
    }
    if let Some(when) = args.aux_loss {
        match &mut bilevel.algorithm {
            Algorithm::Alg1 { aux_loss, .. } => *aux_loss = when.into(),
            Algorithm::Alg2 {} => bail!("--aux-loss is an option of --algo alg1 (Algorithm 2 has no θ̂)"),
        }
    }
    if let Some(gamma) = &args.gamma {
        bilevel.penalty = gamma.parse()?;
    }
    if let Some(weights) = args.weights {
        bilevel.weights = weights.into();
    }
    if let Some(scope) = args.softmax_scope {
        bilevel.softmax_scope = scope.into();
    }
    if let Some(optimizer) = args.selector_optimizer {
        bilevel.selector_optimizer = optimizer;
    }
    if let Some(lr) = args.selector_lr {
        match &mut bilevel.selector_optimizer {
            SelectorOptimizer::Adam { lr: l, .. } | SelectorOptimizer::Sgd { lr: l, .. } => *l = lr,
        }
    }
    if let Some(epochs) = args.epochs {
        bilevel.epochs = epochs;
    }
    if let Some(b) = args.batch_size {
        bilevel.batch_size = b;
    }
    if let Some(m) = args.micro_batch_size {
        bilevel.micro_batch_size = m;
    }
    if let Some(seed) = args.seed {
        bilevel.seed = seed;
    }
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
