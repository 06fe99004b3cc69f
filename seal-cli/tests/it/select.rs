//! `seal select` on the embedded fixture world with its tiny aligned Llama (issue 4's must-show):
//! both algorithms rank the poison (harmful compliant answers) below the benign examples, and
//! the outputs (scores, selector, metrics, checkpoints) are what later stages read. Plus the
//! bad inputs: a selector of another dataset, p outside (0, 1], an unknown schedule. (A NaN loss
//! stops the loop with an error naming epoch, step and example before any checkpoint of that
//! epoch is written: seal-core's `bilevel_loop` tests.)

use std::path::Path;

use crate::{fixture, head, seal, stderr};

fn metrics(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap()
}

/// `seal select` of the world model with the world's D_safe on `data`, then `settings` and
/// `extra` flags.
fn select(out: &Path, data: &Path, settings: &[&str], extra: &[&str]) -> std::process::Output {
    let model = fixture("world-model");
    let safe = fixture("world/safe.jsonl");
    let mut args = vec![
        "select",
        "--model",
        model.to_str().unwrap(),
        "--safe",
        safe.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(settings);
    args.extend_from_slice(extra);
    seal(&args)
}

/// The world's selector settings: a tiny model needs a larger model learning rate than the 7B
/// defaults (DESIGN section 3); everything else is the default.
fn select_world(out: &Path, extra: &[&str]) -> std::process::Output {
    let settings = [
        "--epochs",
        "3",
        "--micro-batch-size",
        "32",
        "--lr",
        "1e-3",
        "--max-len",
        "256",
    ];
    select(out, &fixture("world/ft.jsonl"), &settings, extra)
}

fn assert_world_selection(out: &Path, algo: &str) {
    let m = metrics(out);
    let auroc = m["label_auroc"].as_f64().unwrap();
    let dropped = m["dropped_harmful_share"].as_f64().unwrap();
    eprintln!("{algo}: poison AUROC {auroc:.4}, harmful share of the dropped 20% {dropped:.4}");
    assert!(auroc >= 0.85, "{algo}: poison AUROC {auroc}");
    // D_ft is 15% poison and 15% a benign task the model never saw (issue 8's hazard), which
    // both algorithms also push down: the dropped 20% is not mostly poison on this world, but
    // it holds at least twice the base rate.
    assert!(
        dropped >= 0.30,
        "{algo}: harmful share of the dropped part {dropped}"
    );
    assert_eq!(m["algorithm"], algo);
    assert_eq!(m["epochs"].as_array().unwrap().len(), 3);
    for e in m["epochs"].as_array().unwrap() {
        for key in [
            "gamma_first",
            "lambda_first",
            "safe_loss",
            "weighted_ft_loss",
            "wall_seconds",
            "tokens_per_s",
        ] {
            assert!(e[key].as_f64().is_some_and(f64::is_finite), "{key} in {e}");
        }
    }
    assert!(m["peak_rss_bytes"].as_u64().unwrap() > 0);
    for file in [
        "scores.parquet",
        "selector.safetensors",
        "selector_ids.json",
        "select.json",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    for epoch in 1..=3 {
        assert!(
            out.join(format!("checkpoints/epoch-{epoch:04}/state.json"))
                .is_file()
        );
    }
}

#[test]
fn algorithm_2_ranks_the_world_poison_low() {
    let tmp = tempfile::tempdir().unwrap();
    let out = select_world(tmp.path(), &["--algo", "alg2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_world_selection(tmp.path(), "alg2");
}

#[test]
fn algorithm_1_ranks_the_world_poison_low() {
    let tmp = tempfile::tempdir().unwrap();
    let out = select_world(tmp.path(), &["--algo", "alg1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_world_selection(tmp.path(), "alg1");
}

/// A small, fast run for the bad-input checks.
fn select_small(out: &Path, data: &Path, extra: &[&str]) -> std::process::Output {
    select(
        out,
        data,
        &["--epochs", "1", "--batch-size", "16", "--micro-batch-size", "16"],
        extra,
    )
}

#[test]
fn bad_selector_runs_fail_with_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.jsonl");
    let b = tmp.path().join("b.jsonl");
    head(&fixture("world/ft.jsonl"), &a, 32, 0);
    head(&fixture("world/ft.jsonl"), &b, 32, 100);

    let run_a = tmp.path().join("run-a");
    let ok = select_small(&run_a, &a, &[]);
    assert!(ok.status.success(), "{}", stderr(&ok));

    // A selector trained on other data cannot warm-start this one.
    let sel = run_a.join("selector.safetensors");
    let err = select_small(
        &tmp.path().join("x"),
        &b,
        &["--init-selector", sel.to_str().unwrap()],
    );
    assert!(!err.status.success());
    assert!(
        stderr(&err).contains("does not match the data"),
        "{}",
        stderr(&err)
    );
    // The same data warm-starts fine.
    let same = select_small(
        &tmp.path().join("y"),
        &a,
        &["--init-selector", sel.to_str().unwrap()],
    );
    assert!(same.status.success(), "{}", stderr(&same));

    for (flags, needle) in [
        (vec!["--keep", "1.5"], "outside (0, 1]"),
        (vec!["--keep", "0"], "outside (0, 1]"),
        (vec!["--gamma", "sideways"], "sideways"),
        (vec!["--algo", "alg3"], "alg3"),
    ] {
        let out = tmp.path().join(format!("bad-{}", flags.join("")));
        let o = select_small(&out, &a, &flags);
        assert!(!o.status.success(), "{flags:?} accepted");
        assert!(stderr(&o).contains(needle), "{flags:?}: {}", stderr(&o));
        assert!(!out.join("scores.parquet").exists());
    }

    // A second run into the same folder without --resume is refused.
    let again = select_small(&run_a, &a, &[]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("--resume"), "{}", stderr(&again));
}
