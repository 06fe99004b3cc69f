//! The tokenized table (`*.tokens.parquet`): one row per kept training example with its token
//! ids, response-only loss mask, length and prompt length, keyed by the canonical id; and the
//! JSONL sidecar listing the records the length filter dropped, with their reasons.
//!
//! Columns: `id` (`Utf8`, unique), `input_ids` (`List<UInt32>`), `loss_mask` (`List<UInt8>`,
//! 1 on response and eos tokens), `length` (`UInt32`, the number of tokens) and `prompt_len`
//! (`UInt32`). `length` and `prompt_len` are redundant with the lists on purpose: a reader can
//! bucket or filter by length without decoding the lists, and [`read_tokenized`] checks that
//! they agree, which catches a table edited or written by another tool inconsistently.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;

use polars::prelude::*;
use seal_core::{ExampleId, TokenizedExample};

use crate::error::{DataError, Result};
use crate::io::{ParquetSink, parquet_err, write_atomic};
use crate::record::id_key;
use crate::text::TextTokenizer;
use crate::tokenize::{DroppedRow, TokenizeOptions, TokenizedRow, tokenize_examples};

/// Column names of the tokenized table, in file order.
pub const TOKENIZED_COLUMNS: [&str; 5] = ["id", "input_ids", "loss_mask", "length", "prompt_len"];

/// Writes `rows` to `path` as a tokenized table, atomically.
///
/// # Errors
/// [`DataError::Write`] / [`DataError::Parquet`] naming the file.
pub fn write_tokenized(path: &Path, rows: &[TokenizedRow]) -> Result<()> {
    let mut writer = TokenizedWriter::create(path)?;
    writer.write(rows)?;
    writer.finish().map(|_| ())
}

/// A tokenized table written in batches (for inputs too large to tokenize at once); nothing
/// appears at the path until [`TokenizedWriter::finish`].
pub struct TokenizedWriter {
    sink: ParquetSink<TokenizedRow>,
    /// Hashes of the ids written so far: a table with a repeated id is refused before it is
    /// written (16 bytes an id, so a streamed million-row table stays small).
    ids: HashSet<u128>,
}

impl TokenizedWriter {
    /// Starts a tokenized table at `path` (a temporary sibling until finished).
    ///
    /// # Errors
    /// [`DataError::Write`] if the temporary file cannot be created.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(TokenizedWriter {
            sink: ParquetSink::create(path, frame)?,
            ids: HashSet::new(),
        })
    }

    /// Appends `rows`.
    ///
    /// # Errors
    /// [`DataError::Column`] for a repeated id or a row whose mask and ids differ in length,
    /// [`DataError::Parquet`] if polars fails to encode.
    pub fn write(&mut self, rows: &[TokenizedRow]) -> Result<()> {
        for (i, row) in rows.iter().enumerate() {
            let bad = |problem: String| DataError::Column {
                path: self.sink.path.clone(),
                row: self.sink.rows + i,
                column: TOKENIZED_COLUMNS[0],
                problem,
            };
            let len = row.tokens.input_ids.len();
            if row.tokens.loss_mask.len() != len || row.prompt_len > len {
                return Err(bad(format!("example {}: inconsistent token row", row.id)));
            }
            if !self.ids.insert(id_key(&row.id)) {
                return Err(bad(format!("duplicate id `{}`", row.id)));
            }
        }
        self.sink.write(rows)
    }

    /// Writes the footer and renames the file into place; returns the number of rows.
    ///
    /// # Errors
    /// [`DataError::Parquet`] / [`DataError::Write`] naming the file.
    pub fn finish(self) -> Result<usize> {
        self.sink.finish()
    }
}

