//! `seal dpo`: preference tuning on (prompt, chosen, rejected) pairs, into a run folder.

use seal_models::{AdamSettings, PreferenceConfig};

use crate::cli::DpoArgs;
use seal_cli::stages::dpo::{DpoSpec, run};

pub fn exec(args: DpoArgs) -> anyhow::Result<()> {
    let spec = DpoSpec {
        model: args.model,
        pairs: args.pairs,
        template: args.template,
        max_len: args.max_len,
        dpo: PreferenceConfig {
            epochs: args.epochs,
            batch_size: args.batch_size,
            micro_batch_size: args.micro_batch_size,
            adam: AdamSettings {
                lr: args.lr,
                ..AdamSettings::default()
            },
            clip_norm: args.clip_norm,
            beta: args.beta,
            seed: args.seed,
            pad_id: 0,
        },
    };
    let metrics = seal_models::on_train_device!(args.device, run, &spec, &args.out, args.resume)?;
    let last = metrics.epochs.last();
    println!(
        "preference-tuned on {} pairs ({} over the length limit): final epoch loss {:.4}, chosen above rejected {:.1}%, peak RSS {:.0} MiB -> {}",
        metrics.train_pairs,
        metrics.dropped_by_length,
        last.map_or(f64::NAN, |e| e.mean_loss),
        last.map_or(f64::NAN, |e| 100.0 * e.accuracy),
        metrics.peak_rss_bytes as f64 / (1024.0 * 1024.0),
        args.out.join("model").display()
    );
    Ok(())
}
