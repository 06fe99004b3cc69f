//! `seal data`: import source files into canonical records, inspect a record file.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, bail};
use seal_data::{FieldMapping, Format, HhSide, ImportOptions, Label};
use seal_models::{ChatTemplate, TextTokenizer};

use crate::cli::{DataCommand, DataImportArgs, DataInspectArgs};

pub fn exec(command: DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Import(args) => import(*args),
        DataCommand::Inspect(args) => inspect(args),
    }
}

fn import(args: DataImportArgs) -> anyhow::Result<()> {
    let options = import_options(&args)?;
    let start = Instant::now();
    let imported = seal_data::import_files(&args.inputs, &options).context("importing")?;
    if imported.examples.is_empty() {
        bail!("no records left to write to {}", args.out.display());
    }
    let is_jsonl = args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"));
    if is_jsonl {
        seal_data::write_jsonl(&args.out, &imported.examples)
    } else {
        seal_data::write_parquet(&args.out, &imported.examples)
    }
    .with_context(|| format!("writing {}", args.out.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    for (path, format) in &imported.formats {
        tracing::info!("{}: {format}", path.display());
    }
    println!(
        "imported {} records from {} file(s) into {} ({:.0} rows/s)",
        imported.examples.len(),
        args.inputs.len(),
        args.out.display(),
        imported.examples.len() as f64 / seconds.max(1e-9)
    );
    if !imported.rejects.is_empty() {
        let rejects = args
            .rejects
            .clone()
            .unwrap_or_else(|| args.out.with_extension("rejects.jsonl"));
        seal_data::write_rejects(&rejects, &imported.rejects)
            .with_context(|| format!("writing rejects {}", rejects.display()))?;
        println!(
            "rejected {} rows (reasons in {})",
            imported.rejects.len(),
            rejects.display()
        );
    }
    Ok(())
}

fn import_options(args: &DataImportArgs) -> anyhow::Result<ImportOptions> {
    let format = args
        .format
        .as_deref()
        .map(str::parse::<Format>)
        .transpose()
        .context("--format")?;
    let label = args
        .label
        .as_deref()
        .map(str::parse::<Label>)
        .transpose()
        .context("--label")?;
    let hh_side = match args.hh_side.as_str() {
        "chosen" => HhSide::Chosen,
        "rejected" => HhSide::Rejected,
        other => bail!("--hh-side: expected chosen or rejected, got `{other}`"),
    };
    Ok(ImportOptions {
        format,
        source: args.source.clone(),
        label,
        hh_side,
        skip_invalid: args.skip_invalid,
        mapping: FieldMapping {
            prompt: args.prompt_field.clone(),
            response: Some(args.response_field.clone()),
            id: args.id_field.clone(),
            label: args.label_field.clone(),
            category: args.category_field.clone(),
        },
    })
}

fn inspect(args: DataInspectArgs) -> anyhow::Result<()> {
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
    print_counts("source", &summary.by_source);
    print_counts("label", &summary.by_label);
    print_counts("category", &summary.by_category);
    print_counts("split", &summary.by_split);
    if let Some(dir) = &args.tokenizer {
        let tokenizer =
            TextTokenizer::from_dir(dir).with_context(|| format!("loading tokenizer {}", dir.display()))?;
        let template = if args.chat {
            tokenizer
                .model_template()
                .with_context(|| format!("chat template of {}", dir.display()))?
        } else {
            ChatTemplate::Reference
        };
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

fn print_counts(what: &str, counts: &BTreeMap<String, usize>) {
    println!("by {what}:");
    for (key, n) in counts {
        println!("  {n:>7}  {key}");
    }
}
