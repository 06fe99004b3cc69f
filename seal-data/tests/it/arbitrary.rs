//! Property tests (issue 15): every importer, fed arbitrary bytes or a committed sample with
//! bytes changed, returns records or a named error, never a panic.

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use seal_data::{Format, ImportOptions, import_file};

use crate::sample;

/// Each format with a committed sample of it and the extension its files carry.
const FORMATS: [(Format, &str, &str); 14] = [
    (Format::Canonical, "canonical.jsonl", "jsonl"),
    (Format::Alpaca, "alpaca.json", "json"),
    (Format::HhRlhf, "hh.jsonl", "jsonl"),
    (Format::ShareGpt, "sharegpt.json", "json"),
    (Format::OpenAi, "openai.jsonl", "jsonl"),
    (Format::Pyrit, "pyrit.json", "json"),
    (Format::AdvBench, "advbench.csv", "csv"),
    (Format::CatQa, "catqa.json", "json"),
    (Format::StrongReject, "strongreject.csv", "csv"),
    (Format::HarmBench, "harmbench.csv", "csv"),
    (Format::XsTest, "xstest.csv", "csv"),
    (Format::MtBench, "mt_bench.jsonl", "jsonl"),
    (Format::SafeInstrEval, "safeinstr_eval.json", "json"),
    (Format::Generic, "generic.jsonl", "jsonl"),
];

fn import(dir: &Path, format: Format, ext: &str, bytes: &[u8], skip_invalid: bool) {
    let path = dir.join(format!("input.{ext}"));
    std::fs::write(&path, bytes).unwrap();
    let options = ImportOptions {
        format: Some(format),
        skip_invalid,
        ..ImportOptions::default()
    };
    // Records or an error; a panic fails the case.
    let _ = import_file(&path, &options);
    // Auto-detection reads the same bytes.
    let _ = import_file(&path, &ImportOptions::default());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn importers_survive_mutated_samples(
        which in 0..FORMATS.len(),
        edits in prop::collection::vec((any::<Index>(), any::<u8>()), 1..8),
        cut in prop::option::of(any::<Index>()),
        skip_invalid in any::<bool>(),
    ) {
        let (format, name, ext) = FORMATS[which];
        let mut bytes = std::fs::read(sample(name)).unwrap();
        for (at, value) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let dir = tempfile::tempdir().unwrap();
        import(dir.path(), format, ext, &bytes, skip_invalid);
    }

    #[test]
    fn importers_survive_arbitrary_bytes(
        which in 0..FORMATS.len(),
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let (format, _, ext) = FORMATS[which];
        let dir = tempfile::tempdir().unwrap();
        import(dir.path(), format, ext, &bytes, true);
    }
}
