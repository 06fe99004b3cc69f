//! `seal data import`: source files (any supported format) into canonical records.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use seal_data::{FieldMapping, ImportOptions};

use crate::cli::DataImportArgs;

pub fn exec(args: DataImportArgs) -> anyhow::Result<()> {
    super::check_extension(&args.out, &["parquet", "jsonl"])?;
    let options = import_options(&args);
    let rejects = args
        .rejects
        .clone()
        .unwrap_or_else(|| args.out.with_extension("rejects.jsonl"));
    let inputs: Vec<&std::path::Path> = args.inputs.iter().map(PathBuf::as_path).collect();
    crate::commands::refuse_aliases(&inputs, &[("--out", &args.out), ("--rejects", &rejects)])?;
    let start = Instant::now();
    let mut bar = seal_cli::progress::Progress::new("import", "files", Some(args.inputs.len() as u64));
    let imported = seal_data::import_files_with(&args.inputs, &options, &mut |files, records| {
        bar.set_message(format!("{records} records"));
        bar.set_position(files as u64);
    })
    .context("importing")?;
    drop(bar);
    if imported.examples.is_empty() {
        bail!("no records left to write to {}", args.out.display());
    }
    seal_data::write_examples(&args.out, &imported.examples)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    for (path, format) in &imported.formats {
        tracing::info!("{}: {format}", path.display());
    }
    for warning in &imported.warnings {
        tracing::warn!("{warning}");
    }
    println!(
        "imported {} records from {} file(s) into {} ({:.0} rows/s)",
        imported.examples.len(),
        args.inputs.len(),
        args.out.display(),
        imported.examples.len() as f64 / seconds.max(1e-9)
    );
    if !imported.rejects.is_empty() {
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

fn import_options(args: &DataImportArgs) -> ImportOptions {
    ImportOptions {
        format: args.format,
        source: args.source.clone(),
        label: args.label,
        hh_side: args.hh_side.into(),
        skip_invalid: args.skip_invalid,
        max_record_bytes: args.max_record_bytes,
        mapping: FieldMapping {
            prompt: args.prompt_field.clone(),
            response: Some(args.response_field.clone()),
            id: args.id_field.clone(),
            label: args.label_field.clone(),
            category: args.category_field.clone(),
        },
    }
}
