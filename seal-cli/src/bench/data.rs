//! `seal bench data`: generate an Alpaca-format JSONL file of `rows` rows, import it streamed
//! (chunked reads, Parquet row groups) and tokenize the result streamed, each phase in a child
//! process of its own (the allocator keeps freed memory, so one process's peak would carry the
//! import's heap into the tokenize figure), reporting rows/s and peak RSS.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use seal_data::{ChatTemplate, ImportOptions, TextTokenizer, TokenizeOptions};
use seal_models::backend::peak_rss_bytes;

/// What to generate and how to stream it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataBench {
    /// Rows of the generated JSONL file.
    pub rows: usize,
    /// Records per streamed chunk.
    pub chunk: usize,
    /// Tokenizer folder (`None`: the fixture world's tokenizer).
    pub tokenizer: Option<PathBuf>,
}

/// One measured phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// JSONL -> canonical Parquet records.
    Import,
    /// Records -> the token table.
    Tokenize,
}

impl Phase {
    /// `import` or `tokenize`, as `--phase` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Import => "import",
            Self::Tokenize => "tokenize",
        }
    }
}

const BENCH_JSONL: &str = "bench.jsonl";
const BENCH_RECORDS: &str = "bench.parquet";
const BENCH_TOKENS: &str = "bench.tokens.parquet";

/// The whole benchmark's figures.
#[derive(Debug, Clone)]
pub struct DataReport {
    /// The benchmark as run.
    pub bench: DataBench,
    /// Size of the generated JSONL file.
    pub jsonl_bytes: u64,
    /// Seconds to generate it.
    pub generate_s: f64,
    /// The import phase's JSON report.
    pub import: serde_json::Value,
    /// The tokenize phase's JSON report.
    pub tokenize: serde_json::Value,
}

/// Generates the input in `dir` (a temporary folder when `None`, removed after) and runs each
/// phase in a child process (`seal bench data --phase P --dir DIR ...`).
pub fn run(bench: &DataBench, dir: Option<&Path>) -> anyhow::Result<DataReport> {
    let tmp;
    let dir = match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.to_path_buf()
        }
        None => {
            tmp = tempfile::tempdir().context("creating a temporary folder")?;
            tmp.path().to_path_buf()
        }
    };
    let start = Instant::now();
    let jsonl_bytes = write_synthetic_alpaca(&dir.join(BENCH_JSONL), bench.rows)?;
    let generate_s = start.elapsed().as_secs_f64();
    let mut reports = Vec::new();
    for phase in [Phase::Import, Phase::Tokenize] {
        let mut args: Vec<OsString> = ["bench", "data", "--phase", phase.name(), "--dir"]
            .map(OsString::from)
            .to_vec();
        args.push(dir.clone().into());
        for (flag, value) in [("--rows", bench.rows), ("--chunk", bench.chunk)] {
            args.push(flag.into());
            args.push(value.to_string().into());
        }
        if let Some(t) = &bench.tokenizer {
            args.push("--tokenizer".into());
            args.push(t.into());
        }
        reports.push(super::run_self(&args, &format!("{} phase", phase.name()))?);
    }
    let tokenize = reports.pop().unwrap_or_default();
    let import = reports.pop().unwrap_or_default();
    Ok(DataReport {
        bench: bench.clone(),
        jsonl_bytes,
        generate_s,
        import,
        tokenize,
    })
}

impl DataReport {
    /// `{"rows", "chunk", "jsonl_bytes", "generate_s", "import": {...}, "tokenize": {...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "rows": self.bench.rows,
            "chunk": self.bench.chunk,
            "jsonl_bytes": self.jsonl_bytes,
            "generate_s": self.generate_s,
            "import": self.import,
            "tokenize": self.tokenize,
        })
    }
}

impl std::fmt::Display for DataReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let field = |phase: &serde_json::Value, key: &str| phase[key].as_f64().unwrap_or(f64::NAN);
        let mib = |phase: &serde_json::Value| field(phase, "peak_rss_bytes") / f64::from(1 << 20);
        writeln!(
            f,
            "{} rows ({:.0} MiB of JSONL, chunks of {}), each phase in its own process:",
            self.bench.rows,
            self.jsonl_bytes as f64 / f64::from(1 << 20),
            self.bench.chunk
        )?;
        writeln!(
            f,
            "  import   {:>8.2} s  {:>10.0} rows/s  peak RSS {:.0} MiB",
            field(&self.import, "seconds"),
            field(&self.import, "rows_per_s"),
            mib(&self.import)
        )?;
        writeln!(
            f,
            "  tokenize {:>8.2} s  {:>10.0} rows/s  {:.0} tokens/s  peak RSS {:.0} MiB",
            field(&self.tokenize, "seconds"),
            field(&self.tokenize, "rows_per_s"),
            field(&self.tokenize, "tokens_per_s"),
            mib(&self.tokenize)
        )
    }
}

/// One phase on the files in `dir`, in this process, as a JSON report.
pub fn phase(phase: Phase, dir: &Path, bench: &DataBench) -> anyhow::Result<serde_json::Value> {
    let (jsonl, records, tokens) = (
        dir.join(BENCH_JSONL),
        dir.join(BENCH_RECORDS),
        dir.join(BENCH_TOKENS),
    );
    let per_s = |n: usize, s: f64| n as f64 / s.max(1e-9);
    let start = Instant::now();
    let mut report = match phase {
        Phase::Import => {
            let mut writer = seal_data::ExampleWriter::create(&records)?;
            let report =
                seal_data::import_jsonl_chunks(&jsonl, &ImportOptions::default(), bench.chunk, |chunk| {
                    writer.write(&chunk)
                })
                .with_context(|| format!("importing {}", jsonl.display()))?;
            let written = writer.finish()?;
            let seconds = start.elapsed().as_secs_f64();
            if report.records != bench.rows || written != bench.rows {
                bail!(
                    "generated {} rows, imported {}, wrote {written}",
                    bench.rows,
                    report.records
                );
            }
            serde_json::json!({ "seconds": seconds, "rows_per_s": per_s(written, seconds) })
        }
        Phase::Tokenize => {
            let tokenizer_dir = bench
                .tokenizer
                .clone()
                .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/world")));
            let tokenizer = TextTokenizer::from_dir(&tokenizer_dir)
                .with_context(|| format!("loading tokenizer {}", tokenizer_dir.display()))?;
            let options = TokenizeOptions {
                template: ChatTemplate::Reference,
                max_len: 512,
                threads: 0,
            };
            let report = seal_data::tokenize_file(&records, &tokenizer, &options, &tokens, bench.chunk)
                .with_context(|| format!("tokenizing {}", records.display()))?;
            let seconds = start.elapsed().as_secs_f64();
            if report.records != bench.rows {
                bail!("imported {} rows, tokenized {}", bench.rows, report.records);
            }
            serde_json::json!({
                "seconds": seconds,
                "rows_per_s": per_s(report.records, seconds),
                "tokens": report.tokens,
                "tokens_per_s": per_s(report.tokens, seconds),
                "dropped": report.dropped.len(),
            })
        }
    };
    report["peak_rss_bytes"] = serde_json::json!(peak_rss_bytes());
    Ok(report)
}

/// Writes `rows` Alpaca-format JSON lines of made-up text (deterministic; every row distinct)
/// and returns the file's size in bytes.
fn write_synthetic_alpaca(path: &Path, rows: usize) -> anyhow::Result<u64> {
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
