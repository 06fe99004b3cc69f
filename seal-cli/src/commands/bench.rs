//! `seal bench`: training-step, selector-step, data and generation throughput, printed as text
//! or JSON (the multi-process measurements live in `seal_cli::bench`).

use anyhow::Context;
use seal_cli::bench::data::{self, DataBench, phase};
use seal_cli::bench::select::{all_modes, one_mode, read_config};
use seal_models::backend::{Cpu, CpuTrain, cpu_device};
use seal_models::bench::{bench_generate, bench_train_step};
use seal_models::{LlamaConfig, init_random, load_llama};

use crate::cli::BenchCommand;

pub fn exec(command: BenchCommand) -> anyhow::Result<()> {
    let device = cpu_device();
    match command {
        BenchCommand::TrainStep(args) => {
            let config = read_config(&args.shape.config)?;
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
        BenchCommand::Select(args) => {
            let shape = args.shape.shape();
            if let Some(mode) = args.mode {
                println!("{}", one_mode(&args.shape.config, mode.into(), &shape)?);
            } else if args.json {
                println!("{}", all_modes(&args.shape.config, &shape)?.to_json());
            } else {
                print!("{}", all_modes(&args.shape.config, &shape)?);
            }
        }
        BenchCommand::Data(args) => {
            let bench = DataBench {
                rows: args.rows,
                chunk: args.chunk,
                tokenizer: args.tokenizer,
            };
            if let Some(p) = args.phase {
                let dir = args.dir.as_deref().context("--phase needs --dir")?;
                println!("{}", phase(p, dir, &bench)?);
            } else if args.json {
                println!("{}", data::run(&bench, args.dir.as_deref())?.to_json());
            } else {
                print!("{}", data::run(&bench, args.dir.as_deref())?);
            }
        }
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
