//! JSON Lines in and out: every row error names its file and line, every write is atomic.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{EvalError, Result};

/// Rows of a JSON Lines file with their 1-based line numbers; blank lines are skipped.
///
/// # Errors
/// [`EvalError::Io`], [`EvalError::Json`] naming the line, [`EvalError::Empty`] if no row.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<(usize, T)>> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(line).map_err(|source| EvalError::Json {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        rows.push((i + 1, row));
    }
    if rows.is_empty() {
        return Err(EvalError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(rows)
}

/// Writes `rows` as JSON Lines to `path`, atomically (temp file + rename).
///
/// # Errors
/// [`EvalError::Model`] wrapping the I/O error that names `path`.
pub fn write_jsonl<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut text = String::new();
    for row in rows {
        text.push_str(&serde_json::to_string(row).expect("records serialise to JSON"));
        text.push('\n');
    }
    seal_io::write_atomic(path, text.as_bytes())?;
    Ok(())
}
