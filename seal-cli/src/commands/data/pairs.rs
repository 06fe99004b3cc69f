//! `seal data pairs`: join a chosen and a rejected side into preference pairs (JSONL).

use std::path::Path;

use anyhow::Context;
use seal_data::{join_preferences, read_examples};

use crate::cli::DataPairsArgs;

pub fn exec(args: DataPairsArgs) -> anyhow::Result<()> {
    super::check_extension(&args.out, &["jsonl"])?;
    let read = |path: &Path| read_examples(path).with_context(|| format!("reading {}", path.display()));
    let (rows, report) = join_preferences(&read(&args.chosen)?, &read(&args.rejected)?)?;
    let mut text = String::new();
    for row in &rows {
        text.push_str(&serde_json::to_string(row)?);
        text.push('\n');
    }
    seal_io::write_atomic(&args.out, text.as_bytes())?;
    println!(
        "{} pairs -> {} ({} chosen prompts without a rejected answer, {} with identical answers, {} repeated)",
        report.pairs,
        args.out.display(),
        report.unmatched,
        report.identical,
        report.repeated_prompts
    );
    Ok(())
}
