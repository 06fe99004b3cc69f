//! `seal generate`: answer prompts with a model folder.

use anyhow::Context;
use seal_models::SamplingConfig;

use crate::cli::GenerateArgs;
use seal_cli::stages::common::TemplateChoice;
use seal_cli::stages::generate::{CutAnswers, GenerateSpec, PromptSet};

pub fn exec(args: GenerateArgs) -> anyhow::Result<()> {
    if let Some(prompts) = &args.prompts {
        return generate_set(&args, prompts);
    }
    let template = if args.chat {
        Some(TemplateChoice::Model)
    } else if args.raw {
        None
    } else {
        Some(TemplateChoice::Reference)
    };
    let sampling = sampling_of(&args);
    let answers = seal_models::on_device!(
        args.device,
        seal_cli::stages::generate::answer_texts,
        &args.model,
        &args.prompt,
        template,
        &sampling
    )?;
    for (prompt, a) in args.prompt.iter().zip(&answers) {
        if args.json {
            let line = serde_json::json!({ "prompt": prompt, "answer": a.answer, "new_tokens": a.new_tokens, "seed": args.seed });
            println!("{line}");
        } else {
            println!("{}", a.answer.trim());
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
        let cut_answers = if args.keep_cut {
            CutAnswers::Keep
        } else {
            CutAnswers::Drop
        };
        let (kept, left_out) = seal_models::on_device!(
            device,
            seal_cli::stages::generate::distill_to,
            &spec,
            out,
            cut_answers
        )?;
        let why = match cut_answers {
            CutAnswers::Drop => format!("cut at --max-new-tokens {} or empty", args.max_new_tokens),
            CutAnswers::Keep => "empty".to_string(),
        };
        println!(
            "{kept} answers -> {} ({} {why} left out{})",
            out.display(),
            left_out.len(),
            if left_out.is_empty() {
                String::new()
            } else {
                format!(": {}", left_out.join(", "))
            }
        );
        return Ok(());
    }
    let records = seal_models::on_device!(device, seal_cli::stages::generate::run, &spec, out)?;
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
