//! `seal finetune`: SEAL's selection is applied by id (a selector trained with one model selects
//! for another, and rows filtered out upstream do not shift it), the output folder loads back,
//! and bad inputs fail clearly: scores of another dataset, an empty selection, p outside (0, 1].

use std::path::Path;

use crate::{fixture, head, seal, stderr, stdout};

fn ids_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// `seal finetune` (one small epoch) of `model` on `data` into `out`, then `extra`.
pub(crate) fn finetune(model: &Path, data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "finetune",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--micro-batch-size",
        "16",
        "--lr",
        "1e-3",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    seal(&args)
}

#[test]
fn a_selector_of_one_model_selects_for_another_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("ft.jsonl");
    head(&fixture("world/ft.jsonl"), &data, 40, 0);
    let sel = tmp.path().join("sel");
    let o = seal(&[
        "select",
        "--model",
        fixture("world-model").to_str().unwrap(),
        "--safe",
        fixture("world/safe.jsonl").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        sel.to_str().unwrap(),
        "--epochs",
        "1",
        "--batch-size",
        "20",
        "--micro-batch-size",
        "20",
        "--lr",
        "1e-3",
        "--keep",
        "0.75",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let scores = sel.join("scores.parquet");

    // Fine-tune another model (the tiny fixture Llama, its own tokenizer) on the kept 75%. Its
    // 96-token limit drops the longer rows: the selection still keeps exactly the selector's
    // top ids that remain, nothing shifted.
    let out = tmp.path().join("ft");
    let o = finetune(
        &fixture("tiny-llama"),
        &data,
        &out,
        &[
            "--method",
            "seal",
            "--scores",
            scores.to_str().unwrap(),
            "--keep",
            "0.75",
            "--max-len",
            "96",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("fine-tuned on"));
    let trained = ids_of(&out.join("trained_ids.txt"));
    let kept: std::collections::HashSet<String> = seal_data::read_scores(&out.join("scores.parquet"))
        .unwrap()
        .into_iter()
        .filter(|row| row.kept)
        .map(|row| row.id.to_string())
        .collect();
    assert_eq!(kept.len(), 30, "⌊0.75·40⌋ kept by the selector's logits");
    assert!(!trained.is_empty() && trained.len() <= 30);
    assert!(
        trained.iter().all(|id| kept.contains(id)),
        "trained on an id the selector dropped"
    );
    // The output folder is a model seal loads back and answers with.
    let model = out.join("model");
    let g = seal(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "hi",
        "--greedy",
        "--max-new-tokens",
        "4",
    ]);
    assert!(g.status.success(), "{}", stderr(&g));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics["train_examples"].as_u64().unwrap() as usize,
        trained.len()
    );
    assert!(metrics["epochs"][0]["mean_loss"].as_f64().unwrap().is_finite());

    // Bad inputs. Scores of another dataset: every id of these rows lacks a score.
    let other = tmp.path().join("other.jsonl");
    head(&fixture("world/ft.jsonl"), &other, 40, 200);
    let o = finetune(
        &fixture("world-model"),
        &other,
        &tmp.path().join("bad1"),
        &["--method", "seal", "--scores", scores.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("does not match the data"), "{}", stderr(&o));
    for keep in ["0", "1.5", "-0.2"] {
        let flag = format!("--keep={keep}");
        let o = finetune(
            &fixture("world-model"),
            &data,
            &tmp.path().join("bad2"),
            &["--method", "random", &flag],
        );
        assert!(!o.status.success());
        assert!(stderr(&o).contains("outside (0, 1]"), "{keep}: {}", stderr(&o));
    }
    // ⌊0.01·40⌋ = 0 examples: an empty selection is an error, not an empty model.
    let o = finetune(
        &fixture("world-model"),
        &data,
        &tmp.path().join("bad3"),
        &["--method", "random", "--keep", "0.01"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("selects none"), "{}", stderr(&o));
    assert!(!tmp.path().join("bad3/model").exists());
    // seal without scores, dsir without the safe set.
    let o = finetune(
        &fixture("world-model"),
        &data,
        &tmp.path().join("bad4"),
        &["--method", "seal"],
    );
    assert!(stderr(&o).contains("--scores"), "{}", stderr(&o));
    let o = finetune(
        &fixture("world-model"),
        &data,
        &tmp.path().join("bad5"),
        &["--method", "dsir"],
    );
    assert!(stderr(&o).contains("--safe"), "{}", stderr(&o));
    let o = finetune(
        &fixture("world-model"),
        &data,
        &tmp.path().join("bad6"),
        &["--method", "best"],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("best"),
        "{}",
        stderr(&o)
    );
}
