//! A judge behind an OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp's server, a
//! hosted API): the same pairwise prompt as the generative judge, the preference from the
//! `A`/`B` entries of the first token's `top_logprobs` where the server offers logprobs, else
//! from the letter it answers (1, 0, or ½ for anything else).
//!
//! `http://` and `https://` through `ureq` (blocking, rustls with Mozilla's roots, or the PEM
//! bundle `ca_file` names): no OpenSSL and no async runtime. A certificate that does not verify
//! is an error, never a fallback to plain HTTP, and redirects are refused rather than followed
//! (a redirect could carry the key to another host or downgrade the scheme). The API key is read
//! from the environment variable `api_key_env` names, once, when the judge is built; it is sent
//! as `Authorization: Bearer` and never written to any output, log or cache (the settings hold
//! the variable's name, not its value).
//!
//! Every request has one deadline (connect, send and the whole response, however slowly it
//! trickles) and a response-size cap. Failures that may pass (timeouts, refused connections,
//! 408, 429, 5xx, an unreadable answer) are retried with exponential backoff; ones that will not
//! (401, 403, other 4xx, a redirect, a TLS failure, an oversized answer) end the run at once. At
//! most `concurrency` requests run at once; every verdict goes to an append-only cache file keyed
//! by a hash of (model, prompt, both answers), so a rerun after a crash never asks twice.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::generative::judge_messages;
use super::{Judge, PairItem};
use crate::error::{EvalError, Result};

/// The variable an API key is read from when the settings name none (the OpenAI clients' own).
pub const DEFAULT_API_KEY_ENV: &str = "OPENAI_API_KEY";

/// Connection and retry settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// `http(s)://host[:port][/prefix]`: `/v1/chat/completions` is appended, or only
    /// `/chat/completions` when the URL already ends in `/v1` (as OpenAI's own base URL does).
    pub base_url: String,
    /// The `model` field of each request.
    pub model: String,
    /// The environment variable holding the API key. Named: it must be set (checked before any
    /// request). `None`: [`DEFAULT_API_KEY_ENV`] if set, else no key (a local server).
    pub api_key_env: Option<String>,
    /// A PEM bundle of the certificates to trust instead of Mozilla's roots (a private CA, a
    /// self-signed server).
    pub ca_file: Option<PathBuf>,
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
            api_key_env: None,
            ca_file: None,
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

/// An API key that never prints.
#[derive(Clone)]
struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Why one request failed, and whether another try can help.
enum Failure {
    /// A timeout, a refused connection, 408/429/5xx, an answer that does not parse.
    Transient(String),
    /// Bad credentials, a rejected request, a redirect, TLS, an oversized answer.
    Permanent(String),
}

/// The HTTP judge.
#[derive(Debug)]
pub struct HttpJudge {
    settings: HttpSettings,
    endpoint: String,
    agent: ureq::Agent,
    api_key: Option<ApiKey>,
    /// The variable the key came from, for the error of a 401.
    api_key_env: Option<String>,
    cache: Mutex<HashMap<String, f64>>,
    requests: AtomicUsize,
}

