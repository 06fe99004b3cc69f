//! Rebuilding a Hugging Face `tokenizer.json` and `tokenizer_config.json` from the
//! `tokenizer.*` metadata of a GGUF file.
//!
//! Only byte-level BPE (`tokenizer.ggml.model = "gpt2"`) is rebuilt. The vocabulary, merges and
//! token types come straight from the file; what a GGUF does not store is the pre-tokenizer,
//! only its llama.cpp name in `tokenizer.ggml.pre`, which is mapped back to the split regexes
//! llama.cpp (`llama-vocab.cpp`) and transformers (`integrations/gguf`) use for that name.

use serde_json::{Map, Value, json};

use super::reader::{GgufFile, GgufValue};
use crate::error::Result;

/// llama.cpp's token types (`enum llama_token_type`).
const TOKEN_TYPE_CONTROL: i64 = 3;
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// Llama 3's split regex (the original from its `tokenizer.json`, as transformers uses it).
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2's split regex: Llama 3's with single digits.
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// GPT-4o's (and Llama 4's) split regex.
const GPT4O_SPLIT: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Mistral's Tekken split regex.
const TEKKEN_SPLIT: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The pre-tokenizer families, keyed by the `tokenizer.ggml.pre` names llama.cpp gives them.
const PRE_TOKENIZERS: &[(&[&str], PreTokenizer)] = &[
    (
        &["default", "gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais"],
        PreTokenizer::Gpt2,
    ),
    (
        &[
            "smollm",
            "starcoder",
            "refact",
            "command-r",
            "codeshell",
            "exaone",
            "minerva-7b",
        ],
        PreTokenizer::DigitsThenGpt2,
    ),
    (
        &[
            "llama3",
            "llama-v3",
            "llama-bpe",
            "falcon3",
            "falcon-h1",
            "pixtral",
            "midm-2.0",
            "lfm2",
            "dbrx",
            "smaug-bpe",
        ],
        PreTokenizer::Split(LLAMA3_SPLIT),
    ),
    (
        &["qwen2", "deepseek-r1-qwen", "megrez", "stablelm2"],
        PreTokenizer::Split(QWEN2_SPLIT),
    ),
    (&["gpt-4o", "llama4"], PreTokenizer::Split(GPT4O_SPLIT)),
    (&["tekken"], PreTokenizer::Split(TEKKEN_SPLIT)),
];

#[derive(Debug, Clone, Copy)]
enum PreTokenizer {
    /// GPT-2's regex, applied by the byte-level step itself.
    Gpt2,
    /// Every numeric character on its own, then GPT-2's regex: llama.cpp splits on `\p{N}`
    /// first for these, and the original SmolLM2/StarCoder `tokenizer.json` uses
    /// `Digits { individual_digits: true }`, which is the same split.
    DigitsThenGpt2,
    /// A split regex (isolated matches) followed by a byte-level step without its own regex.
    Split(&'static str),
}

impl PreTokenizer {
    fn to_json(self) -> Value {
        let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
        match self {
            Self::Gpt2 => byte_level(true),
            Self::DigitsThenGpt2 => json!({
                "type": "Sequence",
                "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level(true)],
            }),
            Self::Split(regex) => json!({
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
                    byte_level(false),
                ],
            }),
        }
    }
}

/// GPT-2's byte-to-character table (`bytes_to_unicode`): printable Latin-1 bytes stand for
/// themselves, the other 68 bytes are moved to U+0100 onwards so that every byte is a visible
/// character. Byte-level vocabularies spell every token in these 256 characters.
fn byte_chars() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for (byte, slot) in table.iter_mut().enumerate() {
        let printable = matches!(byte, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF);
        let code = if printable {
            byte as u32
        } else {
            next += 1;
            next - 1
        };
        *slot = char::from_u32(code).unwrap_or('\0');
    }
    table
}

/// The rebuilt tokenizer files and a few facts for the import summary.
pub(crate) struct RebuiltTokenizer {
    /// `tokenizer.json`.
    pub json: String,
    /// `tokenizer_config.json`.
    pub config: Value,
    /// Number of tokens in the vocabulary.
    pub n_tokens: usize,
    /// Human-readable facts.
    pub summary: Vec<(String, String)>,
}

