//! seal-data integration tests: every format on committed samples, bad input, Parquet, and
//! the real files in `../shared/data` (a missing one fails the test unless
//! `SEAL_NO_SHARED_DATA=1` says the checkout has none).

mod arbitrary;
mod errors;
mod formats;
mod mix;
mod ops;
mod parquet;
mod real;
mod recipes;
mod stream;
mod text;
mod tokenized;

use std::path::{Path, PathBuf};

use seal_data::{Example, Format, ImportOptions, Imported, import_file};

/// `../shared/data/<rel>` beside the repository. A missing path fails the calling test, since
/// these tests are the only ones of the real-data paths; `SEAL_NO_SHARED_DATA=1` (for a checkout
/// without `../shared`, never set by CI) turns that into `None` and a note on stderr.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("SEAL_NO_SHARED_DATA").is_some_and(|v| v == "1") {
        eprintln!("not run: {} is not here (SEAL_NO_SHARED_DATA=1)", path.display());
        return None;
    }
    panic!(
        "{} is not here: the real-data tests read ../shared/data beside the repository \
         (set SEAL_NO_SHARED_DATA=1 to leave them out on a checkout without it)",
        path.display()
    );
}

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
