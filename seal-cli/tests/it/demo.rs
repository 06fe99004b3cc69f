//! `seal demo --quick` end to end: the report's structure and computed (not constant) numbers,
//! reuse of finished stages, and fault tolerance: a run killed during selection or during
//! fine-tuning and resumed writes the same `results.csv` as an uninterrupted run.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{seal, stderr};

fn results(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("results.csv")).expect("results.csv written")
}

fn field(line: &str, header: &str, name: &str) -> Option<f64> {
    let i = header.split(',').position(|h| h == name)?;
    line.split(',').nth(i)?.parse().ok()
}

fn spawn_demo(out: &Path) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seal"));
    cmd.args(["demo", "--quick", "--quiet", "--out"])
        .arg(out)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Its own process group, so the kill reaches the stage processes it starts, as Ctrl-C would.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().expect("seal demo starts")
}

/// Waits until a file matching `stage*/checkpoints/epoch-0001/state.json` exists under
/// `out/stages`, then kills the whole process group.
fn kill_after_first_checkpoint(mut child: Child, out: &Path, stage: &str) {
    let started = Instant::now();
    loop {
        let hit = std::fs::read_dir(out.join("stages")).ok().is_some_and(|dirs| {
            dirs.filter_map(Result::ok).any(|d| {
                d.file_name().to_string_lossy().starts_with(stage)
                    && d.path().join("checkpoints/epoch-0001/state.json").is_file()
            })
        });
        if hit {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("demo ended ({status}) before a {stage} checkpoint appeared");
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "no {stage} checkpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pgid = child.id().to_string();
    Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status()
        .expect("kill runs");
    let _ = child.wait();
}

#[test]
fn quick_demo_reports_computed_numbers_and_resumes_after_a_kill_to_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let straight = tmp.path().join("straight");
    let out = seal(&["demo", "--quick", "--quiet", "--out", straight.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = std::fs::read_to_string(straight.join("report.md")).unwrap();
    for heading in [
        "## Methods",
        "## Algorithm 1 vs Algorithm 2",
        "## Judge-free diagnostics",
        "### Refusal rates",
        "## Resolved plan",
    ] {
        assert!(report.contains(heading), "report lacks {heading}:\n{report}");
    }
    assert!(straight.join("winrates.svg").is_file() && straight.join("weights.svg").is_file());
    let csv = results(&straight);
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    // 4 runs x 2 test sets.
    assert_eq!(rows.len(), 8, "{csv}");
    let mut win_rates = Vec::new();
    for row in &rows {
        if !row.starts_with("full,") {
            let w = field(row, header, "win_rate").expect("a win rate against full");
            assert!((0.0..=1.0).contains(&w), "{row}");
            win_rates.push(w);
        }
        if row.contains(",seal,") {
            let auroc = field(row, header, "poison_auroc").expect("a poison AUROC");
            assert!((0.0..=1.0).contains(&auroc), "{row}");
        }
    }
    // Computed, not constant: different runs and sets do not all score the same.
    assert!(
        win_rates.iter().any(|&w| (w - win_rates[0]).abs() > 1e-9),
        "{csv}"
    );

    // A second call reuses every stage and writes the same results.
    let again = seal(&[
        "demo",
        "--quick",
        "--quiet",
        "--resume",
        "--out",
        straight.to_str().unwrap(),
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(results(&straight), csv);
    // Without --resume an existing run folder is refused rather than overwritten.
    let refused = seal(&["demo", "--quick", "--quiet", "--out", straight.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("--resume"), "{}", stderr(&refused));

    for stage in ["select-", "finetune-"] {
        let dir = tmp.path().join(format!("killed-{stage}"));
        kill_after_first_checkpoint(spawn_demo(&dir), &dir, stage);
        assert!(!dir.join("results.csv").exists());
        let resumed = seal(&[
            "demo",
            "--quick",
            "--quiet",
            "--resume",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        assert_eq!(results(&dir), csv, "killed during {stage}, resumed");
    }
}

fn write_plan(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("plan.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A valid plan over the committed world, for the bad-input tests to break.
fn plan_text() -> String {
    let fixtures = crate::fixture("");
    format!(
        r#"name = "bad"
model = "{f}/world-model"
[data]
safe = "{f}/world/safe.jsonl"
ft = "{f}/world/ft.jsonl"
[[test_sets]]
name = "harmful"
path = "{f}/world/eval_harmful.jsonl"
[judge]
kind = "train_reward"
pairs = "{f}/world/preferences.jsonl"
tokenizer = "{f}/world"
[[runs]]
name = "seal"
method = "seal"
"#,
        f = fixtures.display()
    )
}

#[test]
fn bad_plans_fail_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |plan: &str| {
        let path = write_plan(tmp.path(), plan);
        let out = tmp.path().join("out");
        let o = seal(&[
            "ablate",
            "--plan",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        // Nothing was started: no stage folders.
        assert!(!out.join("stages").exists(), "work started for a bad plan");
        stderr(&o)
    };
    let unknown = plan_text().replace("[data]", "colour = \"blue\"\n[data]");
    assert!(run(&unknown).contains("colour"), "unknown key not named");
    let missing = plan_text().replace("world/ft.jsonl", "world/nope.jsonl");
    let err = run(&missing);
    assert!(err.contains("nope.jsonl") && err.contains("data.ft"), "{err}");
    let bad_gamma = plan_text().replace("method = \"seal\"", "method = \"seal\"\ngamma = \"sideways\"");
    assert!(run(&bad_gamma).contains("sideways"));
    // The judge folder is a causal LM, not a one-label classifier: refused before training.
    let not_a_judge = plan_text().replace(
        &format!(
            "kind = \"train_reward\"\npairs = \"{f}/world/preferences.jsonl\"\ntokenizer = \"{f}/world\"",
            f = crate::fixture("").display()
        ),
        &format!(
            "kind = \"reward\"\npath = \"{}\"",
            crate::fixture("tiny-llama").display()
        ),
    );
    assert_ne!(not_a_judge, plan_text());
    let err = run(&not_a_judge);
    assert!(err.contains("judge"), "{err}");
}