/// Reads a tokenized table written by [`write_tokenized`], checking that every row is
/// consistent (mask as long as the ids, `length` and `prompt_len` matching the lists, the mask
/// zero on the prompt) and that ids are unique.
///
/// # Errors
/// [`DataError::Read`] / [`DataError::Parquet`] if the file cannot be read, and
/// [`DataError::Column`] naming the row and column of the first bad value.
pub fn read_tokenized(path: &Path) -> Result<Vec<TokenizedRow>> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|source| parquet_err(path, source))?;
    let bad = |row: usize, column: &'static str, problem: String| DataError::Column {
        path: path.to_path_buf(),
        row,
        column,
        problem,
    };
    let [c_id, c_ids, c_mask, c_len, c_prompt] = TOKENIZED_COLUMNS;
    let col = |name: &'static str| df.column(name).map_err(|e| bad(0, name, e.to_string()));
    let ids = col(c_id)?.str().map_err(|e| bad(0, c_id, e.to_string()))?.clone();
    let input_ids = col(c_ids)?
        .list()
        .map_err(|e| bad(0, c_ids, e.to_string()))?
        .clone();
    let masks = col(c_mask)?
        .list()
        .map_err(|e| bad(0, c_mask, e.to_string()))?
        .clone();
    let lengths = col(c_len)?
        .u32()
        .map_err(|e| bad(0, c_len, e.to_string()))?
        .clone();
    let prompt_lens = col(c_prompt)?
        .u32()
        .map_err(|e| bad(0, c_prompt, e.to_string()))?
        .clone();

    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(df.height());
    let rows = ids
        .iter()
        .zip(input_ids.amortized_iter())
        .zip(masks.amortized_iter())
        .zip(lengths.iter().zip(prompt_lens.iter()));
    for (row, (((id, tokens), mask), (length, prompt_len))) in rows.enumerate() {
        let null = |column| bad(row, column, "null".to_string());
        let id = ExampleId(id.ok_or_else(|| null(c_id))?.to_string());
        let tokens: Vec<u32> = tokens
            .ok_or_else(|| null(c_ids))?
            .as_ref()
            .u32()
            .map_err(|e| bad(row, c_ids, e.to_string()))?
            .into_no_null_iter()
            .collect();
        let mask: Vec<u8> = mask
            .ok_or_else(|| null(c_mask))?
            .as_ref()
            .u8()
            .map_err(|e| bad(row, c_mask, e.to_string()))?
            .into_no_null_iter()
            .collect();
        let length = length.ok_or_else(|| null(c_len))? as usize;
        let prompt_len = prompt_len.ok_or_else(|| null(c_prompt))? as usize;
        if mask.len() != tokens.len() {
            return Err(bad(
                row,
                c_mask,
                format!("{} mask entries for {} tokens", mask.len(), tokens.len()),
            ));
        }
        if length != tokens.len() {
            return Err(bad(
                row,
                c_len,
                format!("says {length} but the row has {} tokens", tokens.len()),
            ));
        }
        if prompt_len > length || mask[..prompt_len].iter().any(|&m| m != 0) {
            return Err(bad(
                row,
                c_prompt,
                format!("{prompt_len} prompt tokens do not fit the row or the mask scores them"),
            ));
        }
        if !seen.insert(id.clone()) {
            return Err(bad(row, c_id, format!("duplicate id `{id}`")));
        }
        out.push(TokenizedRow {
            id,
            tokens: TokenizedExample {
                input_ids: tokens,
                loss_mask: mask,
            },
            prompt_len,
        });
    }
    Ok(out)
}

/// What [`tokenize_file`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenizeReport {
    /// Records read.
    pub records: usize,
    /// Rows written.
    pub kept: usize,
    /// Tokens in the rows written.
    pub tokens: usize,
    /// Records left out, in input order (also written to the sidecar).
    pub dropped: Vec<DroppedRow>,
}

/// Tokenizes a canonical record file (`.parquet` or canonical `.jsonl`) into a tokenized table
/// at `out`, `chunk_rows` records at a time, and writes the dropped rows to
/// [`dropped_path`]`(out)` (an empty file when none were dropped, so a stale sidecar never
/// survives). A Parquet input is streamed by row groups, so memory is bounded by the chunk
/// (plus the set of ids written); JSON Lines are read whole.
///
/// # Errors
/// The read errors of [`crate::read_examples`], the errors of [`crate::tokenize_examples`]
/// (a record without a response, a template failure), and write errors naming the file. On
/// error neither output is left behind.
pub fn tokenize_file(
    input: &Path,
    tokenizer: &TextTokenizer,
    options: &TokenizeOptions,
    out: &Path,
    chunk_rows: usize,
) -> Result<TokenizeReport> {
    tokenize_file_with(input, tokenizer, options, out, chunk_rows, &mut |_| {})
}

