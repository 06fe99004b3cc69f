//! The HTTP judge against real servers on loopback, plain and TLS (a self-signed certificate
//! made here): continuous preferences from logprobs, the verdict cache across a restart, the
//! API key in the Authorization header, timeouts and garbage answered by retries and clear
//! errors, and the failures that must not be retried (401, a certificate that does not verify).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seal_eval::{EvalError, HttpJudge, HttpSettings, Judge, PairItem};

#[derive(Clone, Copy)]
enum Mode {
    /// Logprobs favouring the answer that says "good".
    Good,
    /// Never answers within the client's timeout.
    Slow,
    /// 200 with a body that is not JSON.
    Garbage,
    /// Garbage on the first request, good afterwards.
    Flaky,
    /// A byte every 50 ms, never finishing: each read is quick, the response never is.
    Trickle,
    /// 200 and bytes without end.
    Flood,
    /// This status on every request.
    Status(u16),
    /// 429 on the first request, good afterwards.
    RateLimitedOnce,
    /// A redirect to another host.
    Redirect,
}

/// A loopback judge server: its URL, the connections it accepted and the Authorization header
/// of each request it read (`None` where there was none).
struct Server {
    url: String,
    connections: Arc<AtomicUsize>,
    authorization: Arc<Mutex<Vec<Option<String>>>>,
}

/// Reads one request (head and `Content-Length` body); `None` if the peer went away.
fn read_request(stream: &mut impl Read) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).ok()?;
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// Answers one connection in `mode` (`n`: how many came before it).
fn answer(
    stream: &mut (impl Read + Write),
    mode: Mode,
    n: usize,
    authorization: &Mutex<Vec<Option<String>>>,
) {
    let Some((head, body)) = read_request(stream) else {
        return;
    };
    let auth = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        })
        .map(|(_, v)| v.trim().to_string());
    authorization.lock().unwrap().push(auth);
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let last = request["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    let respond = |stream: &mut dyn Write, status: &str, extra: &str, reply: &str| {
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{reply}",
            reply.len()
        );
        let _ = stream.flush();
    };
    match (mode, n) {
        (Mode::Trickle, _) => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
            while stream.write_all(b"x").and_then(|()| stream.flush()).is_ok() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        (Mode::Flood, _) => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n");
            let chunk = vec![b'['; 64 * 1024];
            while stream.write_all(&chunk).is_ok() {}
        }
        (Mode::Slow, _) => std::thread::sleep(Duration::from_millis(1500)),
        (Mode::Garbage, _) | (Mode::Flaky, 0) => respond(stream, "200 OK", "", "<html>oops</html>"),
        (Mode::Status(code), _) => respond(stream, &format!("{code} Nope"), "", r#"{"error":"nope"}"#),
        (Mode::RateLimitedOnce, 0) => {
            respond(stream, "429 Too Many Requests", "", r#"{"error":"slow down"}"#)
        }
        (Mode::Redirect, _) => respond(
            stream,
            "302 Found",
            "Location: http://elsewhere.invalid/v1\r\n",
            "",
        ),
        _ => {
            let a_good = last.contains("Answer A: good");
            let (a, b) = if a_good { (-0.2, -1.8) } else { (-1.8, -0.2) };
            let reply = serde_json::json!({"choices": [{"message": {"content": if a_good {"A"} else {"B"}},
                "logprobs": {"content": [{"token": "A", "logprob": a, "top_logprobs": [
                    {"token": "A", "logprob": a}, {"token": "B", "logprob": b}]}]}}]})
            .to_string();
            respond(stream, "200 OK", "", &reply);
        }
    }
}

/// Serves chat completions over plain HTTP on a loopback port.
fn serve(mode: Mode) -> Server {
    serve_with(mode, None)
}

/// Serves chat completions on a loopback port, over TLS when `tls` is given. Each connection
/// gets its own thread, so a hanging answer never holds up the next.
fn serve_with(mode: Mode, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let authorization = Arc::new(Mutex::new(Vec::new()));
    let (seen, auth) = (connections.clone(), authorization.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut tcp) = stream else { continue };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let (tls, auth) = (tls.clone(), auth.clone());
            std::thread::spawn(move || match tls {
                None => answer(&mut tcp, mode, n, &auth),
                Some(config) => {
                    let connection = rustls::ServerConnection::new(config).unwrap();
                    let mut stream = rustls::StreamOwned::new(connection, tcp);
                    answer(&mut stream, mode, n, &auth);
                    stream.conn.send_close_notify();
                    let _ = stream.flush();
                }
            });
        }
    });
    Server {
        url,
        connections,
        authorization,
    }
}

