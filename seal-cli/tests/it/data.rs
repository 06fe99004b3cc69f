//! `seal data import` and `seal data inspect` on seal-data's committed samples.

use std::path::PathBuf;

use super::{fixture, seal, stderr, stdout};

fn sample(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../seal-data/tests/samples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn data_import_then_inspect_counts_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("mix.parquet");
    let out_s = out.to_str().expect("utf-8 path");
    let o = seal(&[
        "data",
        "import",
        &sample("alpaca.json"),
        &sample("xstest.csv"),
        "--out",
        out_s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("imported 6 records from 2 file(s)"),
        "{}",
        stdout(&o)
    );
    let tokenizer = fixture("tiny-llama");
    let o = seal(&[
        "data",
        "inspect",
        out_s,
        "--tokenizer",
        tokenizer.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("6 records (3 with a response, 0 novel)"), "{text}");
    assert!(text.contains("homonyms"), "{text}");
    assert!(text.contains("tokens (prompt + response)"), "{text}");
}

#[test]
fn data_import_bad_row_fails_with_no_output_unless_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.parquet");
    let out_s = out.to_str().expect("utf-8 path");
    let o = seal(&[
        "data",
        "import",
        &sample("bad/missing_field.jsonl"),
        "--out",
        out_s,
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("missing_field.jsonl:line 2: field `output`: missing"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    let o = seal(&[
        "data",
        "import",
        &sample("bad/missing_field.jsonl"),
        "--out",
        out_s,
        "--skip-invalid",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("rejected 1 rows"), "{}", stdout(&o));
    assert!(out.exists());
    assert!(dir.path().join("out.rejects.jsonl").exists());
}

#[test]
fn data_import_rejects_unknown_formats_and_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.parquet");
    let out_s = out.to_str().expect("utf-8 path");
    let o = seal(&["data", "import", &sample("bad/unknown.jsonl"), "--out", out_s]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown format"), "{}", stderr(&o));
    let o = seal(&[
        "data",
        "import",
        &sample("alpaca.json"),
        "--out",
        out_s,
        "--label",
        "maybe",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown label `maybe`"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn data_tokenize_writes_a_table_and_a_dropped_sidecar() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = dir.path().join("ft.parquet");
    let world = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/world");
    let o = seal(&[
        "data",
        "import",
        world.join("ft.jsonl").to_str().expect("utf-8 path"),
        "--out",
        records.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("ft.tokens.parquet");
    let tokenize = |extra: &[&str], out: &std::path::Path| {
        let mut args = vec![
            "data",
            "tokenize",
            "--data",
            records.to_str().expect("utf-8 path"),
            "--tokenizer",
            world.to_str().expect("utf-8 path"),
            "--out",
            out.to_str().expect("utf-8 path"),
        ];
        args.extend_from_slice(extra);
        seal(&args)
    };
    let run = |max_len: &str| tokenize(&["--max-len", max_len], &out);
    let o = run("4096");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("tokenized 800 of 800 records"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("dropped 0 records"), "{}", stdout(&o));
    // A limit of 24 tokens drops some world rows, but not all of them.
    let o = run("24");
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let kept: usize = text
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("kept count");
    assert!(kept > 0 && kept < 800, "{text}");
    let sidecar = std::fs::read_to_string(dir.path().join("ft.tokens.dropped.jsonl")).expect("sidecar");
    assert_eq!(sidecar.lines().count(), 800 - kept);
    assert!(
        text.contains(&format!("dropped {} records", 800 - kept)),
        "{text}"
    );
    let o = tokenize(&["--template", "fancy"], &dir.path().join("x.parquet"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--template"), "{}", stderr(&o));
    assert!(!dir.path().join("x.parquet").exists());
}

#[test]
fn data_mix_writes_the_mixture_and_its_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recipe = dir.path().join("r.toml");
    std::fs::write(
        &recipe,
        format!(
            "seed = 2\nset_split = \"train\"\n\
             [[source]]\npath = \"{}\"\nlabel = \"benign\"\n\
             [[source]]\nname = \"pyrit\"\npath = \"{}\"\nlabel = \"harmful\"\n[source.filter]\nlabel = \"harmful\"\n",
            sample("alpaca.json"),
            sample("pyrit.json")
        ),
    )
    .expect("write recipe");
    let mix = |out: &std::path::Path| {
        seal(&[
            "data",
            "mix",
            "--recipe",
            recipe.to_str().expect("utf-8 path"),
            "--out",
            out.to_str().expect("utf-8 path"),
        ])
    };
    let out = dir.path().join("mix.parquet");
    let o = mix(&out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("mixed 5 records from 2 source(s)"),
        "{}",
        stdout(&o)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("mix.mix.json")).expect("report"))
            .expect("json report");
    assert_eq!(report["by_label"]["benign"], 3);
    assert_eq!(report["by_label"]["harmful"], 2);
    assert_eq!(report["seed"], 2);
    assert_eq!(report["recipe"]["source"][1]["name"], "pyrit");
    let o = seal(&["data", "inspect", out.to_str().expect("utf-8 path")]);
    assert!(stdout(&o).contains("5 records"), "{}", stdout(&o));

    std::fs::write(&recipe, "[[source]]\npath = \"missing.json\"\n").expect("write");
    let bad_out = dir.path().join("bad.parquet");
    let o = mix(&bad_out);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("r.toml") && stderr(&o).contains("missing.json"),
        "{}",
        stderr(&o)
    );
    assert!(!bad_out.exists());
}

#[test]
fn bench_data_streams_import_and_tokenize_and_reports_rates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = seal(&[
        "bench",
        "data",
        "--rows",
        "3000",
        "--chunk",
        "1000",
        "--dir",
        dir.path().to_str().expect("utf-8 path"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("json");
    assert_eq!(report["rows"], 3000);
    for (phase, key) in [
        ("import", "rows_per_s"),
        ("tokenize", "rows_per_s"),
        ("tokenize", "tokens_per_s"),
    ] {
        assert!(
            report[phase][key].as_f64().is_some_and(|v| v > 0.0),
            "{phase}.{key}: {report}"
        );
    }
    // Rates and memory are reported, never asserted beyond being measured.
    for phase in ["import", "tokenize"] {
        assert!(
            report[phase]["peak_rss_bytes"].as_u64().is_some_and(|b| b > 0),
            "{report}"
        );
    }
    assert!(dir.path().join("bench.tokens.parquet").exists());
    let o = seal(&[
        "data",
        "inspect",
        dir.path().join("bench.parquet").to_str().expect("utf-8 path"),
    ]);
    assert!(
        stdout(&o).contains("3000 records (3000 with a response"),
        "{}",
        stdout(&o)
    );
}
