//! What `seal --version` prints: the crate version, the git commit it was built from, the
//! enabled features and the CPU backend, so a bug report names the exact build.

use std::sync::OnceLock;

/// `0.1.0 (commit 1a2b3c4d5e6f; features: cuda; cpu backend: ndarray-f32 + openblas)` (OpenBLAS
/// comes with seal-models' default features, so the backend, not the feature list, names it).
pub fn long() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let features: Vec<&str> = [("cuda", cfg!(feature = "cuda")), ("flex", cfg!(feature = "flex"))]
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect();
        format!(
            "{} (commit {}; features: {}; cpu backend: {})",
            env!("CARGO_PKG_VERSION"),
            env!("SEAL_GIT_COMMIT"),
            if features.is_empty() {
                "none".to_string()
            } else {
                features.join(", ")
            },
            seal_models::backend::CPU_BACKEND
        )
    })
}
