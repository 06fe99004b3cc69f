//! A judge behind an OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp's server, a
//! hosted API reached through a local proxy): the same pairwise prompt as the generative judge,
//! the preference from the `A`/`B` entries of the first token's `top_logprobs` where the server
//! offers logprobs, else from the letter it answers (1, 0, or ½ for anything else).
//!
//! Plain `http://` over `std::net` (HTTP/1.1, one request per connection, `Content-Length`
//! bodies): serving engines on the same machine or cluster speak it, and it keeps TLS and an
//! async runtime out of the workspace. Every request has one deadline (connect, send and the
//! whole response, however slowly it trickles) and a response-size cap, and is retried with exponential backoff; at most `concurrency` run at once; every verdict goes to
//! an append-only cache file keyed by a hash of (model, prompt, both answers), so a rerun after
//! a crash or restart never asks twice.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::generative::judge_messages;
use super::{Judge, PairItem};
use crate::error::{EvalError, Result};

/// Connection and retry settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// `http://host:port` (the path `/v1/chat/completions` is appended).
    pub base_url: String,
    /// The `model` field of each request.
    pub model: String,
    /// Deadline of one request (connect, send and the whole response), in seconds.
    pub timeout_s: f64,
    /// Attempts per comparison (the first included).
    pub attempts: usize,
    /// Wait before the first retry, in seconds; doubled for each further one.
    pub backoff_s: f64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The verdict cache (JSON Lines), if any.
    pub cache: Option<PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8000".into(),
            model: "judge".into(),
            timeout_s: 60.0,
            attempts: 4,
            backoff_s: 0.5,
            concurrency: 4,
            cache: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CacheLine {
    key: String,
    preference: f64,
}

/// The HTTP judge.
#[derive(Debug)]
pub struct HttpJudge {
    settings: HttpSettings,
    host: String,
    cache: Mutex<HashMap<String, f64>>,
    requests: std::sync::atomic::AtomicUsize,
}

impl HttpJudge {
    /// A judge for `settings`, reading the cache file if it exists.
    ///
    /// # Errors
    /// A URL that is not `http://host:port`, bad settings, an unreadable cache (naming its line).
    pub fn new(settings: HttpSettings) -> Result<Self> {
        let host = settings
            .base_url
            .strip_prefix("http://")
            .map(|h| h.trim_end_matches('/').to_string())
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .ok_or_else(|| {
                EvalError::invalid(
                    "judge url",
                    format!("`{}` is not http://host:port", settings.base_url),
                )
            })?;
        if settings.attempts == 0
            || settings.concurrency == 0
            || settings.timeout_s.is_nan()
            || settings.timeout_s <= 0.0
        {
            return Err(EvalError::invalid(
                "http judge settings",
                "attempts, concurrency and timeout_s must be positive",
            ));
        }
        let mut cache = HashMap::new();
        if let Some(path) = settings.cache.as_deref().filter(|p| p.exists()) {
            let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let entry: CacheLine = serde_json::from_str(line).map_err(|source| EvalError::Json {
                    path: path.to_path_buf(),
                    line: i + 1,
                    source,
                })?;
                cache.insert(entry.key, entry.preference);
            }
        }
        Ok(Self {
            settings,
            host,
            cache: Mutex::new(cache),
            requests: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// HTTP requests sent so far (retries included).
    pub fn requests_sent(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn key(&self, item: &PairItem) -> String {
        let mut h = Sha256::new();
        for part in [&self.settings.model, &item.prompt, &item.answer_a, &item.answer_b] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn remember(&self, key: String, preference: f64) -> Result<()> {
        if let Some(path) = &self.settings.cache {
            // One short line per append: a crash loses at most the line being written, which
            // the reader then rejects by line number rather than silently misreading.
            let line = serde_json::to_string(&CacheLine {
                key: key.clone(),
                preference,
            })
            .expect("cache lines serialise");
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| EvalError::io(path, e))?;
            file.write_all(format!("{line}\n").as_bytes())
                .map_err(|e| EvalError::io(path, e))?;
        }
        self.cache.lock().expect("cache lock").insert(key, preference);
        Ok(())
    }

    fn ask_with_retries(&self, item: &PairItem) -> Result<f64> {
        let mut wait = self.settings.backoff_s;
        let mut last = String::new();
        for attempt in 0..self.settings.attempts {
            if attempt > 0 {
                tracing::warn!(attempt, error = %last, "retrying judge request");
                std::thread::sleep(Duration::from_secs_f64(wait));
                wait *= 2.0;
            }
            match self.ask(item) {
                Ok(p) => return Ok(p),
                Err(e) => last = e,
            }
        }
        Err(EvalError::Http {
            url: self.settings.base_url.clone(),
            attempts: self.settings.attempts,
            reason: last,
        })
    }

    /// One request; the error is a description for the retry log and the final error.
    fn ask(&self, item: &PairItem) -> std::result::Result<f64, String> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body = serde_json::json!({
            "model": self.settings.model,
            "messages": judge_messages(item),
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": true,
            "top_logprobs": 10,
        })
        .to_string();
        let response = self.post("/v1/chat/completions", &body)?;
        parse_preference(&response)
    }

    fn post(&self, path: &str, body: &str) -> std::result::Result<String, String> {
        let timeout = Duration::from_secs_f64(self.settings.timeout_s);
        // One deadline for the whole request: a socket timeout alone resets on every byte, so
        // a server trickling a byte a second would hold the judge for ever.
        let deadline = Instant::now() + timeout;
        let addr = self
            .host
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("{} resolves to no address", self.host))?;
        let mut stream =
            TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("cannot connect: {e}"))?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.host,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("cannot send the request: {e}"))?;
        let raw = read_bounded(&mut stream, deadline, self.settings.timeout_s)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| "malformed HTTP response (no header end)".to_string())?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| "malformed HTTP status line".to_string())?;
        if !(200..300).contains(&status) {
            return Err(format!(
                "HTTP {status}: {}",
                body.chars().take(200).collect::<String>()
            ));
        }
        Ok(body.to_string())
    }
}

