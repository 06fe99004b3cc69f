//! Tokenizers (`tokenizer.json` through the `tokenizers` crate, offline only) and chat
//! templates: the reference template of the SEAL paper and a model's own Jinja
//! `chat_template` (ChatML, Llama-3, ...) rendered with minijinja the way `transformers` does.
//! Text becomes token ids here; the model crate only ever sees the ids.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What can go wrong loading a tokenizer, encoding with it or rendering a chat template.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A config file beside `tokenizer.json` exists but cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// `tokenizer_config.json`, `generation_config.json` or `config.json`.
        path: PathBuf,
        /// Why the read failed.
        source: std::io::Error,
    },
    /// The tokenizer could not be loaded or failed on an input.
    #[error("tokenizer {path}: {message}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// The tokenizers crate's message (its error type is a boxed trait object).
        message: String,
    },
    /// A config file beside `tokenizer.json` is not valid JSON.
    #[error("cannot parse {path}")]
    Json {
        /// The config file.
        path: PathBuf,
        /// serde_json's error, with line and column.
        source: serde_json::Error,
    },
    /// A chat template failed to parse or render.
    #[error("chat template: {source}")]
    Template {
        /// The underlying error.
        #[source]
        source: minijinja::Error,
    },
    /// A model folder lacks a file the tokenizer needs.
    #[error("model folder {dir} has no {file}")]
    MissingFile {
        /// The folder.
        dir: PathBuf,
        /// The missing file name(s).
        file: String,
    },
}

type Result<T, E = TextError> = std::result::Result<T, E>;

/// One chat turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A user turn.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".into(),
            content: content.into(),
        }
    }
    /// An assistant turn.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: "assistant".into(),
            content: content.into(),
        }
    }
    /// A system turn.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: "system".into(),
            content: content.into(),
        }
    }
}

/// How a conversation becomes the text the model sees.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatTemplate {
    /// The SEAL reference template: `Human: {prompt}\nAssistant: ` (DESIGN section 5).
    Reference,
    /// A Jinja template from `tokenizer_config.json` (HF semantics: `messages`,
    /// `add_generation_prompt`, `bos_token`, `eos_token`).
    Jinja {
        /// The template source.
        source: String,
        /// Text of the beginning-of-sequence token.
        bos_token: String,
        /// Text of the end-of-sequence token.
        eos_token: String,
    },
}

impl ChatTemplate {
    /// Renders `messages`; with `add_generation_prompt` the text ends where the assistant's
    /// answer begins.
    ///
    /// # Errors
    /// [`TextError::Template`] if the Jinja template fails to parse or render (including its
    /// own `raise_exception`).
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        match self {
            Self::Reference => Ok(render_reference(messages, add_generation_prompt)),
            Self::Jinja {
                source,
                bos_token,
                eos_token,
            } => {
                let mut env = minijinja::Environment::new();
                // transformers renders with trim_blocks and lstrip_blocks, and templates call
                // Python string methods (`.strip()`, `.startswith()`), which pycompat provides.
                env.set_trim_blocks(true);
                env.set_lstrip_blocks(true);
                // A model's own template is untrusted input: bound its work and its output.
                env.set_fuel(Some(TEMPLATE_FUEL));
                env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
                env.add_function(
                    "raise_exception",
                    |msg: String| -> std::result::Result<String, minijinja::Error> {
                        Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
                    },
                );
                env.add_template("chat", source)
                    .map_err(|source| TextError::Template { source })?;
                let template = env
                    .get_template("chat")
                    .map_err(|source| TextError::Template { source })?;
                let content: usize = messages.iter().map(|m| m.content.len()).sum();
                let mut out = CappedWriter {
                    text: Vec::new(),
                    cap: 4 * (content + source.len()) + (1 << 20),
                    over: false,
                };
                let rendered = template.render_captured_to(
                    minijinja::context! {
                        messages => messages,
                        add_generation_prompt => add_generation_prompt,
                        bos_token => bos_token,
                        eos_token => eos_token,
                    },
                    &mut out,
                );
                if out.over {
                    let msg = format!(
                        "the chat template wrote more than {} bytes for {content} bytes of messages: refused",
                        out.cap
                    );
                    return Err(TextError::Template {
                        source: minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg),
                    });
                }
                rendered.map_err(|source| TextError::Template { source })?;
                String::from_utf8(out.text).map_err(|e| TextError::Template {
                    source: minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()),
                })
            }
        }
    }
}

/// Template instructions one render may execute. Real chat templates take a few hundred per
/// message; nested loops that would spin until killed run out of fuel in well under a second.
pub const TEMPLATE_FUEL: u64 = 5_000_000;

/// Collects a render, refusing to grow past `cap` bytes (a template printing inside loops).
struct CappedWriter {
    text: Vec<u8>,
    cap: usize,
    over: bool,
}

