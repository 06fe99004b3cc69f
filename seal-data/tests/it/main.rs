//! seal-data integration tests: every format on committed samples, bad input, Parquet, and
//! the real files in `../shared/data` when present.

mod errors;
mod formats;
mod mix;
mod ops;
mod parquet;
mod real;
mod recipes;
mod stream;
mod tokenized;

use std::path::{Path, PathBuf};

use seal_data::{Example, Format, ImportOptions, Imported, import_file};

/// A committed sample file.
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples")
        .join(name)
}

/// Imports a sample with default options (auto-detected format).
pub fn import(name: &str) -> Imported {
    import_file(&sample(name), &ImportOptions::default()).unwrap_or_else(|e| panic!("importing {name}: {e}"))
}

/// Imports and checks the detected format.
pub fn import_as(name: &str, format: Format) -> Vec<Example> {
    let imported = import(name);
    assert_eq!(imported.formats[0].1, format, "detected format of {name}");
    assert!(imported.rejects.is_empty());
    imported.examples
}
