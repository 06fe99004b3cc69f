use seal_data::{DataError, ImportOptions, Position, import_file, import_files, write_rejects};

use crate::sample;

fn fail(name: &str) -> DataError {
    import_file(&sample(name), &ImportOptions::default()).expect_err(name)
}

#[test]
fn malformed_jsonl_line_names_file_and_line() {
    let err = fail("bad/malformed.jsonl");
    assert!(
        matches!(
            err,
            DataError::Json {
                pos: Position::Line(2),
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("malformed.jsonl:line 2: malformed json"), "{msg}");
}

#[test]
fn missing_field_names_the_field() {
    let err = fail("bad/missing_field.jsonl");
    let msg = err.to_string();
    assert!(
        msg.contains("missing_field.jsonl:line 2: field `output`: missing"),
        "{msg}"
    );
}

#[test]
fn empty_file_is_an_error() {
    let err = fail("bad/empty.jsonl");
    assert!(matches!(err, DataError::Empty { .. }), "{err:?}");
    assert!(err.to_string().ends_with("empty.jsonl: empty file"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.json");
    std::fs::write(&path, "[]").expect("write");
    let err = import_file(&path, &ImportOptions::default()).expect_err("empty array");
    assert!(matches!(err, DataError::Empty { .. }), "{err:?}");
}

#[test]
fn non_utf8_bytes_name_the_line() {
    let err = fail("bad/non_utf8.jsonl");
    assert!(matches!(err, DataError::NonUtf8 { line: 2, .. }), "{err:?}");
    assert!(
        err.to_string().contains("non_utf8.jsonl:2: invalid utf-8"),
        "{err}"
    );
}

#[test]
fn duplicate_id_names_both_places() {
    let err = fail("bad/duplicate_id.jsonl");
    let msg = err.to_string();
    assert!(
        msg.contains("duplicate_id.jsonl:line 2: duplicate id same"),
        "{msg}"
    );
    assert!(msg.contains("duplicate_id.jsonl:line 1"), "{msg}");
    // The same canonical file twice: every id collides across files.
    let twice = [sample("canonical.jsonl"), sample("canonical.jsonl")];
    assert!(matches!(
        import_files(&twice, &ImportOptions::default()),
        Err(DataError::DuplicateId { .. })
    ));
}

#[test]
fn unknown_format_lists_the_fields() {
    let err = fail("bad/unknown.jsonl");
    assert!(matches!(err, DataError::UnknownFormat { .. }), "{err:?}");
    assert!(err.to_string().contains("fields [bar, foo]"), "{err}");
    let err = fail("bad/unknown.csv");
    assert!(err.to_string().contains("csv columns [alpha, beta]"), "{err}");
}

#[test]
fn skip_invalid_collects_rejects_with_reasons() {
    let options = ImportOptions {
        skip_invalid: true,
        ..Default::default()
    };
    let imported = import_file(&sample("bad/malformed.jsonl"), &options).expect("skips");
    assert_eq!(imported.examples.len(), 2);
    assert_eq!(imported.rejects.len(), 1);
    assert_eq!(imported.rejects[0].position, Position::Line(2));
    assert!(imported.rejects[0].raw.contains("broken"));
    let imported = import_file(&sample("bad/missing_field.jsonl"), &options).expect("skips");
    assert_eq!((imported.examples.len(), imported.rejects.len()), (1, 1));
    assert!(imported.rejects[0].reason.contains("field `output`"));
    let imported = import_file(&sample("bad/duplicate_id.jsonl"), &options).expect("skips");
    assert_eq!((imported.examples.len(), imported.rejects.len()), (1, 1));

    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rejects.jsonl");
    write_rejects(&out, &imported.rejects).expect("write rejects");
    let line = std::fs::read_to_string(&out).expect("read");
    let value: serde_json::Value = serde_json::from_str(line.trim()).expect("json line");
    assert_eq!(value["position"], serde_json::json!({"line": 2}));
    assert!(
        value["reason"]
            .as_str()
            .is_some_and(|r| r.contains("duplicate id"))
    );
}

#[test]
fn a_bad_csv_row_names_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.csv");
    std::fs::write(
        &path,
        "id,prompt,type,label,focus,note\n1,ok,t,safe,f,n\n2,bad,t,maybe,f,n\n",
    )
    .expect("write");
    let err = import_file(&path, &ImportOptions::default()).expect_err("bad label");
    assert!(err.to_string().contains("x.csv:line 3: field `label`"), "{err}");
}
