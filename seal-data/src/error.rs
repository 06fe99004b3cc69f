//! The one error type of seal-data.

use std::path::PathBuf;

use seal_core::ExampleId;

/// Where a bad row sits in its file: a line (JSONL, CSV) or a record index (JSON documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// 1-based line number.
    Line(usize),
    /// 1-based record number inside a JSON document (array element, flattened question, ...).
    Record(usize),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// Everything that can go wrong reading, importing or writing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read dataset {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The output file (or its temporary sibling) could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds no records.
    #[error("{path}: empty file")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8.
    #[error("{path}:{line}: invalid utf-8 at byte {byte}")]
    NonUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first bad byte.
        line: usize,
        /// Byte offset of the first bad byte.
        byte: usize,
    },
    /// A JSON line or document does not parse.
    #[error("{path}:{pos}: malformed json: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Where.
        pos: Position,
        /// serde_json's description (line/column inside the line).
        message: String,
    },
    /// A CSV row does not parse.
    #[error("{path}:{pos}: malformed csv: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Where.
        pos: Position,
        /// The csv crate's description.
        message: String,
    },
    /// A row lacks a field its format needs, or the field has the wrong type.
    #[error("{path}:{pos}: field `{field}`: {problem}")]
    Field {
        /// The file.
        path: PathBuf,
        /// Where.
        pos: Position,
        /// The field name.
        field: String,
        /// What is wrong (`missing`, `expected a string`, ...).
        problem: String,
    },
    /// A record over [`crate::ImportOptions::max_record_bytes`].
    #[error(
        "{path}:{pos}: record {id} holds {bytes} bytes of text, over the limit of {limit} (--max-record-bytes)"
    )]
    RecordTooLarge {
        /// The file.
        path: PathBuf,
        /// Where the record is.
        pos: Position,
        /// The record's id.
        id: ExampleId,
        /// Its prompt and response text, in bytes.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Two records carry the same id.
    #[error("{path}:{pos}: duplicate id {id} (first seen in {first})")]
    DuplicateId {
        /// The file of the second occurrence.
        path: PathBuf,
        /// Where the second occurrence is.
        pos: Position,
        /// The id.
        id: ExampleId,
        /// `file:position` of the first occurrence.
        first: String,
    },
    /// The format could not be detected, or the name given is unknown.
    #[error("{path}: unknown format: {reason}")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Why detection failed or which name was not recognised.
        reason: String,
    },
    /// A format or option name that does not exist (e.g. `--format foo`, `--label maybe`).
    #[error("unknown {what} `{name}` (expected one of: {expected})")]
    UnknownName {
        /// What kind of name (`format`, `label`, ...).
        what: &'static str,
        /// The name given.
        name: String,
        /// The accepted names.
        expected: String,
    },
    /// polars failed to read or write a Parquet file.
    #[error("parquet {path}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The polars error.
        source: polars::prelude::PolarsError,
    },
    /// A Parquet file lacks a canonical column or holds a bad value in it.
    #[error("{path}: row {row}: column `{column}`: {problem}")]
    Column {
        /// The file.
        path: PathBuf,
        /// 0-based row.
        row: usize,
        /// The column.
        column: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A training record without a response.
    #[error("example {id} has no response: prompt-only records cannot be trained on")]
    MissingResponse {
        /// The example.
        id: ExampleId,
    },
    /// An option or parameter out of range (split fractions, a sample size, ...).
    #[error("invalid {what}: {problem}")]
    Invalid {
        /// What was given.
        what: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A mixture recipe that cannot be parsed or run.
    #[error("recipe {path}: {message}")]
    Recipe {
        /// The recipe file.
        path: PathBuf,
        /// What is wrong, naming the key or source.
        message: String,
    },
    /// Tokenizing failed (the tokenizer or the chat template).
    #[error("cannot tokenize example {id}")]
    Tokenize {
        /// The example.
        id: ExampleId,
        /// The tokenizer's or the template's error.
        source: crate::text::TextError,
    },
}

/// seal-data's result type.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
