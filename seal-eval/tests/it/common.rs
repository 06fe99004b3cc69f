//! Fixture paths shared by the tests.

use std::path::PathBuf;

/// A path under the workspace's `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join(name)
}
