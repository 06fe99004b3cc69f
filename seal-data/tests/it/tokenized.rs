//! Tokenized tables: round trip, streaming in chunks, the dropped-rows sidecar, and the checks
//! that keep a bad table from being written or read.

use std::path::{Path, PathBuf};

use seal_data::{
    Example, TokenizeOptions, TokenizedRow, TokenizedWriter, dropped_path, read_jsonl, read_tokenized,
    tokenize_examples, tokenize_file, write_parquet, write_tokenized,
};
use seal_models::{ChatTemplate, TextTokenizer};

fn world() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/world")
}

fn tokenizer() -> TextTokenizer {
    TextTokenizer::from_dir(&world()).expect("the world's tokenizer loads")
}

fn options(max_len: usize) -> TokenizeOptions {
    TokenizeOptions {
        template: ChatTemplate::Reference,
        max_len,
        threads: 2,
    }
}

fn world_ft(n: usize) -> Vec<Example> {
    let mut all = read_jsonl(&world().join("ft.jsonl")).expect("world ft.jsonl");
    all.truncate(n);
    all
}

#[test]
fn tokenized_table_round_trips() {
    let examples = world_ft(40);
    let tokenized = tokenize_examples(&examples, &tokenizer(), &options(4096)).expect("tokenize");
    assert_eq!(tokenized.rows.len(), 40);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ft.tokens.parquet");
    write_tokenized(&path, &tokenized.rows).expect("write");
    let back = read_tokenized(&path).expect("read");
    assert_eq!(back, tokenized.rows);
    assert!(
        back.iter()
            .all(|r| r.prompt_len > 0 && r.prompt_len < r.tokens.input_ids.len())
    );
}

#[test]
fn tokenize_file_streams_and_reports_drops_by_id() {
    let examples = world_ft(60);
    let tok = tokenizer();
    let full = tokenize_examples(&examples, &tok, &options(4096)).expect("tokenize");
    let mut lengths: Vec<usize> = full.rows.iter().map(|r| r.tokens.input_ids.len()).collect();
    lengths.sort_unstable();
    // A limit at the median drops roughly half: enough rows on both sides to test the split.
    let max_len = lengths[lengths.len() / 2];
    let expect_dropped: Vec<_> = full
        .rows
        .iter()
        .filter(|r| r.tokens.input_ids.len() > max_len)
        .map(|r| r.id.clone())
        .collect();
    assert!(!expect_dropped.is_empty());

    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("ft.parquet");
    write_parquet(&input, &examples).expect("write input");
    let mut outputs = Vec::new();
    // Chunks of 7 cross row-group and thread boundaries; the result must not depend on them.
    for chunk in [7, 1000] {
        let out = dir.path().join(format!("ft-{chunk}.tokens.parquet"));
        let report = tokenize_file(&input, &tok, &options(max_len), &out, chunk).expect("tokenize_file");
        assert_eq!(report.records, 60);
        assert_eq!(report.kept + report.dropped.len(), 60);
        let dropped: Vec<_> = report.dropped.iter().map(|d| d.id.clone()).collect();
        assert_eq!(dropped, expect_dropped);
        assert!(
            report
                .dropped
                .iter()
                .all(|d| d.length > max_len && d.reason == format!("longer than {max_len} tokens"))
        );
        let sidecar = std::fs::read_to_string(dropped_path(&out)).expect("sidecar");
        let lines: Vec<serde_json::Value> = sidecar
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), expect_dropped.len());
        assert_eq!(lines[0]["id"], expect_dropped[0].as_str());
        assert!(
            lines[0]["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("longer than"))
        );
        outputs.push(read_tokenized(&out).expect("read back"));
    }
    assert_eq!(outputs[0], outputs[1]);
    // Kept rows are the unfiltered rows minus the dropped ones, in input order.
    let kept: Vec<&TokenizedRow> = full
        .rows
        .iter()
        .filter(|r| !expect_dropped.contains(&r.id))
        .collect();
    assert_eq!(outputs[0].iter().collect::<Vec<_>>(), kept);
}

#[test]
fn tokenize_file_refuses_prompt_only_records_and_leaves_nothing() {
    let mut examples = world_ft(5);
    examples[3].response = None;
    let bad_id = examples[3].id.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.parquet");
    write_parquet(&input, &examples).expect("write input");
    let out = dir.path().join("out.parquet");
    let err = tokenize_file(&input, &tokenizer(), &options(512), &out, 2).expect_err("no response");
    assert!(err.to_string().contains(bad_id.as_str()), "{err}");
    assert!(!out.exists());
    assert!(!dropped_path(&out).exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        1,
        "no temporary left"
    );
}

#[test]
fn writer_refuses_a_repeated_id_and_an_unfinished_writer_leaves_no_file() {
    let examples = world_ft(3);
    let rows = tokenize_examples(&examples, &tokenizer(), &options(4096))
        .expect("tokenize")
        .rows;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.parquet");
    let mut writer = TokenizedWriter::create(&path).expect("create");
    writer.write(&rows).expect("first batch");
    let err = writer.write(&rows[1..2]).expect_err("repeated id");
    assert!(err.to_string().contains("duplicate id"), "{err}");
    drop(writer);
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
}

#[test]
fn reading_a_canonical_table_as_tokenized_names_the_missing_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("canonical.parquet");
    write_parquet(&path, &world_ft(2)).expect("write");
    let err = read_tokenized(&path).expect_err("not a tokenized table");
    let text = err.to_string();
    assert!(
        text.contains("canonical.parquet") && text.contains("input_ids"),
        "{text}"
    );
}
