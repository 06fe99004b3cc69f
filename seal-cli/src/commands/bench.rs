//! `seal bench`: training-step and generation throughput, printed as text or JSON.

use anyhow::Context;
use seal_models::backend::{Cpu, CpuTrain, cpu_device};
use seal_models::bench::{SelectMode, bench_generate, bench_select, bench_train_step};
use seal_models::{LlamaConfig, init_random, load_llama};

use crate::cli::{BenchCommand, BenchSelectArgs};

pub fn exec(command: BenchCommand) -> anyhow::Result<()> {
    let device = cpu_device();
    match command {
        BenchCommand::TrainStep(args) => {
            let (config, _) = LlamaConfig::from_file(&args.shape.config)
                .with_context(|| format!("reading bench config {}", args.shape.config.display()))?;
            let report = bench_train_step::<CpuTrain>(
                &config,
                args.shape.batch,
                args.shape.seq_len,
                args.shape.steps,
                &device,
            )?;
            if args.json {
                let out = serde_json::json!({
                    "tokens_per_s": report.tokens_per_s,
                    "median_step_s": report.median_step_s,
                    "step_s": report.step_s,
                    "peak_bytes": report.peak_bytes,
                    "params": config.num_params(),
                    "batch": args.shape.batch,
                    "seq_len": args.shape.seq_len,
                    "backend": seal_models::backend::CPU_BACKEND,
                });
                println!("{out}");
            } else {
                println!(
                    "train step ({} params, batch {} x seq {}): median {:.3} s, {:.0} tokens/s, peak RSS {} MiB",
                    config.num_params(),
                    args.shape.batch,
                    args.shape.seq_len,
                    report.median_step_s,
                    report.tokens_per_s,
                    report.peak_bytes.unwrap_or(0) / (1 << 20)
                );
            }
        }
        BenchCommand::Select(args) => return select(args),
        BenchCommand::Data(args) => return super::data::bench(args),
        BenchCommand::Generate(args) => {
            let model = match (&args.model, &args.config) {
                (Some(dir), _) => {
                    load_llama::<Cpu>(dir, &device)
                        .with_context(|| format!("loading {}", dir.display()))?
                        .model
                }
                (None, Some(path)) => {
                    let (config, _) = LlamaConfig::from_file(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    init_random::<Cpu>(&config, 0.02, &device)
                }
                (None, None) => anyhow::bail!("give --config or --model"),
            };
            let report = bench_generate(&model, args.batch, args.prompt_len, args.new_tokens, args.runs)?;
            if args.json {
                let out = serde_json::json!({
                    "tokens_per_s": report.tokens_per_s,
                    "median_run_s": report.median_step_s,
                    "batch": args.batch, "prompt_len": args.prompt_len, "new_tokens": args.new_tokens,
                    "peak_bytes": report.peak_bytes,
                });
                println!("{out}");
            } else {
                println!(
                    "generate (batch {}, prompt {}, {} new tokens): median {:.3} s, {:.0} tokens/s",
                    args.batch, args.prompt_len, args.new_tokens, report.median_step_s, report.tokens_per_s
                );
            }
        }
    }
    Ok(())
}

fn select(args: BenchSelectArgs) -> anyhow::Result<()> {
    let (config, _) = LlamaConfig::from_file(&args.shape.config)
        .with_context(|| format!("reading bench config {}", args.shape.config.display()))?;
    if let Some(name) = &args.mode {
        let mode = SelectMode::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .with_context(|| format!("unknown mode `{name}` (sft, alg2, alg1)"))?;
        let report = bench_select::<CpuTrain>(
            &config,
            mode,
            args.shape.batch,
            args.shape.seq_len,
            args.shape.steps,
            &cpu_device(),
        )
        .map_err(|e| anyhow::anyhow!(e))
        .with_context(|| format!("benchmarking {name}"))?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    // Peak RSS is a process-wide high-water mark: each mode gets a process of its own.
    let exe = std::env::current_exe().context("locating the seal binary")?;
    let mut results = serde_json::Map::new();
    for mode in SelectMode::ALL {
        let out = std::process::Command::new(&exe)
            .args(["--quiet", "bench", "select", "--mode", mode.name()])
            .arg("--config")
            .arg(&args.shape.config)
            .args([
                "--batch",
                &args.shape.batch.to_string(),
                "--seq-len",
                &args.shape.seq_len.to_string(),
            ])
            .args(["--steps", &args.shape.steps.to_string()])
            .output()
            .with_context(|| format!("running the {} benchmark", mode.name()))?;
        if !out.status.success() {
            anyhow::bail!(
                "{} benchmark failed: {}",
                mode.name(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("reading the {} benchmark's output", mode.name()))?;
        results.insert(mode.name().into(), report);
    }
    let step = |m: &str| results[m]["median_step_s"].as_f64().unwrap_or(f64::NAN);
    let (sft, alg2, alg1) = (step("sft"), step("alg2"), step("alg1"));
    if args.json {
        let mut out = results.clone();
        out.insert("alg2_over_sft".into(), (alg2 / sft).into());
        out.insert("alg1_over_sft".into(), (alg1 / sft).into());
        out.insert("backend".into(), seal_models::backend::CPU_BACKEND.into());
        println!("{}", serde_json::Value::Object(out));
    } else {
        for (name, s) in [("sft", sft), ("alg2", alg2), ("alg1", alg1)] {
            let peak = results[name]["peak_bytes"].as_u64().unwrap_or(0) as f64 / (1u64 << 20) as f64;
            println!(
                "{name:>5}: median {s:.3} s/step ({:.2}x sft), peak RSS {peak:.0} MiB",
                s / sft
            );
        }
    }
    Ok(())
}
