//! Reading and writing canonical records: Parquet (through polars) and JSONL.
//!
//! Writes are atomic: the bytes go to a temporary file beside the target, which is renamed
//! over it only once everything is written, so a failed run never leaves a partial file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use polars::prelude::*;
use seal_core::ExampleId;
use seal_models::ChatMessage;

use crate::error::{DataError, Result};
use crate::record::{Example, Label};
use crate::schema;

/// Writes `examples` to `path` as Parquet, atomically (see [`crate::schema`] for the layout).
///
/// # Errors
/// [`DataError::Write`] if the temporary file cannot be created or renamed,
/// [`DataError::Parquet`] if polars fails to encode.
pub fn write_parquet(path: &Path, examples: &[Example]) -> Result<()> {
    let mut df = to_frame(examples).map_err(|source| parquet_err(path, source))?;
    write_atomic(path, |file| {
        ParquetWriter::new(file)
            .finish(&mut df)
            .map(|_| ())
            .map_err(|source| parquet_err(path, source))
    })
}

/// Reads a canonical Parquet file written by [`write_parquet`].
///
/// # Errors
/// [`DataError::Read`] / [`DataError::Parquet`] if the file cannot be read,
/// [`DataError::Column`] if a canonical column is missing or holds a bad value.
pub fn read_parquet(path: &Path) -> Result<Vec<Example>> {
    let file = File::open(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|source| parquet_err(path, source))?;
    let col_err = |column: &'static str, problem: String| DataError::Column {
        path: path.to_path_buf(),
        row: 0,
        column,
        problem,
    };
    let strings = |name: &'static str| -> Result<Vec<Option<String>>> {
        let column = df.column(name).map_err(|e| col_err(name, e.to_string()))?;
        let values = column.str().map_err(|e| col_err(name, e.to_string()))?;
        Ok(values.iter().map(|v| v.map(str::to_string)).collect())
    };
    let ids = strings(schema::ID)?;
    let sources = strings(schema::SOURCE)?;
    let prompts = strings(schema::PROMPT)?;
    let responses = strings(schema::RESPONSE)?;
    let labels = strings(schema::LABEL)?;
    let categories = strings(schema::CATEGORY)?;
    let splits = strings(schema::SPLIT)?;
    let novel_col = df
        .column(schema::NOVEL)
        .map_err(|e| col_err(schema::NOVEL, e.to_string()))?;
    let novel: Vec<Option<bool>> = novel_col
        .bool()
        .map_err(|e| col_err(schema::NOVEL, e.to_string()))?
        .iter()
        .collect();

    let mut out = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let bad = |column: &'static str, problem: &str| DataError::Column {
            path: path.to_path_buf(),
            row,
            column,
            problem: problem.to_string(),
        };
        let id = ids[row].clone().ok_or_else(|| bad(schema::ID, "null"))?;
        let source = sources[row].clone().ok_or_else(|| bad(schema::SOURCE, "null"))?;
        let prompt_json = prompts[row]
            .as_deref()
            .ok_or_else(|| bad(schema::PROMPT, "null"))?;
        let prompt: Vec<ChatMessage> = serde_json::from_str(prompt_json)
            .map_err(|e| bad(schema::PROMPT, &format!("not a json list of messages: {e}")))?;
        let label = match labels[row].as_deref() {
            None => Label::Unknown,
            Some(name) => name
                .parse()
                .map_err(|_| bad(schema::LABEL, &format!("unknown label `{name}`")))?,
        };
        out.push(Example {
            id: ExampleId(id),
            source,
            prompt,
            response: responses[row].clone(),
            label,
            category: categories[row].clone(),
            split: splits[row].clone(),
            novel: novel[row].unwrap_or(false),
        });
    }
    Ok(out)
}

/// Writes `examples` as JSON Lines (one [`Example`] per line), atomically.
///
/// # Errors
/// [`DataError::Write`] if the file cannot be written.
pub fn write_jsonl(path: &Path, examples: &[Example]) -> Result<()> {
    write_atomic(path, |file| {
        let write_err = |source| DataError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut w = BufWriter::new(file);
        for example in examples {
            serde_json::to_writer(&mut w, example).map_err(|e| write_err(e.into()))?;
            w.write_all(b"\n").map_err(write_err)?;
        }
        w.flush().map_err(write_err)
    })
}

/// Reads a JSONL file of [`Example`]s (the `canonical` import format, strict).
///
/// # Errors
/// The import errors of the canonical format (bad line, missing field, duplicate id, ...).
pub fn read_jsonl(path: &Path) -> Result<Vec<Example>> {
    let options = crate::import::ImportOptions {
        format: Some(crate::import::Format::Canonical),
        ..Default::default()
    };
    Ok(crate::import::import_file(path, &options)?.examples)
}

/// Reads canonical records from a `.parquet` file or a JSONL file of [`Example`]s.
///
/// # Errors
/// As [`read_parquet`], or the import errors of the canonical JSONL format.
pub fn read_examples(path: &Path) -> Result<Vec<Example>> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        return read_parquet(path);
    }
    read_jsonl(path)
}

/// Runs `write` on a temporary file in `path`'s folder, then renames it over `path`.
pub(crate) fn write_atomic(path: &Path, write: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let write_err = |source| DataError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
    write(tmp.as_file_mut())?;
    tmp.as_file().sync_all().map_err(write_err)?;
    // On error the NamedTempFile is dropped, which deletes it: nothing partial is left behind.
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

fn parquet_err(path: &Path, source: PolarsError) -> DataError {
    DataError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

fn to_frame(examples: &[Example]) -> PolarsResult<DataFrame> {
    let prompts: Vec<String> = examples
        .iter()
        .map(|e| serde_json::to_string(&e.prompt).expect("messages are plain strings, always serializable"))
        .collect();
    let columns = vec![
        Column::new(
            schema::ID.into(),
            examples.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            schema::SOURCE.into(),
            examples.iter().map(|e| e.source.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(schema::PROMPT.into(), prompts),
        Column::new(
            schema::RESPONSE.into(),
            examples.iter().map(|e| e.response.as_deref()).collect::<Vec<_>>(),
        ),
        Column::new(
            schema::LABEL.into(),
            examples.iter().map(|e| e.label.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            schema::CATEGORY.into(),
            examples.iter().map(|e| e.category.as_deref()).collect::<Vec<_>>(),
        ),
        Column::new(
            schema::SPLIT.into(),
            examples.iter().map(|e| e.split.as_deref()).collect::<Vec<_>>(),
        ),
        Column::new(
            schema::NOVEL.into(),
            examples.iter().map(|e| e.novel).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(examples.len(), columns)
}