impl std::io::Write for CappedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len() + buf.len() > self.cap {
            self.over = true;
            return Err(std::io::Error::other("chat template output cap"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn render_reference(messages: &[ChatMessage], add_generation_prompt: bool) -> String {
    let mut out = String::new();
    for m in messages {
        match m.role.as_str() {
            "user" => {
                out.push_str("Human: ");
                out.push_str(&m.content);
                out.push_str("\nAssistant: ");
            }
            "assistant" => {
                out.push_str(&m.content);
                out.push('\n');
            }
            _ => {
                out.push_str(&m.content);
                out.push('\n');
            }
        }
    }
    if !add_generation_prompt && out.ends_with("\nAssistant: ") {
        out.truncate(out.len() - "Assistant: ".len());
    }
    out
}

/// A model's tokenizer with its special tokens and chat template.
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    /// Beginning-of-sequence token id, if the model has one.
    pub bos_id: Option<u32>,
    /// Ids that end generation (the eos token and any extra ones from `generation_config.json`).
    pub eos_ids: Vec<u32>,
    /// Padding id (pad token, else eos, else 0).
    pub pad_id: u32,
    /// Text of the bos token ("" if none).
    pub bos_token: String,
    /// Text of the eos token ("" if none).
    pub eos_token: String,
    /// The model's own Jinja chat template, if any.
    pub chat_template: Option<String>,
    /// The longest vocabulary entry in UTF-8 bytes: no token stands for more text than that
    /// (byte-level BPE spells each byte as one or two bytes, sentencepiece a space as three), so
    /// a text of `n` bytes has at least `n / max_token_bytes` tokens.
    pub max_token_bytes: usize,
}

fn token_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn read_json(path: &Path) -> Result<Option<Value>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| TextError::Read {
        path: path.to_path_buf(),
        source: e,
    })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| TextError::Json {
            path: path.to_path_buf(),
            source,
        })
}