/// [`tokenize_file`], calling `on_chunk(records so far)` after each chunk.
///
/// # Errors
/// As [`tokenize_file`].
pub fn tokenize_file_with(
    input: &Path,
    tokenizer: &TextTokenizer,
    options: &TokenizeOptions,
    out: &Path,
    chunk_rows: usize,
    on_chunk: &mut dyn FnMut(usize),
) -> Result<TokenizeReport> {
    let mut writer = TokenizedWriter::create(out)?;
    let mut report = TokenizeReport::default();
    let mut each = |examples: Vec<crate::Example>| -> Result<()> {
        let tokenized = tokenize_examples(&examples, tokenizer, options)?;
        report.records += examples.len();
        report.tokens += tokenized.token_count();
        writer.write(&tokenized.rows)?;
        report.dropped.extend(tokenized.dropped);
        on_chunk(report.records);
        Ok(())
    };
    if crate::io::is_parquet(input) {
        crate::read_parquet_chunks(input, chunk_rows, each)?;
    } else {
        let examples = crate::read_jsonl(input)?;
        let mut rest = examples.into_iter().peekable();
        while rest.peek().is_some() {
            each(rest.by_ref().take(chunk_rows.max(1)).collect())?;
        }
    }
    write_dropped(&dropped_path(out), &report.dropped)?;
    report.kept = writer.finish()?;
    Ok(report)
}

/// The conventional sidecar of a tokenized table: `Y.parquet` -> `Y.dropped.jsonl`.
pub fn dropped_path(tokenized: &Path) -> std::path::PathBuf {
    tokenized.with_extension("dropped.jsonl")
}

/// Writes the dropped rows as JSON Lines (`{"id", "length", "reason"}`), atomically.
///
/// # Errors
/// [`DataError::Write`] naming the file.
pub fn write_dropped(path: &Path, dropped: &[DroppedRow]) -> Result<()> {
    write_atomic(path, |file| {
        let write_err = |source| DataError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut w = BufWriter::new(file);
        for d in dropped {
            let line = serde_json::json!({ "id": d.id.as_str(), "length": d.length, "reason": d.reason });
            serde_json::to_writer(&mut w, &line).map_err(|e| write_err(e.into()))?;
            w.write_all(b"\n").map_err(write_err)?;
        }
        w.flush().map_err(write_err)
    })
}

fn frame(rows: &[TokenizedRow]) -> PolarsResult<DataFrame> {
    let total: usize = rows.iter().map(|r| r.tokens.input_ids.len()).sum();
    let [c_id, c_ids, c_mask, c_len, c_prompt] = TOKENIZED_COLUMNS;
    let mut ids =
        ListPrimitiveChunkedBuilder::<UInt32Type>::new(c_ids.into(), rows.len(), total, DataType::UInt32);
    let mut masks =
        ListPrimitiveChunkedBuilder::<UInt8Type>::new(c_mask.into(), rows.len(), total, DataType::UInt8);
    for row in rows {
        ids.append_slice(&row.tokens.input_ids);
        masks.append_slice(&row.tokens.loss_mask);
    }
    let as_u32 = |n: usize| u32::try_from(n).expect("a row of over 4 billion tokens");
    let columns = vec![
        Column::new(
            c_id.into(),
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ),
        ids.finish().into_column(),
        masks.finish().into_column(),
        Column::new(
            c_len.into(),
            rows.iter()
                .map(|r| as_u32(r.tokens.input_ids.len()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            c_prompt.into(),
            rows.iter().map(|r| as_u32(r.prompt_len)).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(rows.len(), columns)
}
