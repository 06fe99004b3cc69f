//! `seal data tokenize`: records into a training table, streamed in chunks.

use std::time::Instant;

use anyhow::Context;
use seal_data::{TextTokenizer, TokenizeOptions};

use crate::cli::DataTokenizeArgs;

/// Records per chunk when tokenizing a file: a few row groups' worth, so a large table streams.
const TOKENIZE_CHUNK: usize = 16_384;

pub fn exec(args: DataTokenizeArgs) -> anyhow::Result<()> {
    let tokenizer = TextTokenizer::from_dir(&args.tokenizer)
        .with_context(|| format!("loading tokenizer {}", args.tokenizer.display()))?;
    let template = args
        .template
        .resolve(&tokenizer)
        .with_context(|| format!("chat template of {}", args.tokenizer.display()))?;
    let options = TokenizeOptions {
        template,
        max_len: args.max_len,
        threads: args.threads,
    };
    super::check_extension(&args.out, &["parquet"])?;
    crate::commands::refuse_aliases(&[&args.data], &[("--out", &args.out)])?;
    let start = Instant::now();
    let mut bar = seal_cli::progress::Progress::new("tokenize", "records", None);
    let report = seal_data::tokenize_file_with(
        &args.data,
        &tokenizer,
        &options,
        &args.out,
        TOKENIZE_CHUNK,
        &mut |n| {
            bar.set_position(n as u64);
        },
    )
    .with_context(|| format!("tokenizing {} into {}", args.data.display(), args.out.display()))?;
    drop(bar);
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "tokenized {} of {} records into {} ({} tokens, {:.0} rows/s)",
        report.kept,
        report.records,
        args.out.display(),
        report.tokens,
        report.records as f64 / seconds.max(1e-9)
    );
    println!(
        "dropped {} records (ids and reasons in {})",
        report.dropped.len(),
        seal_data::dropped_path(&args.out).display()
    );
    Ok(())
}