/// A self-signed certificate for 127.0.0.1, as a rustls server config and the PEM a client
/// would trust.
fn self_signed() -> (Arc<rustls::ServerConfig>, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der());
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key.into())
            .unwrap();
    (Arc::new(config), cert.cert.pem())
}

/// Judges the first item with a judge built from `settings`.
fn judge_one(settings: HttpSettings) -> Result<Vec<f64>, EvalError> {
    HttpJudge::new(settings).unwrap().prefer(&items()[..1])
}

fn items() -> Vec<PairItem> {
    ["one", "two", "three"]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (a, b) = if i % 2 == 0 {
                ("good", "bad")
            } else {
                ("bad", "good")
            };
            PairItem {
                prompt: p.to_string(),
                answer_a: a.into(),
                answer_b: b.into(),
            }
        })
        .collect()
}

fn settings(url: &str) -> HttpSettings {
    HttpSettings {
        base_url: url.into(),
        model: "m".into(),
        timeout_s: 0.3,
        attempts: 2,
        backoff_s: 0.01,
        concurrency: 2,
        ..HttpSettings::default()
    }
}

#[test]
fn http_judge_reads_logprobs_and_never_asks_twice_after_a_restart() {
    let Server {
        url,
        connections: count,
        ..
    } = serve(Mode::Good);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache.jsonl");
    let with_cache = HttpSettings {
        cache: Some(cache.clone()),
        ..settings(&url)
    };
    let mut judge = HttpJudge::new(with_cache.clone()).unwrap();
    let prefs = judge.prefer(&items()).unwrap();
    let high = 1.0 / (1.0 + (-1.6f64).exp());
    for (p, want) in prefs.iter().zip([high, 1.0 - high, high]) {
        assert!((p - want).abs() < 1e-9, "{prefs:?}");
    }
    assert_eq!(count.load(Ordering::SeqCst), 3);
    // A new judge (as after a crash or restart) answers from the cache file.
    let mut again = HttpJudge::new(with_cache).unwrap();
    assert_eq!(again.prefer(&items()).unwrap(), prefs);
    assert_eq!(count.load(Ordering::SeqCst), 3, "nothing judged twice");
    assert_eq!(again.requests_sent(), 0);
}

