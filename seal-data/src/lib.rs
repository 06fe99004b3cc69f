//! seal-data: every dataset the pipeline reads and writes.
//!
//! It will own the importers (Alpaca, HH-RLHF, ShareGPT, OpenAI messages, PyRIT pairs and the
//! prompt-only evaluation sets), the canonical record schema with stable ids, templating,
//! tokenization, Parquet through polars (the only crate that depends on it), mixtures and the
//! embedded fixture world. Filled by the seal-data issue.
