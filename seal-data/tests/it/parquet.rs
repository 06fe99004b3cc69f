use seal_data::{
    ImportOptions, import_file, read_examples, read_jsonl, read_parquet, write_jsonl, write_parquet,
};

use crate::sample;

#[test]
fn parquet_round_trip_keeps_every_record() {
    let mut all = Vec::new();
    for name in [
        "canonical.jsonl",
        "hh.jsonl",
        "openai.jsonl",
        "xstest.csv",
        "pyrit.json",
    ] {
        all.extend(
            import_file(&sample(name), &ImportOptions::default())
                .expect("import")
                .examples,
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("all.parquet");
    write_parquet(&path, &all).expect("write");
    assert_eq!(read_parquet(&path).expect("read"), all);
    assert_eq!(read_examples(&path).expect("read by extension"), all);
    // A canonical Parquet file is also an import input.
    let again = import_file(&path, &ImportOptions::default())
        .expect("import parquet")
        .examples;
    assert_eq!(again, all);
}

#[test]
fn jsonl_round_trip_keeps_every_record() {
    let all = import_file(&sample("sharegpt.json"), &ImportOptions::default())
        .expect("import")
        .examples;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("all.jsonl");
    write_jsonl(&path, &all).expect("write");
    assert_eq!(read_jsonl(&path).expect("read"), all);
}

#[test]
fn failed_write_leaves_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-dir").join("out.parquet");
    assert!(write_parquet(&missing, &[]).is_err());
    assert!(!missing.exists());
    // Nothing but what we created is in the folder: no stray temp files.
    let entries: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
    assert!(entries.is_empty());
}

#[test]
fn overwrite_is_atomic_and_replaces_the_old_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.parquet");
    let a = import_file(&sample("alpaca.json"), &ImportOptions::default())
        .expect("import")
        .examples;
    write_parquet(&path, &a).expect("write");
    write_parquet(&path, &a[..1]).expect("overwrite");
    assert_eq!(read_parquet(&path).expect("read").len(), 1);
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
}
