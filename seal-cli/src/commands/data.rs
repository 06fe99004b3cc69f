//! `seal data`: import source files into canonical records, inspect a record file, tokenize
//! records into a training table, build a mixture from a recipe, join two sides into preference
//! pairs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use seal_data::{
    ChatTemplate, FieldMapping, Format, HhSide, ImportOptions, Label, TextTokenizer, TokenizeOptions,
    join_preferences, read_examples,
};
use seal_models::backend::peak_rss_bytes;

use crate::cli::{
    DataCommand, DataImportArgs, DataInspectArgs, DataMixArgs, DataPairsArgs, DataTokenizeArgs,
};

pub fn exec(command: DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Import(args) => import(*args),
        DataCommand::Inspect(args) => inspect(args),
        DataCommand::Tokenize(args) => tokenize(args),
        DataCommand::Mix(args) => mix(args),
        DataCommand::Pairs(args) => pairs(args),
    }
}

fn pairs(args: DataPairsArgs) -> anyhow::Result<()> {
    check_extension(&args.out, &["jsonl"])?;
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

fn import(args: DataImportArgs) -> anyhow::Result<()> {
    check_extension(&args.out, &["parquet", "jsonl"])?;
    let options = import_options(&args)?;
    let rejects = args
        .rejects
        .clone()
        .unwrap_or_else(|| args.out.with_extension("rejects.jsonl"));
    let inputs: Vec<&std::path::Path> = args.inputs.iter().map(PathBuf::as_path).collect();
    super::refuse_aliases(&inputs, &[("--out", &args.out), ("--rejects", &rejects)])?;
    let start = Instant::now();
    let mut bar = crate::progress::Progress::new("import", "files", Some(args.inputs.len() as u64));
    let imported = seal_data::import_files_with(&args.inputs, &options, &mut |files, records| {
        bar.set_message(format!("{records} records"));
        bar.set_position(files as u64);
    })
    .context("importing")?;
    drop(bar);
    if imported.examples.is_empty() {
        bail!("no records left to write to {}", args.out.display());
    }
    write_records(&args.out, &imported.examples)?;
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
        max_record_bytes: args.max_record_bytes,
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
        let template = template(&tokenizer, if args.chat { "model" } else { "reference" }, dir)?;
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

/// Records per chunk when tokenizing a file: a few row groups' worth, so a large table streams.
const TOKENIZE_CHUNK: usize = 16_384;

fn tokenize(args: DataTokenizeArgs) -> anyhow::Result<()> {
    let tokenizer = TextTokenizer::from_dir(&args.tokenizer)
        .with_context(|| format!("loading tokenizer {}", args.tokenizer.display()))?;
    let template = template(&tokenizer, &args.template, &args.tokenizer)?;
    let options = TokenizeOptions {
        template,
        max_len: args.max_len,
        threads: args.threads,
    };
    check_extension(&args.out, &["parquet"])?;
    super::refuse_aliases(&[&args.data], &[("--out", &args.out)])?;
    let start = Instant::now();
    let mut bar = crate::progress::Progress::new("tokenize", "records", None);
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

/// `reference` or `model` (the tokenizer folder's own chat template).
fn template(tokenizer: &TextTokenizer, name: &str, dir: &std::path::Path) -> anyhow::Result<ChatTemplate> {
    match name {
        "reference" => Ok(ChatTemplate::Reference),
        "model" => tokenizer
            .model_template()
            .with_context(|| format!("chat template of {}", dir.display())),
        other => bail!("--template: expected reference or model, got `{other}`"),
    }
}

fn mix(args: DataMixArgs) -> anyhow::Result<()> {
    check_extension(&args.out, &["parquet", "jsonl"])?;
    // The recipe's sources are read and drawn from in one call: a spinner with the elapsed time.
    let mut bar = crate::progress::Progress::new("mix", "records", None);
    let mixture = seal_data::mix(&args.recipe)?;
    bar.set_position(mixture.examples.len() as u64);
    drop(bar);
    let report_path = seal_data::mix_report_path(&args.out);
    let mut inputs = vec![args.recipe.as_path()];
    inputs.extend(mixture.report.sources.iter().map(|s| s.path.as_path()));
    super::refuse_aliases(&inputs, &[("--out", &args.out), ("its report", &report_path)])?;
    write_records(&args.out, &mixture.examples)?;
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
    print_counts("label", &report.by_label);
    if !report.duplicates.is_empty() {
        println!(
            "removed {} duplicates (listed in the report)",
            report.duplicates.len()
        );
    }
    Ok(())
}

/// The file kind follows `--out`'s extension; any other extension (`out.txt`) is refused before
/// any work, rather than silently given Parquet bytes.
fn check_extension(out: &std::path::Path, allowed: &[&str]) -> anyhow::Result<()> {
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("");
    if allowed.iter().any(|a| ext.eq_ignore_ascii_case(a)) {
        return Ok(());
    }
    let list: Vec<String> = allowed.iter().map(|a| format!(".{a}")).collect();
    bail!(
        "--out {}: the output is written as {}; give it that extension",
        out.display(),
        list.join(" or ")
    )
}

/// Writes records as canonical `.jsonl` (by extension) or Parquet, atomically.
fn write_records(out: &std::path::Path, examples: &[seal_data::Example]) -> anyhow::Result<()> {
    // `--out runs/real/ft.parquet` in a fresh checkout: make the folder, as every run command does.
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let is_jsonl = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl"));
    if is_jsonl {
        seal_data::write_jsonl(out, examples)
    } else {
        seal_data::write_parquet(out, examples)
    }
    .with_context(|| format!("writing {}", out.display()))
}

/// `seal bench data`: generate an Alpaca-format JSONL file of `--rows` rows, import it
/// streamed (chunked reads, Parquet row groups) and tokenize the result streamed, each phase in
/// a child process of its own (the allocator keeps freed memory, so one process's peak would
/// carry the import's heap into the tokenize figure), reporting rows/s and peak RSS.
pub fn bench(args: crate::cli::BenchDataArgs) -> anyhow::Result<()> {
    if let Some(phase) = &args.phase {
        let dir = args.dir.as_deref().context("--phase needs --dir")?;
        let report = bench_phase(phase, dir, &args)?;
        println!("{report}");
        return Ok(());
    }
    let tmp;
    let dir = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.clone()
        }
        None => {
            tmp = tempfile::tempdir().context("creating a temporary folder")?;
            tmp.path().to_path_buf()
        }
    };
    let start = Instant::now();
    let bytes = write_synthetic_alpaca(&dir.join(BENCH_JSONL), args.rows)?;
    let generate_s = start.elapsed().as_secs_f64();
    let mut phases = serde_json::Map::new();
    for phase in ["import", "tokenize"] {
        let exe = std::env::current_exe().context("locating the seal binary")?;
        let mut command = std::process::Command::new(exe);
        command
            .args(["bench", "data", "--phase", phase, "--dir"])
            .arg(&dir);
        command.args([
            "--rows",
            &args.rows.to_string(),
            "--chunk",
            &args.chunk.to_string(),
        ]);
        if let Some(t) = &args.tokenizer {
            command.arg("--tokenizer").arg(t);
        }
        let out = command
            .output()
            .with_context(|| format!("running the {phase} phase"))?;
        if !out.status.success() {
            bail!(
                "{phase} phase failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("reading the {phase} phase's report"))?;
        phases.insert(phase.to_string(), report);
    }
    let field = |phase: &str, key: &str| phases[phase][key].as_f64().unwrap_or(f64::NAN);
    if args.json {
        let out = serde_json::json!({
            "rows": args.rows,
            "chunk": args.chunk,
            "jsonl_bytes": bytes,
            "generate_s": generate_s,
            "import": phases["import"],
            "tokenize": phases["tokenize"],
        });
        println!("{out}");
    } else {
        let mib = |phase: &str| field(phase, "peak_rss_bytes") / f64::from(1 << 20);
        println!(
            "{} rows ({:.0} MiB of JSONL, chunks of {}), each phase in its own process:",
            args.rows,
            bytes as f64 / f64::from(1 << 20),
            args.chunk
        );
        println!(
            "  import   {:>8.2} s  {:>10.0} rows/s  peak RSS {:.0} MiB",
            field("import", "seconds"),
            field("import", "rows_per_s"),
            mib("import")
        );
        println!(
            "  tokenize {:>8.2} s  {:>10.0} rows/s  {:.0} tokens/s  peak RSS {:.0} MiB",
            field("tokenize", "seconds"),
            field("tokenize", "rows_per_s"),
            field("tokenize", "tokens_per_s"),
            mib("tokenize")
        );
    }
    Ok(())
}

const BENCH_JSONL: &str = "bench.jsonl";
const BENCH_RECORDS: &str = "bench.parquet";
const BENCH_TOKENS: &str = "bench.tokens.parquet";

/// One phase of `seal bench data` on the files in `dir`, as a JSON report.
fn bench_phase(
    phase: &str,
    dir: &std::path::Path,
    args: &crate::cli::BenchDataArgs,
) -> anyhow::Result<serde_json::Value> {
    let (jsonl, records, tokens) = (
        dir.join(BENCH_JSONL),
        dir.join(BENCH_RECORDS),
        dir.join(BENCH_TOKENS),
    );
    let per_s = |n: usize, s: f64| n as f64 / s.max(1e-9);
    let start = Instant::now();
    let report = match phase {
        "import" => {
            let mut writer = seal_data::ExampleWriter::create(&records)?;
            let report =
                seal_data::import_jsonl_chunks(&jsonl, &ImportOptions::default(), args.chunk, |chunk| {
                    writer.write(&chunk)
                })
                .with_context(|| format!("importing {}", jsonl.display()))?;
            let written = writer.finish()?;
            let seconds = start.elapsed().as_secs_f64();
            if report.records != args.rows || written != args.rows {
                bail!(
                    "generated {} rows, imported {}, wrote {written}",
                    args.rows,
                    report.records
                );
            }
            serde_json::json!({ "seconds": seconds, "rows_per_s": per_s(written, seconds) })
        }
        "tokenize" => {
            let tokenizer_dir = args.tokenizer.clone().unwrap_or_else(|| {
                std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/world"))
            });
            let tokenizer = TextTokenizer::from_dir(&tokenizer_dir)
                .with_context(|| format!("loading tokenizer {}", tokenizer_dir.display()))?;
            let options = TokenizeOptions {
                template: ChatTemplate::Reference,
                max_len: 512,
                threads: 0,
            };
            let report = seal_data::tokenize_file(&records, &tokenizer, &options, &tokens, args.chunk)
                .with_context(|| format!("tokenizing {}", records.display()))?;
            let seconds = start.elapsed().as_secs_f64();
            if report.records != args.rows {
                bail!("imported {} rows, tokenized {}", args.rows, report.records);
            }
            serde_json::json!({
                "seconds": seconds,
                "rows_per_s": per_s(report.records, seconds),
                "tokens": report.tokens,
                "tokens_per_s": per_s(report.tokens, seconds),
                "dropped": report.dropped.len(),
            })
        }
        other => bail!("--phase: expected import or tokenize, got `{other}`"),
    };
    let mut report = report;
    report["peak_rss_bytes"] = serde_json::json!(peak_rss_bytes());
    Ok(report)
}

/// Writes `rows` Alpaca-format JSON lines of made-up text (deterministic; every row distinct)
/// and returns the file's size in bytes.
fn write_synthetic_alpaca(path: &std::path::Path, rows: usize) -> anyhow::Result<u64> {
    use std::io::Write;
    const WORDS: [&str; 32] = [
        "the",
        "river",
        "quick",
        "model",
        "answer",
        "green",
        "number",
        "explain",
        "city",
        "seven",
        "light",
        "write",
        "short",
        "story",
        "about",
        "a",
        "garden",
        "list",
        "three",
        "ways",
        "to",
        "save",
        "energy",
        "why",
        "is",
        "sky",
        "blue",
        "summarise",
        "this",
        "paragraph",
        "and",
        "translate",
    ];
    // splitmix64: a fixed generator, so the benchmark input never changes between releases.
    let mut state = 0x5EA1_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut words = |n: usize| -> String {
        (0..n)
            .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    for i in 0..rows {
        let line = serde_json::json!({
            "instruction": format!("Task {i}: {}", words(12)),
            "input": if i % 3 == 0 { words(8) } else { String::new() },
            "output": words(40),
        });
        writeln!(w, "{line}").with_context(|| format!("writing {}", path.display()))?;
    }
    w.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(std::fs::metadata(path)?.len())
}
