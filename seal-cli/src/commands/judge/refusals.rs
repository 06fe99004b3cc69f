//! `seal judge refusals`: the refusal detector's precision and recall on labelled outputs.

use anyhow::Context;

use crate::cli::JudgeRefusalsArgs;

pub fn exec(args: JudgeRefusalsArgs) -> anyhow::Result<()> {
    let check = seal_cli::stages::refusals::check_refusal_detector(&args.refusals, &args.compliances)?;
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
