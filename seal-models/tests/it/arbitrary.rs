//! Property tests (issue 15): arbitrary and mutated bytes into the GGUF and safetensors readers
//! give an error or a model, never a panic, and never an allocation sized by a corrupt header
//! (the readers check every count and size against the file before allocating; the test's peak
//! memory stays that of a few copies of the fixture).

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use seal_models::gguf::import_gguf;
use seal_models::hf::weights::read_safetensors;

use crate::common::fixture;

/// `base` with `edits` applied within its first `span` bytes, then cut at `cut` (if any).
fn mutate(base: &[u8], span: usize, edits: &[(Index, u8)], cut: Option<Index>) -> Vec<u8> {
    let mut bytes = base.to_vec();
    let span = span.min(bytes.len()).max(1);
    for (at, value) in edits {
        bytes[at.index(span)] = *value;
    }
    if let Some(cut) = cut {
        bytes.truncate(cut.index(bytes.len() + 1));
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(Index, u8)>> {
    prop::collection::vec((any::<Index>(), any::<u8>()), 1..12)
}

/// The whole test process's peak RSS stays far from what a header-sized allocation would take.
fn assert_memory_bounded() {
    if let Some(peak) = seal_models::backend::peak_rss_bytes() {
        assert!(peak < 2 << 30, "peak RSS {peak} bytes");
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn gguf_reader_survives_mutated_headers(edits in edits(), cut in prop::option::of(any::<Index>())) {
        let base = std::fs::read(fixture("tiny-gguf").join("tiny-llama.gguf")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // The header, metadata (vocabulary included) and tensor table sit in the first 16 KiB.
        let path = write(dir.path(), "m.gguf", &mutate(&base, 16 << 10, &edits, cut));
        let _ = import_gguf(&path);
        assert_memory_bounded();
    }

    #[test]
    fn gguf_reader_survives_arbitrary_bytes_after_the_magic(tail in prop::collection::vec(any::<u8>(), 0..4096)) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"GGUF\x03\x00\x00\x00".to_vec();
        bytes.extend_from_slice(&tail);
        let path = write(dir.path(), "m.gguf", &bytes);
        prop_assert!(import_gguf(&path).is_err());
        assert_memory_bounded();
    }

    #[test]
    fn safetensors_reader_survives_mutated_headers(edits in edits(), cut in prop::option::of(any::<Index>())) {
        let base = std::fs::read(fixture("tiny-llama").join("model.safetensors")).unwrap();
        let header = 8 + u64::from_le_bytes(base[..8].try_into().unwrap()) as usize;
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "model.safetensors", &mutate(&base, header, &edits, cut));
        let _ = read_safetensors(&path);
        assert_memory_bounded();
    }

    #[test]
    fn safetensors_reader_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "model.safetensors", &bytes);
        let _ = read_safetensors(&path);
        assert_memory_bounded();
    }
}
