//! Column names of the canonical table, shared by the Parquet writer and reader.
//!
//! The Parquet layout is flat: every column is a scalar. `prompt` holds the chat turns as a
//! JSON string (`[{"role": "user", "content": "..."}]`) rather than a list of structs, because
//! a string column round-trips through any Parquet reader (pandas, DuckDB, polars) without
//! nested-type quirks, and the records are re-parsed into [`crate::Example`] on load anyway.

/// Stable example id (`Utf8`, unique).
pub const ID: &str = "id";
/// Dataset the row came from (`Utf8`).
pub const SOURCE: &str = "source";
/// Prompt turns as a JSON array of `{role, content}` (`Utf8`).
pub const PROMPT: &str = "prompt";
/// The response, null for prompt-only sets (`Utf8`, nullable).
pub const RESPONSE: &str = "response";
/// `benign`, `harmful` or `unknown` (`Utf8`).
pub const LABEL: &str = "label";
/// Harm or task category (`Utf8`, nullable).
pub const CATEGORY: &str = "category";
/// Split name (`Utf8`, nullable).
pub const SPLIT: &str = "split";
/// Whether the example is a benign task absent from the model's alignment data (`Boolean`).
pub const NOVEL: &str = "novel";

/// Every canonical column, in file order.
pub const COLUMNS: [&str; 8] = [ID, SOURCE, PROMPT, RESPONSE, LABEL, CATEGORY, SPLIT, NOVEL];