#[test]
fn http_judge_times_out_and_rejects_garbage_with_clear_errors() {
    let url = serve(Mode::Slow).url;
    let start = Instant::now();
    let err = judge_one(settings(&url)).unwrap_err();
    assert!(matches!(err, EvalError::Http { attempts: 2, .. }), "{err}");
    assert!(
        err.to_string().contains("no complete response within 0.3 s"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());

    // The deadline is per request, not per read: a trickling server is cut at 0.3 s a try.
    let url = serve(Mode::Trickle).url;
    let start = Instant::now();
    let err = judge_one(settings(&url)).unwrap_err();
    assert!(
        err.to_string().contains("no complete response within 0.3 s"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());

    // A response without end is cut at the size cap, not read into memory.
    let url = serve(Mode::Flood).url;
    let flood = HttpSettings {
        timeout_s: 30.0,
        ..settings(&url)
    };
    let err = judge_one(flood).unwrap_err();
    assert!(err.to_string().contains("larger than 4 MiB"), "{err}");

    let Server {
        url,
        connections: count,
        ..
    } = serve(Mode::Garbage);
    let err = judge_one(settings(&url)).unwrap_err();
    assert!(
        err.to_string().contains("not JSON") && err.to_string().contains(&url),
        "{err}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 2, "one retry");

    let Server {
        url,
        connections: count,
        ..
    } = serve(Mode::Flaky);
    let p = judge_one(settings(&url)).unwrap();
    assert!(p[0] > 0.5, "{p:?}");
    assert_eq!(count.load(Ordering::SeqCst), 2, "the retry succeeded");

    for bad_url in ["ftp://example.com", "example.com:8000", "https://", "http:///v1"] {
        let bad = HttpJudge::new(settings(bad_url)).unwrap_err();
        assert!(bad.to_string().contains(bad_url), "{bad}");
    }
}

/// The key variable of these tests: one cargo and nextest set in every test process, so no test
/// has to mutate its own environment (not thread-safe) to have a key to send.
const KEY_VAR: &str = "CARGO_PKG_NAME";

#[test]
fn https_judge_sends_the_key_and_trusts_only_the_named_certificate() {
    assert_eq!(
        std::env::var(KEY_VAR).as_deref(),
        Ok(env!("CARGO_PKG_NAME")),
        "the test runner sets {KEY_VAR}"
    );
    let (tls, pem) = self_signed();
    let server = serve_with(Mode::Good, Some(tls));
    assert!(server.url.starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let mut judge = HttpJudge::new(HttpSettings {
        api_key_env: Some(KEY_VAR.into()),
        ca_file: Some(ca),
        timeout_s: 5.0,
        ..settings(&format!("{}/v1", server.url))
    })
    .unwrap();
    assert_eq!(judge.endpoint(), format!("{}/v1/chat/completions", server.url));
    let prefs = judge.prefer(&items()).unwrap();
    assert!(prefs[0] > 0.5 && prefs[1] < 0.5 && prefs[2] > 0.5, "{prefs:?}");
    let seen = server.authorization.lock().unwrap().clone();
    let bearer = format!("Bearer {}", env!("CARGO_PKG_NAME"));
    assert_eq!(seen, vec![Some(bearer.clone()); 3]);
    // The key is in no name, debug print or error a report could carry.
    assert!(!judge.name().contains(env!("CARGO_PKG_NAME")), "{}", judge.name());
    assert!(!format!("{judge:?}").contains(&bearer), "{judge:?}");

    // Without an explicit variable, and with OPENAI_API_KEY unset here, no header is sent.
    if std::env::var_os(seal_eval::judge::http::DEFAULT_API_KEY_ENV).is_none() {
        let plain = serve(Mode::Good);
        judge_one(settings(&plain.url)).unwrap();
        assert_eq!(*plain.authorization.lock().unwrap(), vec![None]);
    }
}

#[test]
fn a_certificate_that_does_not_verify_fails_at_once_with_a_clear_error() {
    let (tls, _) = self_signed();
    let server = serve_with(Mode::Good, Some(tls));
    let start = Instant::now();
    // Mozilla's roots do not hold a certificate made a moment ago.
    let err = judge_one(HttpSettings {
        attempts: 4,
        backoff_s: 1.0,
        timeout_s: 5.0,
        ..settings(&server.url)
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, EvalError::Http { attempts: 1, .. }), "{err}");
    assert!(text.contains("TLS failed") && text.contains("ca_file"), "{text}");
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "no backoff: {:?}",
        start.elapsed()
    );
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert!(
        server.authorization.lock().unwrap().is_empty(),
        "no request was read"
    );

    // A ca_file that is not PEM is refused when the judge is built.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let err = HttpJudge::new(HttpSettings {
        ca_file: Some(junk.clone()),
        ..settings(&server.url)
    })
    .unwrap_err();
    assert!(err.to_string().contains(&junk.display().to_string()), "{err}");
}

#[test]
fn a_missing_key_variable_is_named_before_any_request() {
    let server = serve(Mode::Good);
    let var = "SEAL_TEST_JUDGE_KEY_THAT_IS_NEVER_SET";
    assert!(std::env::var_os(var).is_none());
    let err = HttpJudge::new(HttpSettings {
        api_key_env: Some(var.into()),
        ..settings(&server.url)
    })
    .unwrap_err();
    assert!(err.to_string().contains(var), "{err}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
}

#[test]
fn unauthorised_is_not_retried_rate_limits_and_server_errors_are() {
    let server = serve(Mode::Status(401));
    let err = judge_one(HttpSettings {
        api_key_env: Some(KEY_VAR.into()),
        attempts: 4,
        ..settings(&server.url)
    })
    .unwrap_err();
    assert!(matches!(err, EvalError::Http { attempts: 1, .. }), "{err}");
    assert!(
        err.to_string().contains("HTTP 401") && err.to_string().contains(KEY_VAR),
        "{err}"
    );
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        1,
        "a 401 is not retried"
    );

    let server = serve(Mode::Status(403));
    let err = judge_one(settings(&server.url)).unwrap_err();
    assert!(err.to_string().contains("no API key was sent"), "{err}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);

    let server = serve(Mode::RateLimitedOnce);
    let p = judge_one(settings(&server.url)).unwrap();
    assert!(p[0] > 0.5, "{p:?}");
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        2,
        "the 429 was retried"
    );

    let server = serve(Mode::Status(500));
    let err = judge_one(HttpSettings {
        attempts: 3,
        ..settings(&server.url)
    })
    .unwrap_err();
    assert!(matches!(err, EvalError::Http { attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);

    // A redirect is not followed (it could carry the key elsewhere, or downgrade to http).
    let server = serve(Mode::Redirect);
    let err = judge_one(settings(&server.url)).unwrap_err();
    assert!(err.to_string().contains("elsewhere.invalid"), "{err}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}
