//! Hostile but fair inputs (issue 15's data-loss holes): an output that aliases an input or
//! another output, and `--force` onto a folder seal did not write. Each case asserts the exit
//! code, the message, and that nothing was written or lost.

use std::path::Path;

use crate::{fixture, seal, stderr};

fn copy_sample(name: &str, to: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../seal-data/tests/samples")
        .join(name);
    std::fs::copy(src, to).unwrap();
}

/// Runs `seal data import INPUT --skip-invalid EXTRA...` and expects a refusal naming `needle`,
/// with every file in `dir` as it was.
fn refused_import(dir: &Path, input: &Path, extra: &[&str], needle: &str) {
    let before = snapshot(dir);
    let mut args = vec!["data", "import", input.to_str().unwrap(), "--skip-invalid"];
    args.extend_from_slice(extra);
    let o = seal(&args);
    assert!(!o.status.success(), "{extra:?} accepted");
    assert!(stderr(&o).contains(needle), "{extra:?}: {}", stderr(&o));
    assert_eq!(snapshot(dir), before, "{extra:?} changed files");
}

/// `seal data tokenize --data DATA --tokenizer fixtures/world --out OUT`, then `extra`.
fn tokenize(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let world = fixture("world");
    let mut args = vec![
        "data",
        "tokenize",
        "--data",
        data.to_str().unwrap(),
        "--tokenizer",
        world.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    seal(&args)
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn import_outputs_never_overwrite_an_input_or_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let input = dir.join("in.jsonl");
    copy_sample("bad/missing_field.jsonl", &input);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (inp, out) = (s(&input), s(&dir.join("out.parquet")));
    // The rejects onto the input, spelled as given and through `..`.
    let dotted = s(&dir.join("sub/../in.jsonl"));
    std::fs::create_dir(dir.join("sub")).unwrap();
    for rejects in [&inp, &dotted] {
        refused_import(dir, &input, &["--out", &out, "--rejects", rejects], "--rejects");
    }
    // --out onto the input; --rejects onto --out.
    refused_import(dir, &input, &["--out", &inp], "is the input");
    refused_import(dir, &input, &["--out", &out, "--rejects", &out], "is also --out");
    // A symlink to the input is the input.
    let link = dir.join("link.jsonl");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    refused_import(
        dir,
        &input,
        &["--out", &out, "--rejects", &s(&link)],
        "is the input",
    );
    // The default rejects path (`out.rejects.jsonl`) is refused when it is the input too.
    let clash = dir.join("x.rejects.jsonl");
    copy_sample("bad/missing_field.jsonl", &clash);
    refused_import(dir, &clash, &["--out", &s(&dir.join("x.jsonl"))], "is the input");
    // And the plain case still works.
    let o = seal(&["data", "import", &inp, "--skip-invalid", "--out", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn tokenize_refuses_to_write_over_its_own_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("ft.parquet");
    let o = seal(&[
        "data",
        "import",
        fixture("world/ft.jsonl").to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = std::fs::read(&data).unwrap();
    let o = tokenize(&data, &data, &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is the input"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&data).unwrap(), before);
}

#[test]
fn import_gguf_force_replaces_an_earlier_import_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let gguf = fixture("tiny-gguf").join("tiny-llama.gguf");
    let out = tmp.path().join("model");
    let import = |force: bool| {
        let mut args = vec![
            "model",
            "import-gguf",
            gguf.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        if force {
            args.push("--force");
        }
        seal(&args)
    };
    assert!(import(false).status.success());
    // An earlier import is replaced.
    let o = import(true);
    assert!(o.status.success(), "{}", stderr(&o));
    // A folder with anything else in it is refused, and keeps it all.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::create_dir(out.join("runs")).unwrap();
    let before = snapshot(&out);
    let o = import(true);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("notes.txt") && err.contains("runs") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(snapshot(&out), before);
    assert!(out.join("runs").is_dir());
    // A file where the folder would go is refused too.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let o = seal(&[
        "model",
        "import-gguf",
        gguf.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
        "--force",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a folder"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn a_huge_record_is_dropped_before_it_is_encoded() {
    // Two ordinary rows and one 20 MB response (200 MB took tens of GB in the tokenizer before
    // it was measured against --max-len; the bound now comes first).
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("world/ft.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().take(2).map(str::to_string).collect();
    let mut huge: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    huge["id"] = "huge".into();
    huge["response"] = "word ".repeat(4_000_000).into();
    lines.push(huge.to_string());
    let data = tmp.path().join("ft.jsonl");
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    let out = tmp.path().join("ft.tok.parquet");
    let o = tokenize(&data, &out, &["--max-len", "256"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dropped = std::fs::read_to_string(tmp.path().join("ft.tok.dropped.jsonl")).unwrap();
    assert_eq!(dropped.lines().count(), 1, "{dropped}");
    assert!(
        dropped.contains("\"huge\"") && dropped.contains("not encoded"),
        "{dropped}"
    );
}

/// `seal select` arguments: `model` on `safe` and `data` into `out`, then `extra`.
fn select_args(out: &Path, model: &Path, safe: &Path, data: &Path, extra: &[&str]) -> Vec<String> {
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let mut args = vec![
        "select".to_string(),
        "--model".into(),
        path(model),
        "--safe".into(),
        path(safe),
        "--data".into(),
        path(data),
        "--out".into(),
        path(out),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The world's D_safe and D_ft.
fn world_sets() -> (std::path::PathBuf, std::path::PathBuf) {
    (fixture("world/safe.jsonl"), fixture("world/ft.jsonl"))
}

fn seal_owned(args: &[String]) -> std::process::Output {
    seal(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `seal select` (small and fast) of `model` into `out`, with `safe` as D_safe.
fn select_into(out: &Path, model: &Path, safe: &Path, data: &Path) -> std::process::Output {
    let small = [
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--micro-batch-size",
        "16",
        "--quiet",
    ];
    seal_owned(&select_args(out, model, safe, data, &small))
}

#[test]
fn select_and_finetune_that_fail_on_their_inputs_leave_out_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("ft.jsonl");
    let text = std::fs::read_to_string(fixture("world/ft.jsonl")).unwrap();
    std::fs::write(&data, text.lines().take(32).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let (model, safe) = (fixture("world-model"), fixture("world/safe.jsonl"));
    let out = tmp.path().join("run");
    // A model folder that is not one, then an empty D_safe: each fails, and --out is never made.
    for (model, safe) in [
        (tmp.path().join("no-model"), safe.clone()),
        (model.clone(), empty.clone()),
    ] {
        let o = select_into(&out, &model, &safe, &data);
        assert!(!o.status.success());
        assert!(
            !out.exists(),
            "a failed select left {}: {}",
            out.display(),
            stderr(&o)
        );
    }
    // The corrected command runs without --resume.
    let o = select_into(&out, &model, &safe, &data);
    assert!(o.status.success(), "{}", stderr(&o));

    let ft_out = tmp.path().join("ft");
    let finetune = |data: &Path| crate::finetune::finetune(&model, data, &ft_out, &[]);
    let o = finetune(&empty);
    assert!(!o.status.success());
    assert!(
        !ft_out.exists(),
        "a failed finetune left {}: {}",
        ft_out.display(),
        stderr(&o)
    );
    let o = finetune(&data);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn settings_that_cannot_work_are_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, (safe, data)) = (fixture("world-model"), world_sets());
    let out = tmp.path().join("run");
    let select = |extra: &[&str]| seal_owned(&select_args(&out, &model, &safe, &data, extra));
    for (flags, needle) in [
        (&["--lr", "NaN"][..], "--lr = NaN"),
        (&["--lr=-1"][..], "positive"),
        (&["--epochs", "0"][..], "epochs"),
        (&["--micro-batch-size", "0"][..], "micro_batch_size"),
    ] {
        let o = select(flags);
        assert!(!o.status.success(), "{flags:?} accepted");
        assert!(stderr(&o).contains(needle), "{flags:?}: {}", stderr(&o));
        assert!(!out.exists(), "{flags:?} left {}", out.display());
    }
    let o = seal(&[
        "finetune",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--micro-batch-size",
        "0",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("`micro_batch_size`"), "{}", stderr(&o));
    assert!(!out.exists());
    let o = seal(&[
        "judge",
        "--candidate",
        "a",
        "--reference",
        "b",
        "--out",
        "c",
        "--batch-size",
        "0",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--batch-size"), "{}", stderr(&o));
}

#[test]
fn written_tables_are_as_readable_as_any_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.parquet");
    let o = seal(&[
        "data",
        "import",
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seal-data/tests/samples/alpaca.jsonl")
            .to_string_lossy(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A file made the ordinary way under the same umask.
    let plain = tmp.path().join("plain");
    std::fs::File::create(&plain).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), mode(&plain), "not tempfile's private 0600");
}

#[test]
fn a_record_over_the_size_limit_is_an_error_naming_its_row_or_a_reject() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("big.jsonl");
    let long = "z".repeat(5000);
    std::fs::write(
        &input,
        format!(
            "{{\"instruction\": \"short\", \"input\": \"\", \"output\": \"fine\"}}\n{{\"instruction\": \"long\", \"input\": \"\", \"output\": \"{long}\"}}\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out.parquet");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "data".to_string(),
            "import".into(),
            input.to_string_lossy().into_owned(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
            "--max-record-bytes".into(),
            "1000".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        seal(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("big.jsonl:line 2") && err.contains("over the limit of 1000"),
        "{err}"
    );
    assert!(!out.exists());
    let o = run(&["--skip-invalid"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rejects = std::fs::read_to_string(tmp.path().join("out.rejects.jsonl")).unwrap();
    assert!(
        rejects.contains("over the limit") && rejects.len() < 2000,
        "{rejects}"
    );
    // The default (64 MiB) takes it.
    let o = seal(&[
        "data",
        "import",
        input.to_str().unwrap(),
        "--out",
        tmp.path().join("all.parquet").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn an_output_extension_that_does_not_match_the_bytes_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seal-data/tests/samples/alpaca.jsonl");
    for out in ["out.txt", "out", "out.csv"] {
        let path = tmp.path().join(out);
        let o = seal(&[
            "data",
            "import",
            input.to_str().unwrap(),
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(!o.status.success(), "{out} accepted");
        assert!(stderr(&o).contains(".parquet or .jsonl"), "{out}: {}", stderr(&o));
        assert!(!path.exists());
    }
    let o = tokenize(&fixture("world/ft.jsonl"), &tmp.path().join("t.jsonl"), &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("as .parquet"), "{}", stderr(&o));
}

#[test]
fn misleading_outcomes_and_messages_are_named_for_what_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    // A generic CSV whose answers are under another name imports as prompts only: said so.
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seal-data/tests/samples/generic.csv");
    let out = tmp.path().join("g.parquet");
    let o = seal(&[
        "data",
        "import",
        csv.to_str().unwrap(),
        "--format",
        "generic",
        "--prompt-field",
        "question",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no row has a `response` field"),
        "{}",
        stderr(&o)
    );

    // A truncated config.json is a model problem, not a tokenizer one.
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for f in ["tokenizer.json", "tokenizer_config.json", "model.safetensors"] {
        std::fs::copy(fixture("world-model").join(f), model.join(f)).unwrap();
    }
    let config = std::fs::read(fixture("world-model").join("config.json")).unwrap();
    std::fs::write(model.join("config.json"), &config[..config.len() / 2]).unwrap();
    let run = tmp.path().join("run");
    let (safe, data) = world_sets();
    let select = |model: &Path, extra: &[&str]| seal_owned(&select_args(&run, model, &safe, &data, extra));
    let o = select(&model, &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("model config") && err.contains("config.json") && !err.contains("tokenizer"),
        "{err}"
    );
    assert!(!run.exists());

    // A model's weights given as --init-selector: not a selector, said so.
    let weights = fixture("world-model").join("model.safetensors");
    let o = select(
        &fixture("world-model"),
        &["--init-selector", weights.to_str().unwrap(), "--epochs", "1"],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("is not a selector"), "{err}");
    assert!(!run.exists());
}

#[test]
fn a_second_select_on_a_busy_folder_is_refused_with_the_holders_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let (model, (safe, data)) = (fixture("world-model"), world_sets());
    // The second select loads the model and data before it looks at the lock (a bad input
    // must leave --out untouched), so the first gets far more epochs than it can finish while
    // the second loads: it is killed once the second has answered.
    let args = |resume: bool| {
        let extra: &[&str] = if resume {
            &[
                "--quiet",
                "--epochs",
                "10000",
                "--gamma",
                "constant:0.5",
                "--resume",
            ]
        } else {
            &["--quiet", "--epochs", "10000", "--gamma", "constant:0.5"]
        };
        select_args(&out, &model, &safe, &data, extra)
    };
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_seal"))
        .args(args(false))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = out.join(".seal-lock");
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&lock).map_or(true, |s| s.trim().is_empty()) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "no lock file"
        );
        if let Ok(Some(status)) = first.try_wait() {
            panic!("the first select ended ({status}) before it locked");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = seal_owned(&args(true));
    let pid = first.id();
    let first_still_running = matches!(first.try_wait(), Ok(None));
    let _ = first.kill();
    let _ = first.wait();
    assert!(
        first_still_running,
        "the first select ended before the second had answered"
    );
    assert!(!second.status.success(), "two selects on one folder");
    assert!(
        stderr(&second).contains(&format!("in use by another seal process (pid {pid})")),
        "{}",
        stderr(&second)
    );
}

#[test]
fn a_mixture_never_overwrites_one_of_its_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_sample("alpaca.jsonl", &dir.join("src.jsonl"));
    copy_sample("alpaca.json", &dir.join("x.mix.json"));
    let recipe = dir.join("r.toml");
    std::fs::write(
        &recipe,
        "[[source]]\npath = \"src.jsonl\"\n[[source]]\npath = \"x.mix.json\"\n",
    )
    .unwrap();
    let before = snapshot(dir);
    // --out onto a source, and an --out whose report (`x.mix.json`) would land on one.
    for (out, needle) in [("src.jsonl", "--out"), ("x.jsonl", "its report")] {
        let o = seal(&[
            "data",
            "mix",
            "--recipe",
            recipe.to_str().unwrap(),
            "--out",
            dir.join(out).to_str().unwrap(),
        ]);
        assert!(!o.status.success(), "{out} accepted");
        assert!(
            stderr(&o).contains(needle) && stderr(&o).contains("is the input"),
            "{out}: {}",
            stderr(&o)
        );
        assert_eq!(snapshot(dir), before, "{out} changed files");
    }
}
