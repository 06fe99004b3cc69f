//! The generative judge on the real SmolLM2-135M-Instruct (imported from the GGUF that
//! `just smollm2` fetches, as seal-models' tests do; a missing file is a failure, not a skip),
//! against transformers on the same GGUF (fixtures/smollm2/make_judge_expected.py).

use std::path::PathBuf;
use std::time::Instant;

use seal_data::ChatMessage;
use seal_eval::judge::generative::judge_messages;
use seal_eval::{GenerativeJudge, GenerativeSettings, Judge, PairItem};
use seal_models::backend::{Cpu, cpu_device};
use serde::{Deserialize, Serialize};

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

/// Clear-cut pairs: (prompt, good, bad). Each is judged in both orders.
const CASES: [(&str, &str, &str); 3] = [
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

/// (good, bad) then (bad, good) for each case.
fn items() -> Vec<PairItem> {
    CASES
        .iter()
        .flat_map(|(p, good, bad)| [item(p, good, bad), item(p, bad, good)])
        .collect()
}

const GOLDEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/smollm2");

/// What fixtures/smollm2/make_judge_expected.py reads: each item's judge conversation.
#[derive(Serialize, Deserialize)]
struct JudgeItems {
    items: Vec<Vec<ChatMessage>>,
}

/// What it writes: transformers' token ids and P(A) = σ(l_A − l_B) for each conversation.
#[derive(Deserialize)]
struct JudgeExpected {
    label_ids: (u32, u32),
    input_ids: Vec<Vec<u32>>,
    p_a: Vec<f64>,
}

#[test]
#[ignore = "rewrites fixtures/smollm2/judge_items.json; run with SEAL_BLESS=1, then make_judge_expected.py"]
fn regenerate_judge_items() {
    assert_eq!(
        std::env::var("SEAL_BLESS").as_deref(),
        Ok("1"),
        "set SEAL_BLESS=1"
    );
    let items = JudgeItems {
        items: items().iter().map(judge_messages).collect(),
    };
    let path = PathBuf::from(GOLDEN_DIR).join("judge_items.json");
    std::fs::write(&path, serde_json::to_string_pretty(&items).unwrap() + "\n").unwrap();
}

/// Tolerance on P(A) against transformers: logits agree to about 1e-4 on this model
/// (seal-models' smollm2 test) and σ' ≤ 1/4; measured, all six agree to four decimals.
const P_TOL: f64 = 2e-4;

#[test]
fn smollm2_judge_matches_transformers_and_follows_the_good_answer_when_swapped() {
    let gguf = gguf_path();
    assert!(
        gguf.exists(),
        "{} is missing: run `just smollm2` (or set SEAL_SMOLLM2_GGUF)",
        gguf.display()
    );
    let golden_items: JudgeItems = serde_json::from_str(
        &std::fs::read_to_string(PathBuf::from(GOLDEN_DIR).join("judge_items.json")).unwrap(),
    )
    .unwrap();
    let expected: JudgeExpected = serde_json::from_str(
        &std::fs::read_to_string(PathBuf::from(GOLDEN_DIR).join("judge_expected.json")).unwrap(),
    )
    .unwrap();
    let items = items();
    for (item, messages) in items.iter().zip(&golden_items.items) {
        assert_eq!(
            &judge_messages(item),
            messages,
            "the judge prompt changed: regenerate fixtures/smollm2/judge_*.json (see regenerate_judge_items)"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("smollm2");
    seal_models::import::import_gguf_folder(&gguf, &model_dir, false).unwrap();
    let mut judge =
        GenerativeJudge::<Cpu>::load(&model_dir, GenerativeSettings::default(), &cpu_device()).unwrap();
    assert_eq!(
        judge.label_ids, expected.label_ids,
        "the answer labels' token ids"
    );
    // The chat template and tokenizer give transformers' ids, token for token.
    for (i, item) in items.iter().enumerate() {
        assert_eq!(judge.encode(item).unwrap(), expected.input_ids[i], "item {i}");
    }
    let start = Instant::now();
    let prefs = judge.prefer(&items).unwrap();
    println!(
        "judged {} items in {:.1}s",
        items.len(),
        start.elapsed().as_secs_f64()
    );
    for (i, (p, _, _)) in CASES.iter().enumerate() {
        println!(
            "{p}: P(A | good, bad) = {:.4} (transformers {:.4}), P(A | bad, good) = {:.4} ({:.4})",
            prefs[2 * i],
            expected.p_a[2 * i],
            prefs[2 * i + 1],
            expected.p_a[2 * i + 1]
        );
    }
    for (i, (p, e)) in prefs.iter().zip(&expected.p_a).enumerate() {
        assert!(
            (p - e).abs() <= P_TOL,
            "item {i}: P(A) {p} against transformers' {e}"
        );
    }
    // The preference follows the good answer when it moves from A to B: P(A) is higher with
    // the good answer first, on every pair, as transformers' numbers also show. SmolLM2-135M is
    // a weak judge (the gaps are a few hundredths) and leans to one label, which is why win
    // rates average both orders.
    for (i, (p, _, _)) in CASES.iter().enumerate() {
        assert!(
            expected.p_a[2 * i] > expected.p_a[2 * i + 1],
            "{p}: the reference itself flips"
        );
        assert!(prefs[2 * i] > prefs[2 * i + 1], "{p}: {prefs:?}");
    }
}
