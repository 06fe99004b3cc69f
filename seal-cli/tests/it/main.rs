//! End-to-end tests of the `seal` binary on the committed fixtures.

mod data;
mod demo;
mod dpo;
mod finetune;
mod hostile;
mod judge;
mod select;

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join(name)
}

fn seal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seal"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("seal runs")
}

/// Writes `rows` lines of `src`, after skipping `skip`, to `dst` (a slice of a JSONL file).
fn head(src: &std::path::Path, dst: &std::path::Path, rows: usize, skip: usize) {
    let text = std::fs::read_to_string(src).unwrap();
    let lines: Vec<&str> = text.lines().skip(skip).take(rows).collect();
    std::fs::write(dst, lines.join("\n") + "\n").unwrap();
}

/// `seal ablate --quiet --plan PLAN --out OUT`.
fn ablate(plan: &std::path::Path, out: &std::path::Path) -> Output {
    seal(&[
        "ablate",
        "--quiet",
        "--plan",
        plan.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn generate_is_deterministic_for_a_seed() {
    let model = fixture("tiny-llama");
    let args = [
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "The capital of France",
        "--max-new-tokens",
        "8",
        "--seed",
        "3",
        "--json",
    ];
    let a = seal(&args);
    assert!(a.status.success(), "{}", stderr(&a));
    let b = seal(&args);
    assert_eq!(stdout(&a), stdout(&b));
    let line: serde_json::Value = serde_json::from_str(stdout(&a).trim()).unwrap();
    assert_eq!(line["seed"], 3);
    assert!(line["new_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn a_prompt_on_the_command_line_is_answered_as_the_same_prompt_in_a_set() {
    // Both cut the prompt where a training row of it ends its prompt (`seal_data::prompt_ids`),
    // so greedy decoding gives the same answer either way.
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("world-model");
    let line = std::fs::read_to_string(fixture("world").join("eval_general.jsonl"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let record: serde_json::Value = serde_json::from_str(&line).unwrap();
    let text = record["prompt"][0]["content"].as_str().unwrap().to_string();
    let set = tmp.path().join("one.jsonl");
    std::fs::write(&set, format!("{line}\n")).unwrap();
    let out = tmp.path().join("answers.jsonl");
    let common = [
        "--model",
        model.to_str().unwrap(),
        "--greedy",
        "--max-new-tokens",
        "12",
    ];
    let o = seal(
        &[
            &["generate"],
            &common[..],
            &["--prompts", set.to_str().unwrap(), "--out", out.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let from_set: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).unwrap().lines().next().unwrap()).unwrap();
    let o = seal(&[&["generate"], &common[..], &["--prompt", &text]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        from_set["output"].as_str().unwrap().trim(),
        "{text}"
    );
}

#[test]
fn distill_leaves_out_cut_answers_unless_asked_to_keep_them() {
    // One new token: no answer can end on a stop token after it, so every answer is cut.
    let tmp = tempfile::tempdir().unwrap();
    let prompts = tmp.path().join("prompts.jsonl");
    head(&fixture("world").join("eval_general.jsonl"), &prompts, 4, 0);
    let model = fixture("world-model");
    let distill = |out: &std::path::Path, extra: &[&str]| {
        let args = [
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--prompts",
            prompts.to_str().unwrap(),
            "--distill",
            "--greedy",
            "--max-new-tokens",
            "1",
            "--out",
            out.to_str().unwrap(),
        ];
        seal(&[&args[..], extra].concat())
    };
    let dropped = tmp.path().join("dropped.jsonl");
    let o = distill(&dropped, &[]);
    assert!(!o.status.success(), "every answer is cut: {}", stdout(&o));
    assert!(stderr(&o).contains("cut at --max-new-tokens 1"), "{}", stderr(&o));
    assert!(!dropped.exists(), "nothing written when nothing is kept");

    let kept = tmp.path().join("kept.jsonl");
    let o = distill(&kept, &["--keep-cut"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&kept)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4, "{}", stdout(&o));
    for row in &rows {
        assert!(!row["response"].as_str().unwrap().is_empty(), "{row}");
    }
    // --keep-cut only means something with --distill.
    let o = seal(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompts",
        prompts.to_str().unwrap(),
        "--keep-cut",
        "--out",
        tmp.path().join("x.jsonl").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--distill"), "{}", stderr(&o));
}

#[test]
fn import_gguf_writes_a_loadable_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported");
    let gguf = fixture("tiny-gguf").join("tiny-llama.gguf");
    let o = seal(&[
        "model",
        "import-gguf",
        gguf.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let o = seal(&["model", "inspect", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("parameters:"));
    // A second import into the same folder refuses without --force.
    let o = seal(&[
        "model",
        "import-gguf",
        gguf.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
}

#[test]
fn export_round_trips_a_sharded_half_precision_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("tiny-qwen2");
    let out = dir.path().join("qwen2-f32");
    let o = seal(&[
        "model",
        "export",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("model.safetensors").is_file() && !out.join("model.safetensors.index.json").exists());
    // Every tensor of the two f16 shards, by name, with its shape and its exact values (an f16
    // widens to f32 without rounding, so the export must be bit-identical to the read source).
    let (a, b) = (
        seal_models::read_checkpoint(&src).unwrap(),
        seal_models::read_checkpoint(&out).unwrap(),
    );
    let names = |m: &seal_models::TensorMap| {
        m.names()
            .map(str::to_string)
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(names(&a), names(&b));
    for name in a.names() {
        let (x, y) = (a.get(name).unwrap(), b.get(name).unwrap());
        assert_eq!(x.shape, y.shape, "{name}");
        let bits = |t: &seal_models::HostTensor| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert!(bits(x) == bits(y), "{name}: values differ");
    }
    let config = |d: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("config.json")).unwrap()).unwrap()
    };
    for key in [
        "model_type",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "vocab_size",
        "tie_word_embeddings",
        "rope_theta",
    ] {
        assert_eq!(config(&src)[key], config(&out)[key], "config.json {key}");
    }
    for file in ["tokenizer.json", "tokenizer_config.json"] {
        assert_eq!(
            std::fs::read(src.join(file)).unwrap(),
            std::fs::read(out.join(file)).unwrap(),
            "{file}"
        );
    }
    // And the exported folder generates what the source does.
    let prompt = [
        "generate",
        "--prompt",
        "Hello",
        "--greedy",
        "--max-new-tokens",
        "16",
        "--raw",
        "--model",
    ];
    let a = seal(&[&prompt[..], &[src.to_str().unwrap()]].concat());
    let b = seal(&[&prompt[..], &[out.to_str().unwrap()]].concat());
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        stderr(&a),
        stderr(&b)
    );
    assert_eq!(stdout(&a), stdout(&b));
}

#[test]
fn bad_inputs_exit_non_zero_with_a_named_error() {
    let o = seal(&["generate", "--model", "/nonexistent/model", "--prompt", "hi"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).starts_with("error:") && stderr(&o).contains("/nonexistent/model"),
        "{}",
        stderr(&o)
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.gguf");
    std::fs::write(&bad, b"GGUF\x03\x00\x00\x00 truncated").unwrap();
    let out = dir.path().join("out");
    let o = seal(&[
        "model",
        "import-gguf",
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.gguf"), "{}", stderr(&o));
    assert!(!out.exists(), "no partial output folder on failure");

    let o = seal(&["bench", "train-step", "--config", "/nonexistent/config.json"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/nonexistent/config.json"), "{}", stderr(&o));
}

#[test]
fn bench_select_reports_every_mode_with_peak_memory() {
    let config = fixture("tiny-llama").join("config.json");
    let o = seal(&[
        "bench",
        "select",
        "--config",
        config.to_str().unwrap(),
        "--batch",
        "2",
        "--seq-len",
        "16",
        "--steps",
        "1",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    for mode in ["sft", "alg2", "alg1"] {
        assert!(report[mode]["median_step_s"].as_f64().unwrap() > 0.0, "{mode}");
        assert!(report[mode]["peak_bytes"].as_u64().unwrap() > 0, "{mode}");
    }
    // Ratios are reported, never asserted: timings are not test material.
    assert!(report["alg1_over_sft"].as_f64().is_some());
}

#[test]
fn version_names_the_commit_and_backend_and_completions_cover_every_subcommand() {
    let o = seal(&["--version"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = stdout(&o);
    assert!(
        v.starts_with(&format!("seal {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(v.contains("; features: ") && v.contains("; cpu backend: "), "{v}");
    for shell in ["bash", "zsh", "fish"] {
        let o = seal(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        for word in ["select", "finetune", "ablate", "resume", "api-key-env"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let o = seal(&["completions", "powershell-but-not"]);
    assert!(!o.status.success());
}
