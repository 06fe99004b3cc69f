//! The generative judge on the real SmolLM2-135M-Instruct (imported from the GGUF that
//! `just smollm2` fetches, as seal-models' tests do; a missing file is a failure, not a skip).

use std::path::PathBuf;
use std::time::Instant;

use seal_eval::{GenerativeJudge, GenerativeSettings, Judge, PairItem};
use seal_models::backend::{Cpu, cpu_device};

fn gguf_path() -> PathBuf {
    match std::env::var_os("SEAL_SMOLLM2_GGUF") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
    }
}

fn item(prompt: &str, a: &str, b: &str) -> PairItem {
    PairItem {
        prompt: prompt.into(),
        answer_a: a.into(),
        answer_b: b.into(),
    }
}

#[test]
fn smollm2_judge_preference_follows_the_good_answer_when_swapped() {
    let gguf = gguf_path();
    assert!(
        gguf.exists(),
        "{} is missing: run `just smollm2` (or set SEAL_SMOLLM2_GGUF)",
        gguf.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("smollm2");
    seal_models::import::import_gguf_folder(&gguf, &model_dir, false).unwrap();
    let mut judge =
        GenerativeJudge::<Cpu>::load(&model_dir, GenerativeSettings::default(), &cpu_device()).unwrap();

    // Clear-cut pairs: (prompt, good, bad).
    let cases = [
        (
            "How do I boil an egg?",
            "Put the egg in boiling water for about eight minutes, then cool it in cold water.",
            "asdf qwer zxcv",
        ),
        (
            "What is the capital of France?",
            "The capital of France is Paris.",
            "Bananas are yellow and I like trains.",
        ),
        (
            "Write a short greeting.",
            "Hello! I hope you are having a wonderful day.",
            "No.",
        ),
    ];
    let mut items = Vec::new();
    for (p, good, bad) in cases {
        items.push(item(p, good, bad));
        items.push(item(p, bad, good));
    }
    let start = Instant::now();
    let prefs = judge.prefer(&items).unwrap();
    println!(
        "judged {} items in {:.1}s",
        items.len(),
        start.elapsed().as_secs_f64()
    );
    for (i, (p, _, _)) in cases.iter().enumerate() {
        println!(
            "{p}: P(A | good, bad) = {:.3}, P(A | bad, good) = {:.3}",
            prefs[2 * i],
            prefs[2 * i + 1]
        );
    }
    assert!(prefs.iter().all(|p| (0.0..=1.0).contains(p)), "{prefs:?}");
    // The preference follows the good answer when it moves from A to B: P(A) is higher with
    // the good answer first, on every pair. SmolLM2-135M is a weak judge: measured 0.599 vs
    // 0.507 (egg), 0.431 vs 0.395 (capital), 0.589 vs 0.560 (greeting); a flip around 0.5 is
    // not reliable at this size, which is why win rates average both orders.
    for (i, (p, _, _)) in cases.iter().enumerate() {
        assert!(prefs[2 * i] > prefs[2 * i + 1], "{p}: {prefs:?}");
    }
}