/// The most a judge response may hold. A chat completion with a few `top_logprobs` is a few
/// KB; a server streaming without end is cut here rather than filling memory.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// Reads the whole response before `deadline`, at most [`MAX_RESPONSE_BYTES`].
fn read_bounded(
    stream: &mut TcpStream,
    deadline: Instant,
    timeout_s: f64,
) -> std::result::Result<Vec<u8>, String> {
    let late = || format!("no complete response within {timeout_s} s");
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        stream.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(raw),
            Ok(n) => {
                if raw.len() + n > MAX_RESPONSE_BYTES {
                    return Err(format!(
                        "response larger than {} MiB: refused",
                        MAX_RESPONSE_BYTES >> 20
                    ));
                }
                raw.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(late());
            }
            Err(e) => return Err(format!("cannot read the response: {e}")),
        }
    }
}

/// P(A) from a chat-completions response: the softmax of the `A` and `B` entries among the
/// first token's `top_logprobs` (a missing one counts as impossible), else the answered letter.
fn parse_preference(body: &str) -> std::result::Result<f64, String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("response is not JSON ({e})"))?;
    let choice = v
        .pointer("/choices/0")
        .ok_or_else(|| "response has no choices".to_string())?;
    if let Some(top) = choice
        .pointer("/logprobs/content/0/top_logprobs")
        .and_then(|t| t.as_array())
    {
        let find = |label: &str| {
            top.iter()
                .find(|t| t.get("token").and_then(|s| s.as_str()).map(str::trim) == Some(label))
                .and_then(|t| t.get("logprob").and_then(serde_json::Value::as_f64))
        };
        match (find("A"), find("B")) {
            (Some(a), Some(b)) => return Ok(1.0 / (1.0 + (b - a).exp())),
            (Some(_), None) => return Ok(1.0),
            (None, Some(_)) => return Ok(0.0),
            (None, None) => {}
        }
    }
    let content = choice
        .pointer("/message/content")
        .and_then(|c| c.as_str())
        .ok_or_else(|| "response has neither logprobs nor message content".to_string())?;
    Ok(match content.trim().chars().next() {
        Some('A') => 1.0,
        Some('B') => 0.0,
        _ => 0.5,
    })
}

impl Judge for HttpJudge {
    fn name(&self) -> String {
        format!("http:{}#{}", self.settings.base_url, self.settings.model)
    }

    fn prefer(&mut self, items: &[PairItem]) -> Result<Vec<f64>> {
        let keys: Vec<String> = items.iter().map(|i| self.key(i)).collect();
        let mut out: Vec<Option<f64>> = {
            let cache = self.cache.lock().expect("cache lock");
            keys.iter().map(|k| cache.get(k).copied()).collect()
        };
        let todo: Vec<usize> = (0..items.len()).filter(|&i| out[i].is_none()).collect();
        let this = &*self;
        for wave in todo.chunks(this.settings.concurrency) {
            let results: Vec<(usize, Result<f64>)> = std::thread::scope(|s| {
                let handles: Vec<_> = wave
                    .iter()
                    .map(|&i| (i, s.spawn(move || this.ask_with_retries(&items[i]))))
                    .collect();
                handles
                    .into_iter()
                    .map(|(i, h)| (i, h.join().expect("judge request thread panicked")))
                    .collect()
            });
            for (i, result) in results {
                let p = result?;
                this.remember(keys[i].clone(), p)?;
                out[i] = Some(p);
            }
        }
        Ok(out.into_iter().map(|p| p.expect("every item judged")).collect())
    }
}

/// Where a cache file for `dir` lives by convention (`verdict-cache.jsonl`).
pub fn default_cache(dir: &Path) -> PathBuf {
    dir.join("verdict-cache.jsonl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logprobs_give_a_continuous_preference() {
        let body = r#"{"choices":[{"message":{"content":"A"},"logprobs":{"content":[{"token":"A","logprob":-0.1,
            "top_logprobs":[{"token":"A","logprob":-0.5},{"token":"B","logprob":-1.5}]}]}}]}"#;
        let p = parse_preference(body).unwrap();
        assert!((p - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-12, "{p}");
        assert_eq!(
            parse_preference(r#"{"choices":[{"message":{"content":" B"}}]}"#),
            Ok(0.0)
        );
        assert_eq!(
            parse_preference(r#"{"choices":[{"message":{"content":"maybe"}}]}"#),
            Ok(0.5)
        );
        assert!(parse_preference("<html>").unwrap_err().contains("not JSON"));
        assert!(
            parse_preference(r#"{"error":"x"}"#)
                .unwrap_err()
                .contains("no choices")
        );
    }
}