/// `scheme://host[:port]` and the path after it, or why `url` is not one.
fn endpoint_of(url: &str) -> std::result::Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` is not an http:// or https:// URL"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(['?', '#', '@', ' ']) {
        return Err(format!(
            "`{url}` names no host (want http(s)://host[:port][/prefix])"
        ));
    }
    let base = url.trim_end_matches('/');
    Ok(if base.ends_with("/v1") {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    })
}

/// The key `settings` asks for: a named variable must be set and non-empty.
fn api_key(settings: &HttpSettings) -> Result<(Option<ApiKey>, Option<String>)> {
    let (name, required) = match &settings.api_key_env {
        Some(name) => (name.as_str(), true),
        None => (DEFAULT_API_KEY_ENV, false),
    };
    match std::env::var(name) {
        Ok(key) if !key.trim().is_empty() => Ok((Some(ApiKey(key.trim().to_string())), Some(name.into()))),
        _ if required => Err(EvalError::invalid(
            "http judge api_key_env",
            format!("the environment variable {name} holding the judge's API key is not set (or empty)"),
        )),
        _ => Ok((None, None)),
    }
}

/// The agent: one deadline per request, no redirects, status codes handled here, the
/// certificates of `ca_file` or Mozilla's roots.
fn agent(settings: &HttpSettings) -> Result<ureq::Agent> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let roots = match &settings.ca_file {
        None => RootCerts::WebPki,
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| EvalError::io(path, e))?;
            let certs = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<std::result::Result<Vec<Certificate<'static>>, _>>()
                .map_err(|e| EvalError::invalid("http judge ca_file", format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(EvalError::invalid(
                    "http judge ca_file",
                    format!("{} holds no PEM certificate", path.display()),
                ));
            }
            RootCerts::Specific(Arc::new(certs))
        }
    };
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs_f64(settings.timeout_s)))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("seal/", env!("CARGO_PKG_VERSION")))
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .new_agent())
}

impl HttpJudge {
    /// A judge for `settings`, reading the cache file if it exists. Sends nothing.
    ///
    /// # Errors
    /// A URL that is not `http(s)://host[:port][/prefix]`, bad settings, a named API key variable
    /// that is not set, an unreadable `ca_file`, an unreadable cache (naming its line).
    pub fn new(settings: HttpSettings) -> Result<Self> {
        let endpoint = endpoint_of(&settings.base_url).map_err(|e| EvalError::invalid("judge url", e))?;
        if settings.attempts == 0
            || settings.concurrency == 0
            || !settings.timeout_s.is_finite()
            || settings.timeout_s <= 0.0
            || !settings.backoff_s.is_finite()
            || settings.backoff_s < 0.0
        {
            return Err(EvalError::invalid(
                "http judge settings",
                "attempts, concurrency and timeout_s must be positive, backoff_s not negative",
            ));
        }
        let (api_key, api_key_env) = api_key(&settings)?;
        let agent = agent(&settings)?;
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
            endpoint,
            agent,
            api_key,
            api_key_env,
            cache: Mutex::new(cache),
            requests: AtomicUsize::new(0),
        })
    }

    /// HTTP requests sent so far (retries included).
    pub fn requests_sent(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
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
                Err(Failure::Transient(e)) => last = e,
                Err(Failure::Permanent(reason)) => {
                    return Err(EvalError::Http {
                        url: self.endpoint.clone(),
                        attempts: attempt + 1,
                        reason,
                    });
                }
            }
        }
        Err(EvalError::Http {
            url: self.endpoint.clone(),
            attempts: self.settings.attempts,
            reason: last,
        })
    }

    /// One request.
    fn ask(&self, item: &PairItem) -> std::result::Result<f64, Failure> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::json!({
            "model": self.settings.model,
            "messages": judge_messages(item),
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": true,
            "top_logprobs": 10,
        })
        .to_string();
        let response = self.post(&body)?;
        parse_preference(&response).map_err(Failure::Transient)
    }

    fn post(&self, body: &str) -> std::result::Result<String, Failure> {
        let mut request = self
            .agent
            .post(&self.endpoint)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("Authorization", format!("Bearer {}", key.0));
        }
        let mut response = request.send(body).map_err(|e| self.transport_failure(&e))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES as u64)
            .read_to_string()
            .map_err(|e| self.transport_failure(&e))?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let excerpt: String = text.chars().take(200).collect();
        let said = format!("HTTP {status}: {excerpt}");
        Err(match status {
            401 | 403 => Failure::Permanent(match &self.api_key_env {
                Some(var) => format!("{said} (the endpoint refused the key in {var})"),
                None => format!(
                    "{said} (no API key was sent: name the variable holding it with api_key_env, \
or set {DEFAULT_API_KEY_ENV})"
                ),
            }),
            300..=399 => Failure::Permanent(format!(
                "{said} (a redirect to {}: redirects are not followed, point base_url there)",
                response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("an unnamed location")
            )),
            408 | 429 | 500..=599 => Failure::Transient(said),
            _ => Failure::Permanent(said),
        })
    }

    fn transport_failure(&self, e: &ureq::Error) -> Failure {
        use ureq::Error as E;
        let tls = |detail: &dyn std::fmt::Display| {
            Failure::Permanent(format!(
                "TLS failed: {detail} (a certificate that does not verify is never bypassed; \
trust a private CA with ca_file)"
            ))
        };
        match e {
            E::Timeout(_) => Failure::Transient(format!(
                "no complete response within {} s",
                self.settings.timeout_s
            )),
            E::BodyExceedsLimit(_) => Failure::Permanent(format!(
                "response larger than {} MiB: refused",
                MAX_RESPONSE_BYTES >> 20
            )),
            E::Rustls(inner) => tls(inner),
            E::Tls(inner) => tls(inner),
            E::Pem(inner) => tls(inner),
            E::Io(io) if io.get_ref().is_some_and(|r| r.is::<rustls::Error>()) => tls(io),
            E::BadUri(_) | E::TooManyRedirects | E::RedirectFailed | E::InvalidProxyUrl => {
                Failure::Permanent(e.to_string())
            }
            E::HostNotFound | E::ConnectionFailed => Failure::Transient(format!("cannot connect: {e}")),
            other => Failure::Transient(other.to_string()),
        }
    }
}

/// The most a judge response may hold. A chat completion with a few `top_logprobs` is a few
/// KB; a server streaming without end is cut here rather than filling memory.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

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
