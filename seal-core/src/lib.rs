//! seal-core: the bilevel data selector of SEAL (Shen et al., ICLR 2025).
//!
//! It will own Algorithms 1 and 2, the selector weights (`N·softmax(ω)`, `2·sigmoid(ω)`), the
//! penalty (γ) schedules and top-p% selection (DESIGN sections 2-4). It knows nothing of Llama or
//! polars: it talks to a model through a small per-example-loss trait that seal-models implements.
//! Filled by the seal-core issue.
