//! `seal judge train` and `seal judge` end to end on the fixture world, and their bad inputs.

use std::path::Path;

use crate::{fixture, seal, stderr, stdout};

/// Generation records for preference pairs `range` of the fixture world: the candidate answers
/// with each pair's chosen answer, the reference with its rejected one.
fn write_generations(dir: &Path, range: std::ops::Range<usize>) -> (String, String) {
    let text = std::fs::read_to_string(fixture("world").join("preferences.jsonl")).unwrap();
    let pairs: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (mut cand, mut refr) = (String::new(), String::new());
    for (i, p) in pairs[range].iter().enumerate() {
        let category = p["category"].as_str().unwrap();
        // Harm categories are capitalised in the world; benign task families are not.
        let set = if category.starts_with(char::is_uppercase) {
            "harmful"
        } else {
            "general"
        };
        for (out, model, answer) in [
            (&mut cand, "cand", &p["chosen"]),
            (&mut refr, "ref", &p["rejected"]),
        ] {
            let record = serde_json::json!({
                "prompt_id": format!("p{i}"), "set": set, "category": category, "model": model,
                "seed": 0, "settings": {"greedy": true}, "prompt": p["prompt"], "output": answer,
            });
            out.push_str(&format!("{record}\n"));
        }
    }
    let (c, r) = (dir.join("cand.jsonl"), dir.join("ref.jsonl"));
    std::fs::write(&c, cand).unwrap();
    std::fs::write(&r, refr).unwrap();
    (c.to_str().unwrap().into(), r.to_str().unwrap().into())
}

