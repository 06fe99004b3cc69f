//! `seal data mix`: a mixture from a recipe, with its report beside it.

use anyhow::Context;

use crate::cli::DataMixArgs;

pub fn exec(args: DataMixArgs) -> anyhow::Result<()> {
    super::check_extension(&args.out, &["parquet", "jsonl"])?;
    // The recipe's sources are read and drawn from in one call: a spinner with the elapsed time.
    let mut bar = seal_cli::progress::Progress::new("mix", "records", None);
    let mixture = seal_data::mix(&args.recipe)?;
    bar.set_position(mixture.examples.len() as u64);
    drop(bar);
    let report_path = seal_data::mix_report_path(&args.out);
    let mut inputs = vec![args.recipe.as_path()];
    inputs.extend(mixture.report.sources.iter().map(|s| s.path.as_path()));
    crate::commands::refuse_aliases(&inputs, &[("--out", &args.out), ("its report", &report_path)])?;
    seal_data::write_examples(&args.out, &mixture.examples)
        .with_context(|| format!("writing {}", args.out.display()))?;
    seal_data::write_mix_report(&report_path, &mixture.report)
        .with_context(|| format!("writing {}", report_path.display()))?;
    let report = &mixture.report;
    println!(
        "mixed {} records from {} source(s) into {} (seed {}; report {})",
        report.total,
        report.sources.len(),
        args.out.display(),
        report.seed,
        report_path.display()
    );
    for s in &report.sources {
        println!(
            "  {:<28} {:>7} imported {:>7} passed filters {:>7} taken",
            s.name, s.imported, s.passed_filters, s.taken
        );
    }
    super::print_counts("label", &report.by_label);
    if !report.duplicates.is_empty() {
        println!(
            "removed {} duplicates (listed in the report)",
            report.duplicates.len()
        );
    }
    Ok(())
}
