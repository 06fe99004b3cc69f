//! Templating and tokenization of canonical records into training rows: the prompt rendered
//! with a chat template (ending where the answer starts), then the response and the eos token;
//! the loss mask marks the response and eos (DESIGN section 2: response-only loss). Prompt and
//! response are encoded as one text and split at the prompt's last byte, so the answer's first
//! token is the one the model reads there (a template ending in a space and a byte-level BPE
//! would otherwise split `ĠSure` into `Ġ` + `Sure`).
//!
//! Rows longer than the length limit are dropped, not truncated (a truncated answer teaches
//! the model to stop mid-sentence), and every drop is reported by id, so a selection made
//! upstream is matched by id and never shifted by the filter.

use seal_core::{ExampleId, TokenizedExample};

use crate::error::{DataError, Result};
use crate::record::Example;
use crate::text::{ChatTemplate, TextTokenizer};

/// How records become token rows.
#[derive(Debug, Clone)]
pub struct TokenizeOptions {
    /// How prompt turns become text.
    pub template: ChatTemplate,
    /// Longest row kept, in tokens (prompt + response + eos).
    pub max_len: usize,
    /// Threads to tokenize with (0: all available cores).
    pub threads: usize,
}

/// One kept row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedRow {
    /// The record's id.
    pub id: ExampleId,
    /// Tokens and loss mask.
    pub tokens: TokenizedExample,
    /// Number of prompt tokens (the rest is response and eos).
    pub prompt_len: usize,
}

/// Why a record was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedRow {
    /// The record's id.
    pub id: ExampleId,
    /// Its length in tokens.
    pub length: usize,
    /// A short reason, e.g. `longer than 256 tokens`.
    pub reason: String,
}

/// The outcome of [`tokenize_examples`]: kept rows in input order and what was dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokenized {
    /// Kept rows, in the order of the input records.
    pub rows: Vec<TokenizedRow>,
    /// Dropped records, in input order.
    pub dropped: Vec<DroppedRow>,
}

impl Tokenized {
    /// The kept ids, in order.
    pub fn ids(&self) -> Vec<ExampleId> {
        self.rows.iter().map(|r| r.id.clone()).collect()
    }

    /// The kept rows' tokens, in order.
    pub fn examples(&self) -> Vec<TokenizedExample> {
        self.rows.iter().map(|r| r.tokens.clone()).collect()
    }

    /// Total tokens of the kept rows.
    pub fn token_count(&self) -> usize {
        self.rows.iter().map(|r| r.tokens.input_ids.len()).sum()
    }
}

/// The prompt of `example` as token ids, ending where the answer starts (for generation): the
/// prompt tokens of a training row of this prompt.
///
/// # Errors
/// [`DataError::Tokenize`] naming the example.
pub fn prompt_ids(example: &Example, tokenizer: &TextTokenizer, template: &ChatTemplate) -> Result<Vec<u32>> {
    let wrap = |source| DataError::Tokenize {
        id: example.id.clone(),
        source,
    };
    let text = template.render(&example.prompt, true).map_err(wrap)?;
    // A model's own template spells out its special tokens (as transformers'
    // apply_chat_template does); the reference template relies on the tokenizer's bos.
    let add_special_tokens = matches!(template, ChatTemplate::Reference);
    // The prompt the training rows end with: tokens that a following word would merge into
    // (the reference template's closing space) are left for the model to generate, as it
    // learnt to (`ĠSure`, see `TextTokenizer::encode_pair`); the decoded answer is trimmed.
    let (mut ids, prompt_len) = tokenizer
        .encode_pair(&text, ANSWER_PROBE, add_special_tokens)
        .map_err(wrap)?;
    ids.truncate(prompt_len);
    Ok(ids)
}

/// A word standing in for an answer's first word when the generation prompt is cut where the
/// training rows cut it.
const ANSWER_PROBE: &str = "Sure";

/// Tokenizes training records: prompt (templated) + response + eos, loss on response and eos.
///
/// # Errors
/// [`DataError::Tokenize`] if the template or tokenizer fails on a record, and
/// [`DataError::MissingResponse`] for a record without a response (prompt-only records are for
/// evaluation, not training).
pub fn tokenize_examples(
    examples: &[Example],
    tokenizer: &TextTokenizer,
    options: &TokenizeOptions,
) -> Result<Tokenized> {
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let chunk = examples.len().div_ceil(threads.max(1)).max(1);
    // Each thread tokenizes one contiguous chunk, so joining the chunks in order keeps the
    // input order whatever the thread count.
    let parts: Vec<Result<Vec<Outcome>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = examples
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|e| tokenize_one(e, tokenizer, options))
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut out = Tokenized::default();
    for part in parts {
        for outcome in part? {
            match outcome {
                Outcome::Kept(row) => out.rows.push(row),
                Outcome::Dropped(row) => out.dropped.push(row),
            }
        }
    }
    Ok(out)
}

enum Outcome {
    Kept(TokenizedRow),
    Dropped(DroppedRow),
}

fn tokenize_one(example: &Example, tokenizer: &TextTokenizer, options: &TokenizeOptions) -> Result<Outcome> {
    let wrap = |source| DataError::Tokenize {
        id: example.id.clone(),
        source,
    };
    let response = example
        .response
        .as_deref()
        .ok_or_else(|| DataError::MissingResponse {
            id: example.id.clone(),
        })?;
    // A row certainly longer than max_len is dropped before it is encoded: one 200 MB record
    // would otherwise cost tens of GB in the tokenizer. The template only adds text.
    let text_bytes = example.prompt.iter().map(|m| m.content.len()).sum::<usize>() + response.len();
    let at_least = tokenizer.min_tokens(text_bytes);
    if at_least > options.max_len {
        return Ok(Outcome::Dropped(DroppedRow {
            id: example.id.clone(),
            length: at_least,
            reason: format!(
                "longer than {} tokens ({text_bytes} bytes of text: at least {at_least} tokens, not encoded)",
                options.max_len
            ),
        }));
    }
    // Prompt and response are encoded as one text and split where the prompt's bytes end, so
    // the first answer token is the one the model reads after this prompt (see
    // `TextTokenizer::encode_pair`), not the start of a separate encoding.
    let prompt_text = options.template.render(&example.prompt, true).map_err(wrap)?;
    let add_special_tokens = matches!(options.template, ChatTemplate::Reference);
    let (mut input_ids, prompt_len) = tokenizer
        .encode_pair(&prompt_text, response, add_special_tokens)
        .map_err(wrap)?;
    // Checked before the eos goes on: a row whose only target is the eos teaches nothing but
    // to stop, and was kept that way while the check came after it.
    let empty = response.is_empty() || input_ids.len() == prompt_len;
    if let Some(&eos) = tokenizer.eos_ids.first() {
        input_ids.push(eos);
    }
    let length = input_ids.len();
    let dropped = |reason: String| {
        Ok(Outcome::Dropped(DroppedRow {
            id: example.id.clone(),
            length,
            reason,
        }))
    };
    if empty {
        return dropped("empty response".to_string());
    }
    if length > options.max_len {
        return dropped(format!("longer than {} tokens", options.max_len));
    }
    let mut loss_mask = vec![0u8; prompt_len];
    loss_mask.resize(length, 1);
    Ok(Outcome::Kept(TokenizedRow {
        id: example.id.clone(),
        tokens: TokenizedExample { input_ids, loss_mask },
        prompt_len,
    }))
}