#[test]
fn judge_train_then_win_rates_of_chosen_over_rejected_answers() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("rm");
    let pairs = fixture("world").join("preferences.jsonl");
    let tokenizer = fixture("world").join("tokenizer.json");
    let o = seal(&[
        "judge",
        "train",
        "--pairs",
        pairs.to_str().unwrap(),
        "--tokenizer",
        tokenizer.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--epochs",
        "3",
        "--lr",
        "0.002",
        "--holdout",
        "100",
        "--seed",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("held-out accuracy"), "{}", stdout(&o));
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "train_report.json",
    ] {
        assert!(model.join(file).exists(), "{file} missing");
    }

    // Judge the held-out pairs: the candidate gave the chosen answers.
    let (cand, refr) = write_generations(dir.path(), 500..600);
    let out = dir.path().join("report");
    let judge = format!("reward:{}", model.display());
    let args = [
        "judge",
        "--candidate",
        &cand,
        "--reference",
        &refr,
        "--judge",
        &judge,
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "5",
    ];
    let o = seal(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    for file in seal_eval::report::REPORT_FILES {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("winrates.json")).unwrap()).unwrap();
    let rates = json["win_rates"].as_array().unwrap();
    let whole = |set: &str| {
        rates
            .iter()
            .find(|r| r["set"] == set && r["category"].is_null())
            .unwrap_or_else(|| panic!("no {set} row"))
    };
    println!("{}", std::fs::read_to_string(out.join("winrates.md")).unwrap());
    for set in ["general", "harmful"] {
        let r = whole(set);
        let (w, lo, hi) = (
            r["win_rate"].as_f64().unwrap(),
            r["ci_low"].as_f64().unwrap(),
            r["ci_high"].as_f64().unwrap(),
        );
        assert!(w > 0.75 && lo <= w && w <= hi, "{set}: {r}");
    }
    assert_eq!(
        whole("general")["n"].as_u64().unwrap() + whole("harmful")["n"].as_u64().unwrap(),
        100
    );
    assert!(
        rates.iter().any(|r| r["category"] == "Malware"),
        "per-category rows"
    );
    let csv = std::fs::read_to_string(out.join("winrates.csv")).unwrap();
    assert!(csv.starts_with("set,category,n,win_rate,ci_low,ci_high"), "{csv}");
    let md = std::fs::read_to_string(out.join("winrates.md")).unwrap();
    assert!(md.contains("| set | category | win rate % | CI % | n |"), "{md}");
    assert!(
        std::fs::read(out.join("winrates.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );
    assert!(
        std::fs::read_to_string(out.join("winrates.svg"))
            .unwrap()
            .contains("<rect")
    );
    assert_eq!(
        std::fs::read_to_string(out.join("verdicts.jsonl"))
            .unwrap()
            .lines()
            .count(),
        200
    );

    // Same seed, same report.
    let again = dir.path().join("again");
    let mut args2 = args;
    args2[8] = again.to_str().unwrap();
    assert!(seal(&args2).status.success());
    assert_eq!(
        std::fs::read_to_string(out.join("winrates.csv")).unwrap(),
        std::fs::read_to_string(again.join("winrates.csv")).unwrap()
    );

    // Mismatched prompt ids are named.
    let extra = dir.path().join("extra.jsonl");
    let mut text = std::fs::read_to_string(&cand).unwrap();
    text.push_str(&text.lines().next().unwrap().replace("\"p0\"", "\"p-extra\""));
    std::fs::write(&extra, text).unwrap();
    let o = seal(&[
        "judge",
        "--candidate",
        extra.to_str().unwrap(),
        "--reference",
        &refr,
        "--judge",
        &judge,
        "--out",
        dir.path().join("bad").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("p-extra"), "{}", stderr(&o));
}

#[test]
fn judge_bad_inputs_exit_non_zero_with_a_named_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cand, refr) = write_generations(dir.path(), 0..4);
    let out = dir.path().join("out");
    let run = |cand: &str, judge: &str| {
        seal(&[
            "judge",
            "--candidate",
            cand,
            "--reference",
            &refr,
            "--judge",
            judge,
            "--out",
            out.to_str().unwrap(),
        ])
    };

    // A causal LM is not a reward model.
    let lm = format!("reward:{}", fixture("tiny-llama").display());
    let o = run(&cand, &lm);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("is not a reward model") && stderr(&o).contains("tiny-llama"),
        "{}",
        stderr(&o)
    );

    // An unknown judge kind.
    let o = run(&cand, "oracle:/x");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("oracle:/x"), "{}", stderr(&o));

    // An empty candidate file (checked after the judge loads, so use a real one).
    let model = dir.path().join("rm");
    let o = seal(&[
        "judge",
        "train",
        "--pairs",
        fixture("world").join("preferences.jsonl").to_str().unwrap(),
        "--tokenizer",
        fixture("world").to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--layers",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let o = run(empty.to_str().unwrap(), &format!("reward:{}", model.display()));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("empty.jsonl") && stderr(&o).contains("no records"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "no report on failure");

    // Training pairs with a missing field name the line.
    let bad = dir.path().join("pairs.jsonl");
    std::fs::write(
        &bad,
        "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n{\"prompt\": \"p\"}\n",
    )
    .unwrap();
    let o = seal(&[
        "judge",
        "train",
        "--pairs",
        bad.to_str().unwrap(),
        "--tokenizer",
        fixture("world").to_str().unwrap(),
        "--out",
        dir.path().join("rm2").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("pairs.jsonl:2"), "{}", stderr(&o));
}

#[test]
fn judge_refusals_measures_the_detector_and_names_a_record_without_a_response() {
    // The world's safety demonstrations all refuse with a phrase the detector knows; its
    // benign fine-tuning answers never do.
    let tmp = tempfile::tempdir().unwrap();
    let world = fixture("world");
    let (safe, ft) = (world.join("safe.jsonl"), world.join("ft.jsonl"));
    let benign: String = std::fs::read_to_string(&ft)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""label":"benign""#))
        .map(|l| format!("{l}\n"))
        .collect();
    let answers = tmp.path().join("answers.jsonl");
    std::fs::write(&answers, benign).unwrap();
    let json = tmp.path().join("check.json");
    let o = seal(&[
        "judge",
        "refusals",
        "--refusals",
        safe.to_str().unwrap(),
        "--compliances",
        answers.to_str().unwrap(),
        "--out",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("precision 1.000"), "{}", stdout(&o));
    let check: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(check["true_positives"], 200, "{check}");
    assert_eq!(check["false_negatives"], 0, "{check}");
    assert!(check["true_negatives"].as_u64().unwrap() > 0, "{check}");

    let prompts = tmp.path().join("prompts.jsonl");
    std::fs::write(
        &prompts,
        r#"{"id":"x:0","source":"x","prompt":[{"role":"user","content":"q"}],"label":"benign"}"#.to_string()
            + "\n",
    )
    .unwrap();
    let o = seal(&[
        "judge",
        "refusals",
        "--refusals",
        prompts.to_str().unwrap(),
        "--compliances",
        answers.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("prompts.jsonl: record `x:0` has no response"),
        "{}",
        stderr(&o)
    );
}
