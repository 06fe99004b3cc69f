//! The generation stage (DESIGN section 6): answer evaluation prompt sets with a model folder,
//! batched with the KV cache, seeded, into a generations JSONL that any judge reads.

use std::path::{Path, PathBuf};

use anyhow::Context;
use seal_data::{TextTokenizer, prompt_ids};
use seal_eval::generations::{GenerationRecord, write_generations};
use seal_models::backend::Backend;
use seal_models::{SamplingConfig, generate, load_llama};
use serde::{Deserialize, Serialize};

use super::common::{TemplateChoice, read_records, require_file};

/// One evaluation prompt set: canonical records whose prompts are answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSet {
    /// Set name in reports (`helpful`, `general`, `harmful`, ...).
    pub name: String,
    /// Canonical records (`.parquet` or `.jsonl`); responses, if any, are ignored.
    pub path: PathBuf,
    /// Answer only the first `limit` prompts (a mixed set's rows are shuffled by its recipe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// What to generate and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateSpec {
    /// Model folder.
    pub model: PathBuf,
    /// Name recorded with every output.
    pub model_name: String,
    /// The prompt sets.
    pub sets: Vec<PromptSet>,
    /// Decoding settings (seed included).
    pub sampling: SamplingConfig,
    /// Prompt template.
    pub template: TemplateChoice,
    /// Prompts per batch.
    pub batch_size: usize,
}

impl GenerateSpec {
    /// Checks inputs before any expensive work.
    pub fn check(&self) -> anyhow::Result<()> {
        require_file(&self.model.join("config.json"))?;
        for set in &self.sets {
            require_file(&set.path).with_context(|| format!("prompt set `{}`", set.name))?;
        }
        anyhow::ensure!(self.batch_size > 0, "generation batch size must be at least 1");
        Ok(())
    }
}

/// One answered prompt.
pub struct Answered<'a> {
    /// The set it came from.
    pub set: &'a str,
    /// The prompt record.
    pub example: seal_data::Example,
    /// The decoded answer, trimmed.
    pub output: String,
    /// Whether the answer ended on a stop token (else it was cut at `max_new_tokens`).
    pub finished: bool,
}

/// Answers every prompt of `spec`'s sets with its model, batched and seeded per batch.
fn answer_all<'a, B: Backend>(
    spec: &'a GenerateSpec,
    device: &B::Device,
) -> anyhow::Result<Vec<Answered<'a>>> {
    spec.check()?;
    let tokenizer = TextTokenizer::from_dir(&spec.model)
        .with_context(|| format!("loading tokenizer of {}", spec.model.display()))?;
    let template = spec.template.resolve(&tokenizer)?;
    let model = load_llama::<B>(&spec.model, device)
        .with_context(|| format!("loading model {}", spec.model.display()))?
        .model;
    let mut sets = Vec::with_capacity(spec.sets.len());
    for set in &spec.sets {
        let mut prompts = read_records(&set.path)?;
        if let Some(limit) = set.limit {
            prompts.truncate(limit);
        }
        sets.push((set, prompts));
    }
    let total: usize = sets.iter().map(|(_, p)| p.len()).sum();
    let mut bar = crate::progress::Progress::new("generate", "prompts", Some(total as u64));
    let mut answered = Vec::with_capacity(total);
    for (set, prompts) in sets {
        bar.set_message(format!("set {}", set.name));
        for (batch_index, batch) in prompts.chunks(spec.batch_size).enumerate() {
            let ids = batch
                .iter()
                .map(|e| prompt_ids(e, &tokenizer, &template))
                .collect::<Result<Vec<_>, _>>()?;
            // Each batch draws from its own seed, so a set's outputs do not depend on which
            // sets came before it.
            let sampling = SamplingConfig {
                seed: spec.sampling.seed.wrapping_add(batch_index as u64),
                ..spec.sampling.clone()
            };
            let outputs = generate(&model, &ids, &sampling, &tokenizer.eos_ids, tokenizer.pad_id)?;
            for (example, answer) in batch.iter().zip(outputs) {
                let finished = answer.last().is_some_and(|t| tokenizer.eos_ids.contains(t));
                answered.push(Answered {
                    set: &set.name,
                    example: example.clone(),
                    output: tokenizer.decode(&answer, true)?.trim().to_string(),
                    finished,
                });
            }
            bar.inc(batch.len() as u64);
        }
        tracing::info!(set = %set.name, prompts = prompts.len(), "generated");
    }
    Ok(answered)
}

