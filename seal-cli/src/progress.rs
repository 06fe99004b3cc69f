//! Progress of every long command, drawn the same way everywhere: on a terminal an `indicatif`
//! bar (position of total, rate, ETA, the current loss); anywhere else (a log file, CI, the
//! stage processes of `seal ablate`) a plain log line at most every [`plain_interval`]; nothing
//! with `--quiet`. Log lines printed while a bar is drawn go above it ([`LogWriter`]).
//!
//! And the per-step metrics stream of the training commands: `metrics.jsonl`, one JSON object
//! per optimizer step, appended and flushed as it happens so a user can `tail -f` or plot it.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// The bar being drawn, if any: log lines suspend it while they print.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Sets `--quiet` for every progress report of this process.
pub fn init(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Makes `bar` (drawn by its owner, as `seal ablate`'s stage bar) the one log lines print above.
pub fn logs_above(bar: &ProgressBar) {
    if let Ok(mut active) = ACTIVE.lock() {
        *active = Some(bar.clone());
    }
}

/// How often a plain (non-terminal) report logs a line: `SEAL_PROGRESS_INTERVAL_S` seconds,
/// default 30.
pub fn plain_interval() -> Duration {
    std::env::var("SEAL_PROGRESS_INTERVAL_S")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(30), Duration::from_secs_f64)
}

/// The tracing writer: stderr, with the active bar (if any) lifted while a line prints.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let active = ACTIVE.lock().ok().and_then(|a| a.clone());
        match active {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

enum Sink {
    Bar(ProgressBar),
    Plain { last: Instant, every: Duration },
    Silent,
}

/// One long job's progress: `what` (e.g. `selector`), counted in `unit`s (`steps`, `rows`).
pub struct Progress {
    what: String,
    unit: &'static str,
    total: Option<u64>,
    position: u64,
    /// Where this process started counting (a resumed run starts past 0): the rate counts
    /// only what this process did.
    first: u64,
    started: Instant,
    message: String,
    sink: Sink,
}

impl Progress {
    /// A report of `total` `unit`s (`None`: a count without an end, as a streamed import).
    pub fn new(what: &str, unit: &'static str, total: Option<u64>) -> Self {
        let sink = if QUIET.load(Ordering::Relaxed) {
            Sink::Silent
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let template = if total.is_some() {
                format!(
                    "{what} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit} ({{per_sec}}, ETA {{eta}}) {{msg}}"
                )
            } else {
                format!("{what} [{{elapsed_precise}}] {{spinner}} {{pos}} {unit} ({{per_sec}}) {{msg}}")
            };
            bar.set_style(ProgressStyle::with_template(&template).expect("a valid template"));
            bar.enable_steady_tick(Duration::from_millis(250));
            logs_above(&bar);
            Sink::Bar(bar)
        } else {
            Sink::Plain {
                last: Instant::now(),
                every: plain_interval(),
            }
        };
        Self {
            what: what.to_string(),
            unit,
            total,
            position: 0,
            first: 0,
            started: Instant::now(),
            message: String::new(),
            sink,
        }
    }

    /// Starts counting at `position` (a resumed run), without counting it toward the rate.
    pub fn resume_at(&mut self, position: u64) {
        self.position = position;
        self.first = position;
        if let Sink::Bar(bar) = &self.sink {
            bar.set_position(position);
            bar.reset_eta();
        }
    }

    /// The current loss, γ, ... shown after the counts.
    pub fn set_message(&mut self, message: String) {
        if let Sink::Bar(bar) = &self.sink {
            bar.set_message(message.clone());
        }
        self.message = message;
    }

    /// `n` more done.
    pub fn inc(&mut self, n: u64) {
        self.set_position(self.position + n);
    }

    /// `position` done in all.
    pub fn set_position(&mut self, position: u64) {
        self.position = position;
        match &mut self.sink {
            Sink::Bar(bar) => bar.set_position(position),
            Sink::Plain { last, every } => {
                let end = self.total.is_some_and(|t| position >= t);
                if last.elapsed() >= *every || end {
                    *last = Instant::now();
                    tracing::info!("{}", self.line());
                }
            }
            Sink::Silent => {}
        }
    }

    /// `selector: 12/40 steps (30%), 1.31 steps/s, ETA 21 s; loss 2.31`.
    fn line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = (self.position - self.first) as f64 / elapsed;
        let mut line = match self.total {
            Some(total) => {
                let left = total.saturating_sub(self.position) as f64;
                let eta = if rate > 0.0 {
                    format!("ETA {:.0} s", left / rate)
                } else {
                    "ETA unknown".into()
                };
                format!(
                    "{}: {}/{} {} ({:.0}%), {:.3} {}/s, {eta}",
                    self.what,
                    self.position,
                    total,
                    self.unit,
                    100.0 * self.position as f64 / total.max(1) as f64,
                    rate,
                    self.unit
                )
            }
            None => format!(
                "{}: {} {}, {:.1} {}/s",
                self.what, self.position, self.unit, rate, self.unit
            ),
        };
        if !self.message.is_empty() {
            line.push_str("; ");
            line.push_str(&self.message);
        }
        line
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Sink::Bar(bar) = &self.sink {
            bar.finish_and_clear();
            if let Ok(mut active) = ACTIVE.lock() {
                *active = None;
            }
        }
    }
}

/// `metrics.jsonl`: one JSON object per optimizer step, flushed as written.
pub struct MetricsStream {
    path: PathBuf,
    file: File,
}

/// The name of the metrics stream in a run folder.
pub const METRICS_STREAM: &str = "metrics.jsonl";

impl MetricsStream {
    /// Opens `dir/metrics.jsonl` for a run whose next optimizer step is `from_step` (0 for a
    /// fresh run). Lines of steps at or past it (written before a crash, to be redone by the
    /// resumed run) are dropped, so the stream of a resumed run reads like an uninterrupted one.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn open(dir: &Path, from_step: u64) -> anyhow::Result<Self> {
        let path = dir.join(METRICS_STREAM);
        let kept: Vec<String> = if from_step == 0 {
            Vec::new()
        } else {
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .filter(|line| {
                    serde_json::from_str::<serde_json::Value>(line)
                        .ok()
                        .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64))
                        .is_some_and(|s| s < from_step)
                })
                .map(str::to_string)
                .collect()
        };
        let text: String = kept.iter().map(|l| format!("{l}\n")).collect();
        seal_io::write_atomic(&path, text.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Self { path, file })
    }

    /// Appends one step's record.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn write(&mut self, record: &serde_json::Value) -> anyhow::Result<()> {
        let line = format!("{record}\n");
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .with_context(|| format!("writing {}", self.path.display()))
    }

    /// Appends a model trainer's step (fine-tuning, preference tuning): its loss, rate, tokens,
    /// and the step's and the run's wall time so far. A failed write is logged, not fatal: the
    /// checkpoint still saves the run (a full disk must not kill it).
    pub fn write_train_step(&mut self, step: &seal_models::TrainStep, step_s: f64, elapsed_s: f64) {
        let record = serde_json::json!({
            "step": step.global_step,
            "epoch": step.epoch,
            "epoch_step": step.step,
            "steps_per_epoch": step.steps,
            "loss": step.loss,
            "lr": step.lr,
            "tokens": step.tokens,
            "tokens_per_s": step.tokens as f64 / step_s,
            "step_s": step_s,
            "elapsed_s": elapsed_s,
        });
        if let Err(e) = self.write(&record) {
            tracing::warn!("{e:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(dir: &Path) -> Vec<u64> {
        std::fs::read_to_string(dir.join(METRICS_STREAM))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn a_resumed_stream_drops_the_steps_it_will_redo() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = MetricsStream::open(dir.path(), 0).unwrap();
        for step in 0..6 {
            first
                .write(&serde_json::json!({"step": step, "loss": 1.0}))
                .unwrap();
        }
        drop(first);
        // The last checkpoint was after step 2: steps 3.. are run again by the resumed run.
        let mut resumed = MetricsStream::open(dir.path(), 3).unwrap();
        assert_eq!(steps(dir.path()), [0, 1, 2]);
        for step in 3..5 {
            resumed.write(&serde_json::json!({"step": step})).unwrap();
        }
        assert_eq!(steps(dir.path()), [0, 1, 2, 3, 4]);
        // A fresh run starts an empty stream.
        MetricsStream::open(dir.path(), 0).unwrap();
        assert!(steps(dir.path()).is_empty());
    }

    #[test]
    fn plain_lines_carry_counts_rate_eta_and_the_message() {
        let mut p = Progress {
            what: "selector".into(),
            unit: "steps",
            total: Some(40),
            position: 12,
            first: 2,
            started: Instant::now() - Duration::from_secs(10),
            message: "loss 2.31".into(),
            sink: Sink::Silent,
        };
        let line = p.line();
        assert!(line.starts_with("selector: 12/40 steps (30%), 1.0"), "{line}");
        assert!(
            line.contains("ETA 28 s") && line.ends_with("; loss 2.31"),
            "{line}"
        );
        p.total = None;
        assert!(
            p.line().starts_with("selector: 12 steps, 1.0 steps/s"),
            "{}",
            p.line()
        );
    }
}
