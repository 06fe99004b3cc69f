//! `seal bench select`: one selector step of each mode (plain SFT, Algorithm 2, Algorithm 1) on
//! a random model of a given shape, each mode in a process of its own so that its peak memory is
//! its own.

use std::ffi::OsString;
use std::path::Path;

use anyhow::Context;
use seal_models::LlamaConfig;
use seal_models::backend::{CpuTrain, cpu_device};
use seal_models::bench::{SelectMode, bench_select};

/// The model and shape of a training-step benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Rows per step (fine-tuning rows, and as many safe rows).
    pub batch: usize,
    /// Tokens per row.
    pub seq_len: usize,
    /// Timed steps (the median is reported).
    pub steps: usize,
}

/// Reads a Hugging Face `config.json` for a benchmark.
pub fn read_config(path: &Path) -> anyhow::Result<LlamaConfig> {
    let (config, _) =
        LlamaConfig::from_file(path).with_context(|| format!("reading bench config {}", path.display()))?;
    Ok(config)
}

/// One mode, in this process: `{"median_step_s": ..., "peak_bytes": ..., ...}`.
pub fn one_mode(config_path: &Path, mode: SelectMode, shape: &Shape) -> anyhow::Result<serde_json::Value> {
    let config = read_config(config_path)?;
    let report = bench_select::<CpuTrain>(
        &config,
        mode,
        shape.batch,
        shape.seq_len,
        shape.steps,
        &cpu_device(),
    )
    .map_err(|e| anyhow::anyhow!(e))
    .with_context(|| format!("benchmarking {}", mode.name()))?;
    Ok(serde_json::to_value(&report)?)
}

/// Every mode's figures, by mode name.
#[derive(Debug, Clone)]
pub struct SelectReport {
    /// `sft`, `alg2`, `alg1` -> that mode's JSON report.
    pub modes: serde_json::Map<String, serde_json::Value>,
}

/// Every mode, each in a child process (`seal --quiet bench select --mode M ...`).
pub fn all_modes(config_path: &Path, shape: &Shape) -> anyhow::Result<SelectReport> {
    let mut modes = serde_json::Map::new();
    for mode in SelectMode::ALL {
        let mut args: Vec<OsString> = ["--quiet", "bench", "select", "--mode", mode.name(), "--config"]
            .map(OsString::from)
            .to_vec();
        args.push(config_path.into());
        for (flag, value) in [
            ("--batch", shape.batch),
            ("--seq-len", shape.seq_len),
            ("--steps", shape.steps),
        ] {
            args.push(flag.into());
            args.push(value.to_string().into());
        }
        modes.insert(mode.name().into(), super::run_self(&args, mode.name())?);
    }
    Ok(SelectReport { modes })
}

impl SelectReport {
    fn step(&self, mode: &str) -> f64 {
        self.modes[mode]["median_step_s"].as_f64().unwrap_or(f64::NAN)
    }

    /// The modes' reports with each bilevel mode's step time over SFT's and the backend.
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = self.modes.clone();
        out.insert(
            "alg2_over_sft".into(),
            (self.step("alg2") / self.step("sft")).into(),
        );
        out.insert(
            "alg1_over_sft".into(),
            (self.step("alg1") / self.step("sft")).into(),
        );
        out.insert("backend".into(), seal_models::backend::CPU_BACKEND.into());
        serde_json::Value::Object(out)
    }
}

impl std::fmt::Display for SelectReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sft = self.step("sft");
        for mode in SelectMode::ALL {
            let name = mode.name();
            let s = self.step(name);
            let peak = self.modes[name]["peak_bytes"].as_u64().unwrap_or(0) as f64 / (1u64 << 20) as f64;
            writeln!(
                f,
                "{name:>5}: median {s:.3} s/step ({:.2}x sft), peak RSS {peak:.0} MiB",
                s / sft
            )?;
        }
        Ok(())
    }
}