/// Generates every set's answers and writes them to `out` (JSONL, atomically).
pub fn run<B: Backend>(
    spec: &GenerateSpec,
    out: &Path,
    device: &B::Device,
) -> anyhow::Result<Vec<GenerationRecord>> {
    let settings = serde_json::to_value(&spec.sampling).context("serialising sampling settings")?;
    let records: Vec<GenerationRecord> = answer_all::<B>(spec, device)?
        .into_iter()
        .map(|a| {
            let prompt: Vec<&str> = a.example.prompt.iter().map(|m| m.content.as_str()).collect();
            GenerationRecord {
                prompt_id: a.example.id.to_string(),
                set: a.set.to_string(),
                category: a.example.category.clone(),
                model: spec.model_name.clone(),
                seed: spec.sampling.seed,
                settings: settings.clone(),
                prompt: prompt.join("\n\n"),
                output: a.output,
            }
        })
        .collect();
    write_generations(out, &records)?;
    Ok(records)
}

/// Which answers [`distill`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutAnswers {
    /// Leave out the answers cut at `max_new_tokens`: training on them would teach stopping
    /// mid-sentence (self-distillation for SFT).
    Drop,
    /// Keep them: as the rejected side of a preference pair, a compliance cut at the limit is
    /// still the behaviour to push down, and dropping them keeps only the short ones.
    Keep,
}

/// Self-distillation data: the model's own answers to every prompt as canonical training
/// records (the prompt record with `response` = the answer, `source` = `source`). Empty answers
/// are always left out, and the answers cut at `max_new_tokens` unless `cut_answers` keeps
/// them; the ids of the answers left out are returned beside.
pub fn distill<B: Backend>(
    spec: &GenerateSpec,
    source: &str,
    cut_answers: CutAnswers,
    device: &B::Device,
) -> anyhow::Result<(Vec<seal_data::Example>, Vec<String>)> {
    let mut kept = Vec::new();
    let mut cut = Vec::new();
    for a in answer_all::<B>(spec, device)? {
        let complete_enough = a.finished || cut_answers == CutAnswers::Keep;
        if complete_enough && !a.output.is_empty() {
            kept.push(seal_data::Example {
                source: source.to_string(),
                response: Some(a.output),
                ..a.example
            });
        } else {
            cut.push(a.example.id.to_string());
        }
    }
    Ok((kept, cut))
}

/// [`distill`], written to `out` as canonical records (`.parquet` or `.jsonl`, atomically);
/// returns how many answers were kept and the ids of those left out.
pub fn distill_to<B: Backend>(
    spec: &GenerateSpec,
    out: &Path,
    cut_answers: CutAnswers,
    device: &B::Device,
) -> anyhow::Result<(usize, Vec<String>)> {
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or_default();
    anyhow::ensure!(
        matches!(ext, "parquet" | "jsonl"),
        "--out {}: --distill writes canonical records, .parquet or .jsonl",
        out.display()
    );
    let (records, cut) = distill::<B>(spec, "self-distill", cut_answers, device)?;
    anyhow::ensure!(
        !records.is_empty(),
        "no answer to keep: every answer was empty{}",
        match cut_answers {
            CutAnswers::Drop => format!(" or cut at --max-new-tokens {}", spec.sampling.max_new_tokens),
            CutAnswers::Keep => String::new(),
        }
    );
    seal_data::write_examples(out, &records).with_context(|| format!("writing {}", out.display()))?;
    Ok((records.len(), cut))
}

/// A free-text prompt's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TextAnswer {
    /// The decoded answer, special tokens left out.
    pub answer: String,
    /// Tokens generated.
    pub new_tokens: usize,
}

/// Answers free-text prompts (`seal generate --prompt ...`) with a model folder, in one batch.
/// With a template, each prompt is cut where a training row of it ends its prompt, as the
/// evaluation sets are (`seal_data::prompt_ids`): the same tokens at the prompt/answer seam;
/// without one, the text is fed raw.
pub fn answer_texts<B: Backend>(
    model: &Path,
    texts: &[String],
    template: Option<TemplateChoice>,
    sampling: &SamplingConfig,
    device: &B::Device,
) -> anyhow::Result<Vec<TextAnswer>> {
    let tokenizer = TextTokenizer::from_dir(model)
        .with_context(|| format!("loading tokenizer of {}", model.display()))?;
    let loaded =
        load_llama::<B>(model, device).with_context(|| format!("loading model {}", model.display()))?;
    let template = template.map(|t| t.resolve(&tokenizer)).transpose()?;
    let mut prompts = Vec::with_capacity(texts.len());
    for text in texts {
        prompts.push(match &template {
            Some(t) => {
                let turns = vec![seal_data::ChatMessage::user(text)];
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
                prompt_ids(&example, &tokenizer, t)?
            }
            None => tokenizer.encode(text, true)?,
        });
    }
    let start = std::time::Instant::now();
    let outputs = generate(
        &loaded.model,
        &prompts,
        sampling,
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
    outputs
        .iter()
        .map(|ids| {
            Ok(TextAnswer {
                answer: tokenizer.decode(ids, true)?,
                new_tokens: ids.len(),
            })
        })
        .collect()
}
