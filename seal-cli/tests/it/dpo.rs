//! `seal dpo`: preference tuning of the world model on the world's preference pairs raises the
//! chosen answers over the rejected ones, writes a model folder seal loads back and answers
//! with, resumes a finished run without training again, and refuses bad input clearly.

use crate::{fixture, head, seal, stderr, stdout};

fn dpo(pairs: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let model = fixture("world-model");
    let mut args = vec![
        "dpo",
        "--model",
        model.to_str().unwrap(),
        "--pairs",
        pairs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--batch-size",
        "8",
        "--micro-batch-size",
        "4",
        "--lr",
        "1e-3",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    seal(&args)
}

#[test]
fn dpo_raises_chosen_answers_and_writes_a_model_that_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let pairs = tmp.path().join("pairs.jsonl");
    head(&fixture("world/preferences.jsonl"), &pairs, 48, 0);
    let out = tmp.path().join("dpo");
    let o = dpo(&pairs, &out, &["--epochs", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("preference-tuned on 48 pairs"),
        "{}",
        stdout(&o)
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let epochs = metrics["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 3);
    let loss = |e: &serde_json::Value| e["mean_loss"].as_f64().unwrap();
    assert!(loss(&epochs[2]) < loss(&epochs[0]), "{epochs:?}");
    assert!(epochs[2]["accuracy"].as_f64().unwrap() > 0.5, "{epochs:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        3 * 6,
        "one metrics line per step"
    );
    for file in [
        "dpo.json",
        "checkpoints/epoch-0003/state.json",
        "model/config.json",
        "model/tokenizer.json",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let g = seal(&[
        "generate",
        "--model",
        out.join("model").to_str().unwrap(),
        "--prompt",
        "Compute 4 times 9.",
        "--greedy",
        "--max-new-tokens",
        "4",
    ]);
    assert!(g.status.success(), "{}", stderr(&g));
    // A finished run resumes without training again, to the same model.
    let before = std::fs::read(out.join("model/model.safetensors")).unwrap();
    let o = dpo(&pairs, &out, &["--epochs", "3", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(out.join("model/model.safetensors")).unwrap(),
        before
    );
}

#[test]
fn bad_pairs_and_settings_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let pairs = tmp.path().join("pairs.jsonl");
    std::fs::write(&pairs, "{\"prompt\": \"hi\", \"chosen\": \"hello\"}\n").unwrap();
    let o = dpo(&pairs, &tmp.path().join("a"), &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("pairs.jsonl"), "{}", stderr(&o));
    assert!(!tmp.path().join("a").exists(), "nothing written on bad input");

    head(&fixture("world/preferences.jsonl"), &pairs, 8, 0);
    let o = dpo(&pairs, &tmp.path().join("b"), &["--beta", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("beta"), "{}", stderr(&o));
    let o = dpo(&pairs, &tmp.path().join("c"), &["--max-len", "4"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("4 tokens"), "{}", stderr(&o));
    let o = dpo(&tmp.path().join("missing.jsonl"), &tmp.path().join("d"), &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("missing.jsonl"), "{}", stderr(&o));
}
