//! The streamed JSONL importer gives what the whole-file importer gives, chunk by chunk, and
//! the same errors for the same bad input.

use seal_data::{Example, Format, ImportOptions, import_file, import_jsonl_chunks};

use crate::sample;

fn streamed(
    name: &str,
    options: &ImportOptions,
    chunk: usize,
) -> seal_data::Result<(Vec<Example>, Vec<usize>)> {
    let mut all = Vec::new();
    let mut sizes = Vec::new();
    import_jsonl_chunks(&sample(name), options, chunk, |part| {
        sizes.push(part.len());
        all.extend(part);
        Ok(())
    })?;
    Ok((all, sizes))
}

#[test]
fn streamed_import_equals_whole_file_import() {
    for name in [
        "alpaca.jsonl",
        "hh.jsonl",
        "canonical.jsonl",
        "openai.jsonl",
        "mt_bench.jsonl",
    ] {
        let whole = import_file(&sample(name), &ImportOptions::default()).expect(name);
        for chunk in [1, 2, 1000] {
            let (records, sizes) = streamed(name, &ImportOptions::default(), chunk).expect(name);
            assert_eq!(records, whole.examples, "{name} in chunks of {chunk}");
            assert!(sizes.iter().all(|&n| n > 0 && n <= chunk), "{name}: {sizes:?}");
        }
    }
    let report =
        import_jsonl_chunks(&sample("hh.jsonl"), &ImportOptions::default(), 10, |_| Ok(())).expect("hh");
    assert_eq!((report.records, report.format), (2, Some(Format::HhRlhf)));
}

#[test]
fn exact_repeats_get_the_same_suffixed_ids_as_the_whole_file_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("repeats.jsonl");
    let line = r#"{"instruction": "Say hi.", "input": "", "output": "Hi."}"#;
    let other = r#"{"instruction": "Say bye.", "input": "", "output": "Bye."}"#;
    std::fs::write(&path, format!("{line}\n{other}\n{line}\n{line}\n")).expect("write");
    let whole = import_file(&path, &ImportOptions::default()).expect("whole");
    let mut streamed = Vec::new();
    import_jsonl_chunks(&path, &ImportOptions::default(), 3, |part| {
        streamed.extend(part);
        Ok(())
    })
    .expect("streamed");
    assert_eq!(streamed, whole.examples);
    assert!(streamed[3].id.as_str().ends_with("#3"), "{}", streamed[3].id);
}

#[test]
fn streamed_errors_match_the_whole_file_errors() {
    for name in [
        "bad/malformed.jsonl",
        "bad/missing_field.jsonl",
        "bad/duplicate_id.jsonl",
        "bad/non_utf8.jsonl",
        "bad/empty.jsonl",
        "bad/unknown.jsonl",
    ] {
        let whole = import_file(&sample(name), &ImportOptions::default()).expect_err(name);
        let stream = streamed(name, &ImportOptions::default(), 1).expect_err(name);
        assert_eq!(stream.to_string(), whole.to_string(), "{name}");
    }
}

#[test]
fn skip_invalid_collects_the_same_rejects() {
    let options = ImportOptions {
        skip_invalid: true,
        ..Default::default()
    };
    for name in [
        "bad/malformed.jsonl",
        "bad/missing_field.jsonl",
        "bad/duplicate_id.jsonl",
    ] {
        let whole = import_file(&sample(name), &options).expect(name);
        let report = import_jsonl_chunks(&sample(name), &options, 1, |_| Ok(())).expect(name);
        assert_eq!(report.rejects, whole.rejects, "{name}");
        assert_eq!(report.records, whole.examples.len(), "{name}");
    }
}

#[test]
fn only_json_lines_stream() {
    let err = import_jsonl_chunks(&sample("alpaca.json"), &ImportOptions::default(), 8, |_| Ok(()))
        .expect_err("a json document");
    assert!(err.to_string().contains("JSON Lines"), "{err}");
}
