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
