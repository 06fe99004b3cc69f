//! The HTTP judge against a real server on loopback: continuous preferences from logprobs, the
//! verdict cache across a restart, timeouts and garbage answered by retries and clear errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
}

/// Serves chat completions on a loopback port; returns its URL and a request counter.
fn serve(mode: Mode) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let last = request["messages"].as_array().unwrap().last().unwrap()["content"]
                .as_str()
                .unwrap()
                .to_string();
            match mode {
                Mode::Trickle => {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
                    while stream.write_all(b"x").is_ok() {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    continue;
                }
                Mode::Flood => {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n");
                    let chunk = vec![b'['; 64 * 1024];
                    while stream.write_all(&chunk).is_ok() {}
                    continue;
                }
                _ => {}
            }
            let reply = match (mode, n) {
                (Mode::Slow, _) => {
                    std::thread::sleep(Duration::from_millis(1500));
                    String::new()
                }
                (Mode::Garbage, _) | (Mode::Flaky, 0) => "<html>oops</html>".to_string(),
                _ => {
                    let a_good = last.contains("Answer A: good");
                    let (a, b) = if a_good { (-0.2, -1.8) } else { (-1.8, -0.2) };
                    serde_json::json!({"choices": [{"message": {"content": if a_good {"A"} else {"B"}},
                        "logprobs": {"content": [{"token": "A", "logprob": a, "top_logprobs": [
                            {"token": "A", "logprob": a}, {"token": "B", "logprob": b}]}]}}]})
                    .to_string()
                }
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (url, count)
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
        cache: None,
    }
}

#[test]
fn http_judge_reads_logprobs_and_never_asks_twice_after_a_restart() {
    let (url, count) = serve(Mode::Good);
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
    let (url, _) = serve(Mode::Slow);
    let start = Instant::now();
    let err = HttpJudge::new(settings(&url))
        .unwrap()
        .prefer(&items()[..1])
        .unwrap_err();
    assert!(matches!(err, EvalError::Http { attempts: 2, .. }), "{err}");
    assert!(
        err.to_string().contains("no complete response within 0.3 s"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());

    // The deadline is per request, not per read: a trickling server is cut at 0.3 s a try.
    let (url, _) = serve(Mode::Trickle);
    let start = Instant::now();
    let err = HttpJudge::new(settings(&url))
        .unwrap()
        .prefer(&items()[..1])
        .unwrap_err();
    assert!(
        err.to_string().contains("no complete response within 0.3 s"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());

    // A response without end is cut at the size cap, not read into memory.
    let (url, _) = serve(Mode::Flood);
    let flood = HttpSettings {
        timeout_s: 30.0,
        ..settings(&url)
    };
    let err = HttpJudge::new(flood).unwrap().prefer(&items()[..1]).unwrap_err();
    assert!(err.to_string().contains("larger than 4 MiB"), "{err}");

    let (url, count) = serve(Mode::Garbage);
    let err = HttpJudge::new(settings(&url))
        .unwrap()
        .prefer(&items()[..1])
        .unwrap_err();
    assert!(
        err.to_string().contains("not JSON") && err.to_string().contains(&url),
        "{err}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 2, "one retry");

    let (url, count) = serve(Mode::Flaky);
    let p = HttpJudge::new(settings(&url))
        .unwrap()
        .prefer(&items()[..1])
        .unwrap();
    assert!(p[0] > 0.5, "{p:?}");
    assert_eq!(count.load(Ordering::SeqCst), 2, "the retry succeeded");

    let bad = HttpJudge::new(settings("https://example.com")).unwrap_err();
    assert!(bad.to_string().contains("http://host:port"), "{bad}");
}
