//! From bytes to rows: UTF-8 checks, JSON / JSONL / CSV containers, and format detection.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{DataError, Position, Result};
use crate::import::Format;

/// One raw record, before any format-specific reading.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub pos: Position,
    /// A JSON object (CSV rows become objects of strings).
    pub value: Value,
    /// The text the row came from, for the rejects file.
    pub raw: String,
}

/// A row that could not even be parsed (a malformed JSONL line, a broken CSV record).
#[derive(Debug)]
pub(crate) struct BadRow {
    pub error: DataError,
    pub pos: Position,
    pub raw: String,
}

/// How the records sit in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    Jsonl,
    /// One JSON document (an array of records, or an object such as CatQA's).
    Document,
    Csv,
}

/// Reads `path` as UTF-8, failing on an empty file or the first bad byte.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let byte = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..byte].iter().filter(|&&b| b == b'\n').count() + 1;
        DataError::NonUtf8 {
            path: path.to_path_buf(),
            line,
            byte,
        }
    })?;
    if text.trim().is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(text)
}

/// Picks the container from the extension, sniffing the content for `.json` files that are
/// really JSON Lines (and for unknown extensions).
pub(crate) fn container(path: &Path, text: &str) -> Container {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Container::Csv,
        "jsonl" | "ndjson" => Container::Jsonl,
        _ => match serde_json::from_str::<Value>(text) {
            // A whole-file parse decides: an array, or an object shaped like a collection
            // (CatQA's nested categories, SafeInstr's `instructions`), is one document; a
            // single plain object is a one-line JSONL file.
            Ok(Value::Array(_)) => Container::Document,
            Ok(Value::Object(doc)) if is_collection(&doc) => Container::Document,
            Ok(_) => Container::Jsonl,
            // A broken array is reported as a document so the error points into it.
            Err(_) if text.trim_start().starts_with('[') => Container::Document,
            Err(_) => Container::Jsonl,
        },
    }
}

/// Whether a top-level object holds many records rather than being one.
fn is_collection(doc: &Map<String, Value>) -> bool {
    doc.contains_key("instructions") || is_nested_categories(doc)
}

/// CatQA's shape: `{category: {subcategory: [question, ...]}}`.
fn is_nested_categories(doc: &Map<String, Value>) -> bool {
    !doc.is_empty()
        && doc
            .values()
            .all(|v| v.as_object().is_some_and(|sub| sub.values().all(Value::is_array)))
}

/// A parsed file: the good rows in order, and the rows that failed to parse.
pub(crate) struct Parsed {
    pub rows: Vec<Row>,
    pub bad: Vec<BadRow>,
    /// The top-level JSON value of a document (for shape-based detection).
    pub document: Option<Value>,
    /// CSV header names.
    pub headers: Vec<String>,
}

/// Splits `text` into raw rows. A document that does not parse is a fatal error; a bad
/// JSONL line or CSV record is a [`BadRow`] the caller may skip.
pub(crate) fn parse(path: &Path, text: &str, container: Container) -> Result<Parsed> {
    match container {
        Container::Jsonl => Ok(parse_jsonl(path, text)),
        Container::Csv => parse_csv(path, text),
        Container::Document => {
            let value: Value = serde_json::from_str(text).map_err(|e| DataError::Json {
                path: path.to_path_buf(),
                pos: Position::Line(e.line()),
                message: e.to_string(),
            })?;
            let rows = match &value {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Row {
                        pos: Position::Record(i + 1),
                        value: v.clone(),
                        raw: v.to_string(),
                    })
                    .collect(),
                // Objects (CatQA, SafeInstr evaluation) are flattened by their format.
                _ => Vec::new(),
            };
            Ok(Parsed {
                rows,
                bad: Vec::new(),
                document: Some(value),
                headers: Vec::new(),
            })
        }
    }
}

fn parse_jsonl(path: &Path, text: &str) -> Parsed {
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let pos = Position::Line(i + 1);
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(value) => rows.push(Row {
                pos,
                value,
                raw: line.to_string(),
            }),
            Err(e) => bad.push(BadRow {
                error: DataError::Json {
                    path: path.to_path_buf(),
                    pos,
                    message: e.to_string(),
                },
                pos,
                raw: line.to_string(),
            }),
        }
    }
    Parsed {
        rows,
        bad,
        document: None,
        headers: Vec::new(),
    }
}

fn parse_csv(path: &Path, text: &str) -> Result<Parsed> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| DataError::Csv {
            path: path.to_path_buf(),
            pos: Position::Line(1),
            message: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let start = reader.position().clone();
        let pos = Position::Line(start.line() as usize);
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let raw = raw_between(text, start.byte(), reader.position().byte());
                let mut object = Map::new();
                for (name, field) in headers.iter().zip(record.iter()) {
                    object.insert(name.clone(), Value::String(field.to_string()));
                }
                rows.push(Row {
                    pos,
                    value: Value::Object(object),
                    raw,
                });
            }
            Err(e) => {
                let raw = raw_between(text, start.byte(), reader.position().byte());
                bad.push(BadRow {
                    error: DataError::Csv {
                        path: path.to_path_buf(),
                        pos,
                        message: e.to_string(),
                    },
                    pos,
                    raw,
                });
                // The csv reader cannot resync after an io error; a field-count error is per record.
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
            }
        }
    }
    Ok(Parsed {
        rows,
        bad,
        document: None,
        headers,
    })
}

/// Guesses the format from the parsed content.
pub(crate) fn detect(path: &Path, parsed: &Parsed, container: Container) -> Result<Format> {
    let unknown = |reason: String| DataError::UnknownFormat {
        path: path.to_path_buf(),
        reason,
    };
    if container == Container::Csv {
        let has = |name: &str| parsed.headers.iter().any(|h| h == name);
        return if has("goal") {
            Ok(Format::AdvBench)
        } else if has("forbidden_prompt") {
            Ok(Format::StrongReject)
        } else if has("Behavior") {
            Ok(Format::HarmBench)
        } else if has("prompt") && has("label") && has("type") {
            Ok(Format::XsTest)
        } else {
            Err(unknown(format!(
                "csv columns [{}] match no known format; pass --format generic with field names",
                parsed.headers.join(", ")
            )))
        };
    }
    if let Some(Value::Object(doc)) = &parsed.document {
        if doc.contains_key("instructions") {
            return Ok(Format::SafeInstrEval);
        }
        if is_nested_categories(doc) {
            return Ok(Format::CatQa);
        }
    }
    let first = parsed.rows.first().and_then(|row| row.value.as_object());
    let Some(first) = first else {
        return Err(unknown("the first record is not a json object".to_string()));
    };
    let has = |name: &str| first.contains_key(name);
    if has("id") && has("source") && has("prompt") {
        Ok(Format::Canonical)
    } else if has("instruction") && has("output") {
        Ok(Format::Alpaca)
    } else if has("chosen") && has("rejected") {
        Ok(Format::HhRlhf)
    } else if has("conversations") {
        Ok(Format::ShareGpt)
    } else if has("messages") {
        Ok(Format::OpenAi)
    } else if has("user") && has("assistant") {
        Ok(Format::Pyrit)
    } else if has("turns") {
        Ok(Format::MtBench)
    } else {
        let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
        keys.sort_unstable();
        Err(unknown(format!(
            "fields [{}] match no known format; pass --format generic with field names",
            keys.join(", ")
        )))
    }
}

/// The source text of one CSV record, between two reader byte positions (for rejects).
fn raw_between(text: &str, start: u64, end: u64) -> String {
    text.get(start as usize..end as usize)
        .unwrap_or("")
        .trim_end()
        .to_string()
}
