//! `seal generate`: answer prompts with a model folder.

use anyhow::Context;
use seal_data::{ChatMessage, ChatTemplate, TextTokenizer};
use seal_models::backend::{Cpu, cpu_device};
use seal_models::{SamplingConfig, generate, load_llama};

use crate::cli::GenerateArgs;
use crate::stages::common::TemplateChoice;
use crate::stages::generate::{GenerateSpec, PromptSet};

pub fn exec(args: GenerateArgs) -> anyhow::Result<()> {
    if let Some(prompts) = &args.prompts {
        return generate_set(&args, prompts);
    }
    let device = cpu_device();
    let tokenizer = TextTokenizer::from_dir(&args.model)
        .with_context(|| format!("loading tokenizer of {}", args.model.display()))?;
    let loaded = load_llama::<Cpu>(&args.model, &device)
        .with_context(|| format!("loading model {}", args.model.display()))?;
    let template = if args.chat {
        Some(tokenizer.model_template()?)
    } else if args.raw {
        None
    } else {
        Some(ChatTemplate::Reference)
    };

    let mut prompts = Vec::with_capacity(args.prompt.len());
    for text in &args.prompt {
        let ids = match &template {
            // Cut where a training row of this prompt ends its prompt, as the evaluation sets
            // are (`seal_data::prompt_ids`): the same tokens at the prompt/answer seam.
            Some(t) => {
                let turns = vec![ChatMessage::user(text)];
                let example = seal_data::Example {
                    id: seal_data::content_id(&turns, None),
                    source: "--prompt".into(),
                    prompt: turns,
                    response: None,
                    label: seal_data::Label::default(),
                    category: None,
                    split: None,
                    novel: false,
                };
                seal_data::prompt_ids(&example, &tokenizer, t)?
            }
            None => tokenizer.encode(text, true)?,
        };
        prompts.push(ids);
    }
    let sampling = sampling_of(&args);
    let start = std::time::Instant::now();
    let outputs = generate(
        &loaded.model,
        &prompts,
        &sampling,
        &tokenizer.eos_ids,
        tokenizer.pad_id,
    )?;
    let elapsed = start.elapsed().as_secs_f64();
    let generated: usize = outputs.iter().map(Vec::len).sum();
    tracing::info!(
        tokens = generated,
        seconds = elapsed,
        tokens_per_s = generated as f64 / elapsed,
        "generated"
    );
    for (prompt, ids) in args.prompt.iter().zip(&outputs) {
        let answer = tokenizer.decode(ids, true)?;
        if args.json {
            let line = serde_json::json!({ "prompt": prompt, "answer": answer, "new_tokens": ids.len(), "seed": args.seed });
            println!("{line}");
        } else {
            println!("{}", answer.trim());
        }
    }
    Ok(())
}

/// `--prompts FILE --out FILE`: a whole evaluation set through the generation stage.
fn generate_set(args: &GenerateArgs, prompts: &std::path::Path) -> anyhow::Result<()> {
    let out = args.out.as_deref().context("--prompts needs --out")?;
    let name = args.set.clone().unwrap_or_else(|| {
        prompts
            .file_stem()
            .map_or_else(|| "prompts".to_string(), |s| s.to_string_lossy().into_owned())
    });
    let spec = GenerateSpec {
        model: args.model.clone(),
        model_name: args.model.display().to_string(),
        sets: vec![PromptSet {
            name,
            path: prompts.to_path_buf(),
            limit: None,
        }],
        sampling: sampling_of(args),
        template: if args.chat {
            TemplateChoice::Model
        } else {
            TemplateChoice::Reference
        },
        batch_size: args.batch_size,
    };
    let device = args.device;
    if args.distill {
        let ext = out.extension().and_then(|e| e.to_str()).unwrap_or_default();
        anyhow::ensure!(
            matches!(ext, "parquet" | "jsonl"),
            "--out {}: --distill writes canonical records, .parquet or .jsonl",
            out.display()
        );
        let (records, cut) =
            seal_models::on_device!(device, crate::stages::generate::distill, &spec, "self-distill")?;
        anyhow::ensure!(
            !records.is_empty(),
            "no answer finished within --max-new-tokens {}",
            args.max_new_tokens
        );
        if ext == "parquet" {
            seal_data::write_parquet(out, &records)?;
        } else {
            seal_data::write_jsonl(out, &records)?;
        }
        println!(
            "{} finished answers -> {} ({} cut at --max-new-tokens {} left out{})",
            records.len(),
            out.display(),
            cut.len(),
            args.max_new_tokens,
            if cut.is_empty() {
                String::new()
            } else {
                format!(": {}", cut.join(", "))
            }
        );
        return Ok(());
    }
    let records = seal_models::on_device!(device, crate::stages::generate::run, &spec, out)?;
    println!("{} answers -> {}", records.len(), out.display());
    Ok(())
}

fn sampling_of(args: &GenerateArgs) -> SamplingConfig {
    SamplingConfig {
        greedy: args.greedy,
        temperature: args.temperature,
        top_p: args.top_p,
        repetition_penalty: args
            .repetition_penalty
            .unwrap_or(if args.greedy { 1.0 } else { 1.2 }),
        max_new_tokens: args.max_new_tokens,
        seed: args.seed,
    }
}