fn ids_of(v: Option<&Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .into_iter()
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_u64)
            .filter_map(|n| u32::try_from(n).ok())
            .collect(),
        _ => Vec::new(),
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json` from a model folder, with `tokenizer_config.json` (special tokens,
    /// chat template) and `generation_config.json` / `config.json` (extra eos ids) when present.
    ///
    /// # Errors
    /// [`TextError::MissingFile`] without `tokenizer.json`; malformed files name themselves.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        if !path.exists() {
            return Err(TextError::MissingFile {
                dir: dir.to_path_buf(),
                file: "tokenizer.json".into(),
            });
        }
        let inner = tokenizers::Tokenizer::from_file(&path).map_err(|e| TextError::Tokenizer {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let tok_config = read_json(&dir.join("tokenizer_config.json"))?.unwrap_or(Value::Null);
        let gen_config = read_json(&dir.join("generation_config.json"))?.unwrap_or(Value::Null);
        let model_config = read_json(&dir.join("config.json"))?.unwrap_or(Value::Null);

        let bos_token = token_text(tok_config.get("bos_token"));
        let eos_token = token_text(tok_config.get("eos_token"));
        let pad_token = token_text(tok_config.get("pad_token"));
        let id = |t: &Option<String>| t.as_deref().and_then(|t| inner.token_to_id(t));

        let mut eos_ids: Vec<u32> = id(&eos_token).into_iter().collect();
        for extra in ids_of(gen_config.get("eos_token_id"))
            .into_iter()
            .chain(ids_of(model_config.get("eos_token_id")))
        {
            if !eos_ids.contains(&extra) {
                eos_ids.push(extra);
            }
        }
        let bos_id = id(&bos_token).or_else(|| ids_of(model_config.get("bos_token_id")).first().copied());
        let pad_id = id(&pad_token)
            .or_else(|| ids_of(model_config.get("pad_token_id")).first().copied())
            .or_else(|| eos_ids.first().copied())
            .unwrap_or(0);
        let chat_template = match tok_config.get("chat_template") {
            Some(Value::String(s)) => Some(s.clone()),
            // Newer configs list named templates; "default" is the chat one.
            Some(Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                .or_else(|| list.first())
                .and_then(|t| t.get("template"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        };
        let max_token_bytes = inner
            .get_vocab(true)
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(1)
            .max(1);
        Ok(Self {
            inner,
            path,
            max_token_bytes,
            bos_id,
            eos_ids,
            pad_id,
            bos_token: bos_token.unwrap_or_default(),
            eos_token: eos_token.unwrap_or_default(),
            chat_template,
        })
    }

    /// Token ids of `text`; with `add_special_tokens` the tokenizer's post-processor adds its
    /// special tokens (e.g. Llama-3's bos).
    ///
    /// # Errors
    /// [`TextError::Tokenizer`].
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|e| TextError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        Ok(enc.get_ids().to_vec())
    }

    /// Token ids of `prompt + completion` encoded as one text, and how many of them belong to
    /// the prompt: the tokens that end at or before the prompt's last byte. A token that spans
    /// the boundary (a byte-level BPE merges the space a template ends with into the first word
    /// of the answer: `Assistant:` + `ĠSure`) counts as the completion's, so the completion is
    /// tokenized the way the model reads such text, not split at the seam as two separate
    /// encodings would (`Assistant:` + `Ġ` + `Sure`). At least one token stays in the prompt.
    ///
    /// # Errors
    /// [`TextError::Tokenizer`].
    pub fn encode_pair(
        &self,
        prompt: &str,
        completion: &str,
        add_special_tokens: bool,
    ) -> Result<(Vec<u32>, usize)> {
        let text = format!("{prompt}{completion}");
        let enc = self
            .inner
            .encode(text.as_str(), add_special_tokens)
            .map_err(|e| TextError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        // Byte offsets into `text`; special tokens the post-processor adds read (0, 0).
        let boundary = prompt.len();
        let prompt_len = enc
            .get_offsets()
            .iter()
            .take_while(|&&(_, end)| end <= boundary)
            .count()
            .max(1)
            .min(enc.len());
        Ok((enc.get_ids().to_vec(), prompt_len))
    }

    /// A lower bound on the token count of `bytes` bytes of text, without encoding it: lets a
    /// caller drop a row that is certainly too long before paying for its encoding (about 170
    /// bytes of memory per character of input).
    pub fn min_tokens(&self, bytes: usize) -> usize {
        bytes.div_ceil(self.max_token_bytes)
    }

    /// Text of `ids`.
    ///
    /// # Errors
    /// [`TextError::Tokenizer`].
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| TextError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The model's own chat template, or an error if it has none.
    ///
    /// # Errors
    /// [`TextError::MissingFile`] naming `tokenizer_config.json` (chat_template).
    pub fn model_template(&self) -> Result<ChatTemplate> {
        let source = self.chat_template.clone().ok_or_else(|| TextError::MissingFile {
            dir: self.path.parent().map(Path::to_path_buf).unwrap_or_default(),
            file: "a chat_template in tokenizer_config.json".into(),
        })?;
        Ok(ChatTemplate::Jinja {
            source,
            bos_token: self.bos_token.clone(),
            eos_token: self.eos_token.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_template_matches_the_paper() {
        let text = ChatTemplate::Reference
            .render(&[ChatMessage::user("Hi?")], true)
            .unwrap();
        assert_eq!(text, "Human: Hi?\nAssistant: ");
    }

    #[test]
    fn chatml_template_renders_like_transformers() {
        let source = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
        let t = ChatTemplate::Jinja {
            source: source.into(),
            bos_token: String::new(),
            eos_token: String::new(),
        };
        let text = t.render(&[ChatMessage::user("Hi")], true).unwrap();
        assert_eq!(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    }

    fn jinja(source: &str) -> ChatTemplate {
        ChatTemplate::Jinja {
            source: source.into(),
            bos_token: String::new(),
            eos_token: String::new(),
        }
    }

    #[test]
    fn a_template_that_loops_without_end_runs_out_of_fuel() {
        let spin = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
        let started = std::time::Instant::now();
        let err = jinja(spin).render(&[ChatMessage::user("Hi")], true).unwrap_err();
        assert!(err.to_string().contains("fuel"), "{err}");
        // Fuel, not a clock, stops it; this only says it stopped.
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
    }

    #[test]
    fn a_template_that_prints_without_bound_is_cut_at_its_cap() {
        // 20,000 copies of a 1,000-byte message: 20 MB from 1 KB, past 4 x input + 1 MiB.
        let flood = "{% for i in range(20000) %}{{ messages[0]['content'] }}{% endfor %}";
        let err = jinja(flood)
            .render(&[ChatMessage::user("x".repeat(1000))], true)
            .unwrap_err();
        assert!(err.to_string().contains("wrote more than"), "{err}");
        // A template's ordinary output is far under the cap.
        let ok = jinja("{% for m in messages %}[{{ m['content'] }}]{% endfor %}")
            .render(&[ChatMessage::user("y".repeat(100_000))], true)
            .unwrap();
        assert_eq!(ok.len(), 100_002);
    }

    #[test]
    fn raise_exception_is_a_template_error() {
        let t = ChatTemplate::Jinja {
            source: "{{ raise_exception('roles must alternate') }}".into(),
            bos_token: String::new(),
            eos_token: String::new(),
        };
        let err = t.render(&[], false).unwrap_err();
        assert!(format!("{err}").contains("roles must alternate"), "{err}");
    }
}
