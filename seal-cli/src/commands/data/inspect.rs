//! `seal data inspect`: a record file's counts, and its token lengths with a tokenizer.

use anyhow::Context;
use seal_cli::stages::common::TemplateChoice;
use seal_data::TextTokenizer;

use crate::cli::DataInspectArgs;

pub fn exec(args: DataInspectArgs) -> anyhow::Result<()> {
    let examples =
        seal_data::read_examples(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let summary = seal_data::summarize(&examples);
    println!(
        "{}: {} records ({} with a response, {} novel)",
        args.file.display(),
        summary.total,
        summary.with_response,
        summary.novel
    );
    super::print_counts("source", &summary.by_source);
    super::print_counts("label", &summary.by_label);
    super::print_counts("category", &summary.by_category);
    super::print_counts("split", &summary.by_split);
    if let Some(dir) = &args.tokenizer {
        let tokenizer =
            TextTokenizer::from_dir(dir).with_context(|| format!("loading tokenizer {}", dir.display()))?;
        let choice = if args.chat {
            TemplateChoice::Model
        } else {
            TemplateChoice::Reference
        };
        let template = choice
            .resolve(&tokenizer)
            .with_context(|| format!("chat template of {}", dir.display()))?;
        let lengths = seal_data::token_lengths(&examples, &tokenizer, &template)
            .with_context(|| format!("tokenizing {}", args.file.display()))?;
        let max = lengths.iter().max().copied().unwrap_or(0);
        let mean = lengths.iter().sum::<usize>() as f64 / lengths.len().max(1) as f64;
        println!("tokens (prompt + response): mean {mean:.1}, max {max}");
        for (upper, count) in seal_data::length_histogram(&lengths) {
            println!("  <= {upper:>6}  {count}");
        }
    }
    Ok(())
}