/// Rebuilds the tokenizer a GGUF file describes.
///
/// # Errors
/// [`crate::ModelError::Gguf`] if the tokenizer metadata is missing, malformed, not byte-level
/// BPE, names a pre-tokenizer seal does not know, or if the rebuilt tokenizer does not load.
pub(crate) fn rebuild_tokenizer(file: &GgufFile, max_length: Option<u64>) -> Result<RebuiltTokenizer> {
    let model = file.str("tokenizer.ggml.model")?;
    match model {
        "gpt2" => {}
        "llama" => {
            return Err(file.error(
                "sentencepiece tokenizers (`tokenizer.ggml.model` = \"llama\") are not supported yet".into(),
            ));
        }
        other => {
            return Err(file.error(format!(
                "tokenizer model `{other}` is not supported (only byte-level BPE, \"gpt2\")"
            )));
        }
    }
    let tokens = string_array(file, "tokenizer.ggml.tokens")?;
    let merges = string_array(file, "tokenizer.ggml.merges")?;
    let token_types: Vec<i64> = match file.array_opt("tokenizer.ggml.token_type")? {
        None => vec![1; tokens.len()],
        Some(types) => types
            .iter()
            .map(|v| {
                v.as_i64().ok_or_else(|| {
                    file.error(format!(
                        "`tokenizer.ggml.token_type` holds {} values, not integers",
                        v.type_name()
                    ))
                })
            })
            .collect::<Result<_>>()?,
    };
    if token_types.len() != tokens.len() {
        return Err(file.error(format!(
            "`tokenizer.ggml.token_type` has {} entries for {} tokens",
            token_types.len(),
            tokens.len()
        )));
    }
    let pre_name = file.str_opt("tokenizer.ggml.pre")?.unwrap_or("default");
    let pre = PRE_TOKENIZERS
        .iter()
        .find(|(names, _)| names.contains(&pre_name))
        .map(|(_, pre)| *pre)
        .ok_or_else(|| {
            let known: Vec<&str> = PRE_TOKENIZERS
                .iter()
                .flat_map(|(names, _)| names.iter().copied())
                .collect();
            file.error(format!(
                "pre-tokenizer `{pre_name}` (`tokenizer.ggml.pre`) is not supported; known: {}",
                known.join(", ")
            ))
        })?;

    // Like transformers, re-spell a token that uses characters outside the byte alphabet
    // (llama.cpp writes some special tokens raw) in that alphabet, so the vocabulary is one BPE
    // can reach; a later duplicate spelling wins, as in a Python dict.
    let chars = byte_chars();
    let mut alphabet = chars.to_vec();
    alphabet.sort_unstable();
    let in_alphabet = |token: &str| token.chars().all(|c| alphabet.binary_search(&c).is_ok());
    let mut vocab = Map::new();
    for (id, token) in tokens.iter().enumerate() {
        let spelled = if in_alphabet(token) {
            (*token).to_string()
        } else {
            token.bytes().map(|b| chars[b as usize]).collect()
        };
        vocab.insert(spelled, json!(id));
    }

    let merges_json = merges
        .iter()
        .enumerate()
        .map(|(index, merge)| match merge.split_once(' ') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains(' ') => Ok(json!([a, b])),
            _ => Err(file.error(format!(
                "merge {index} `{merge}` is not two tokens separated by one space"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;

    // Control tokens become special added tokens, user-defined ones plain added tokens, so both
    // are matched whole in the text instead of being cut by BPE. A control token outside the byte
    // alphabet is a llama.cpp mislabel that transformers skips; so do we.
    let mut added = Vec::new();
    let (mut n_special, mut n_user) = (0usize, 0usize);
    for (id, (token, &ty)) in tokens.iter().zip(&token_types).enumerate() {
        let special = match ty {
            TOKEN_TYPE_CONTROL if in_alphabet(token) => true,
            TOKEN_TYPE_USER_DEFINED if vocab.contains_key(*token) => false,
            _ => continue,
        };
        if special {
            n_special += 1;
        } else {
            n_user += 1;
        }
        added.push(json!({
            "id": id, "content": token, "single_word": false, "lstrip": false, "rstrip": false,
            "normalized": false, "special": special,
        }));
    }

    let special_token = |key: &str| -> Result<Option<(u64, &str)>> {
        let Some(id) = file.u64_opt(key)? else {
            return Ok(None);
        };
        let token = usize::try_from(id)
            .ok()
            .and_then(|i| tokens.get(i))
            .ok_or_else(|| file.error(format!("`{key}` is {id}, past the {} tokens", tokens.len())))?;
        Ok(Some((id, *token)))
    };
    let bos = special_token("tokenizer.ggml.bos_token_id")?;
    let eos = special_token("tokenizer.ggml.eos_token_id")?;
    let unk = special_token("tokenizer.ggml.unknown_token_id")?;
    let pad = special_token("tokenizer.ggml.padding_token_id")?;
    // transformers' GGUF loader leaves BOS/EOS off unless the file asks for them; so do we.
    let add_bos = file.bool_opt("tokenizer.ggml.add_bos_token")?;
    let add_eos = file.bool_opt("tokenizer.ggml.add_eos_token")?;

    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre.to_json(),
        "post_processor": post_processor(
            bos.filter(|_| add_bos == Some(true)),
            eos.filter(|_| add_eos == Some(true)),
        ),
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": false,
            "vocab": vocab,
            "merges": merges_json,
        },
    });
    let json = serde_json::to_string(&tokenizer)
        .map_err(|e| file.error(format!("cannot serialize the rebuilt tokenizer: {e}")))?;
    // Loading it once here turns a bad merge or regex into an import error, not a later surprise.
    json.parse::<tokenizers::Tokenizer>()
        .map_err(|e| file.error(format!("rebuilt tokenizer does not load: {e}")))?;

    let mut config = Map::new();
    for (name, token) in [
        ("bos_token", bos),
        ("eos_token", eos),
        ("pad_token", pad),
        ("unk_token", unk),
    ] {
        if let Some((_, token)) = token {
            config.insert(name.into(), json!(token));
        }
    }
    if let Some(add_bos) = add_bos {
        config.insert("add_bos_token".into(), json!(add_bos));
    }
    if let Some(add_eos) = add_eos {
        config.insert("add_eos_token".into(), json!(add_eos));
    }
    if let Some(template) = file.str_opt("tokenizer.chat_template")? {
        config.insert("chat_template".into(), json!(template));
    }
    config.insert("clean_up_tokenization_spaces".into(), json!(false));
    if let Some(max_length) = max_length {
        config.insert("model_max_length".into(), json!(max_length));
    }
    config.insert("tokenizer_class".into(), json!("PreTrainedTokenizerFast"));

    let summary = vec![
        (
            "tokenizer".into(),
            format!("byte-level BPE, pre-tokenizer `{pre_name}`"),
        ),
        (
            "vocabulary".into(),
            format!(
                "{} tokens, {} merges, {n_special} special, {n_user} user-defined",
                tokens.len(),
                merges.len()
            ),
        ),
    ];
    Ok(RebuiltTokenizer {
        json,
        config: Value::Object(config),
        n_tokens: tokens.len(),
        summary,
    })
}

/// HF's `TemplateProcessing`, laid out as transformers' `update_post_processor` writes it:
/// `[bos] $A [eos]` for one sequence, the same again (type id 1) for the second of a pair.
fn post_processor(bos: Option<(u64, &str)>, eos: Option<(u64, &str)>) -> Value {
    let special = |token: &str, type_id: u32| json!({"SpecialToken": {"id": token, "type_id": type_id}});
    let sequence = |id: &str, type_id: u32| json!({"Sequence": {"id": id, "type_id": type_id}});
    let part = |seq: &str, type_id: u32| {
        let mut items = Vec::new();
        if let Some((_, token)) = bos {
            items.push(special(token, type_id));
        }
        items.push(sequence(seq, type_id));
        if let Some((_, token)) = eos {
            items.push(special(token, type_id));
        }
        items
    };
    let single = part("A", 0);
    let mut pair = single.clone();
    pair.extend(part("B", 1));
    let mut special_tokens = Map::new();
    for (id, token) in bos.into_iter().chain(eos) {
        special_tokens.insert(token.into(), json!({"id": token, "ids": [id], "tokens": [token]}));
    }
    json!({"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": special_tokens})
}

fn string_array<'a>(file: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    let values = file
        .array_opt(key)?
        .ok_or_else(|| file.error(format!("missing metadata key `{key}`")))?;
    values
        .iter()
        .map(|v| match v {
            GgufValue::String(s) => Ok(s.as_str()),
            other => Err(file.error(format!("`{key}` holds {} values, not strings", other.type_name()))),
        })
        .collect()
}
