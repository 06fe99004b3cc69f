//! Reading and writing canonical records: Parquet (through polars) and JSONL.
//!
//! Writes are atomic: the bytes go to a temporary file beside the target, which is renamed
//! over it only once everything is written, so a failed run never leaves a partial file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use seal_core::ExampleId;

use crate::error::{DataError, Result};
use crate::record::{Example, Label};
use crate::schema;
use crate::text::ChatMessage;

/// Writes `examples` to `path` as Parquet, atomically (see [`crate::schema`] for the layout).
///
/// # Errors
/// [`DataError::Write`] if the temporary file cannot be created or renamed,
/// [`DataError::Parquet`] if polars fails to encode.
pub fn write_parquet(path: &Path, examples: &[Example]) -> Result<()> {
    let mut writer = ExampleWriter::create(path)?;
    writer.write(examples)?;
    writer.finish().map(|_| ())
}

/// A canonical Parquet file written in batches, for record sets too large to hold at once.
///
/// Each [`ExampleWriter::write`] call appends row groups; nothing is visible at the path until
/// [`ExampleWriter::finish`], and a writer dropped without finishing leaves no file.
pub struct ExampleWriter {
    sink: ParquetSink<Example>,
}

impl ExampleWriter {
    /// Starts a canonical Parquet file at `path` (written to a temporary sibling until finished).
    ///
    /// # Errors
    /// [`DataError::Write`] if the temporary file cannot be created.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(ExampleWriter {
            sink: ParquetSink::create(path, to_frame)?,
        })
    }

    /// Appends `examples` (as row groups of at most [`ROW_GROUP_ROWS`] rows).
    ///
    /// # Errors
    /// [`DataError::Parquet`] if polars fails to encode.
    pub fn write(&mut self, examples: &[Example]) -> Result<()> {
        self.sink.write(examples)
    }

    /// Writes the footer and renames the file into place; returns the number of rows.
    ///
    /// # Errors
    /// [`DataError::Parquet`] / [`DataError::Write`] naming the file.
    pub fn finish(self) -> Result<usize> {
        self.sink.finish()
    }
}

/// Most rows per Parquet row group: big enough for good compression, small enough that a
/// reader streaming the file by slices holds little at a time.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// A Parquet file of `T` rows written batch by batch into a temporary sibling of its path,
/// renamed into place by [`ParquetSink::finish`] (dropping the sink deletes the temporary file).
pub(crate) struct ParquetSink<T> {
    pub(crate) path: PathBuf,
    tmp: tempfile::NamedTempFile,
    writer: polars::io::parquet::write::BatchedWriter<File>,
    pub(crate) rows: usize,
    frame: fn(&[T]) -> PolarsResult<DataFrame>,
}

impl<T> ParquetSink<T> {
    /// A sink whose rows become columns through `frame` (also called on no rows for the schema).
    pub(crate) fn create(path: &Path, frame: fn(&[T]) -> PolarsResult<DataFrame>) -> Result<Self> {
        let write_err = |source| DataError::Write {
            path: path.to_path_buf(),
            source,
        };
        let schema = frame(&[])
            .map_err(|source| parquet_err(path, source))?
            .schema()
            .as_ref()
            .clone();
        let tmp = output_temp_file(parent_dir(path)).map_err(write_err)?;
        let file = tmp.as_file().try_clone().map_err(write_err)?;
        let writer = ParquetWriter::new(file)
            .batched(&schema)
            .map_err(|source| parquet_err(path, source))?;
        Ok(ParquetSink {
            path: path.to_path_buf(),
            tmp,
            writer,
            rows: 0,
            frame,
        })
    }

    /// Appends `rows` as row groups of at most [`ROW_GROUP_ROWS`].
    pub(crate) fn write(&mut self, rows: &[T]) -> Result<()> {
        for group in rows.chunks(ROW_GROUP_ROWS) {
            let df = (self.frame)(group).map_err(|source| parquet_err(&self.path, source))?;
            self.writer
                .write_batch(&df)
                .map_err(|source| parquet_err(&self.path, source))?;
            self.rows += df.height();
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<usize> {
        let write_err = |source| DataError::Write {
            path: self.path.clone(),
            source,
        };
        self.writer
            .finish()
            .map_err(|source| parquet_err(&self.path, source))?;
        self.tmp.as_file().sync_all().map_err(write_err)?;
        self.tmp.persist(&self.path).map_err(|e| write_err(e.error))?;
        Ok(self.rows)
    }
}

/// Reads a canonical Parquet file written by [`write_parquet`].
///
/// # Errors
/// [`DataError::Read`] / [`DataError::Parquet`] if the file cannot be read,
/// [`DataError::Column`] if a canonical column is missing or holds a bad value.
pub fn read_parquet(path: &Path) -> Result<Vec<Example>> {
    let df = open_parquet(path)?
        .finish()
        .map_err(|source| parquet_err(path, source))?;
    frame_to_examples(path, &df, 0)
}

/// Reads a canonical Parquet file `chunk_rows` records at a time, handing each chunk to
/// `each` in file order; returns the number of records. Only the row groups of the current
/// chunk are decoded, so memory stays bounded by the chunk size, not the file size.
///
/// # Errors
/// As [`read_parquet`] (row numbers in errors count from the start of the file), or the first
/// error `each` returns.
pub fn read_parquet_chunks(
    path: &Path,
    chunk_rows: usize,
    mut each: impl FnMut(Vec<Example>) -> Result<()>,
) -> Result<usize> {
    let total = open_parquet(path)?
        .num_rows()
        .map_err(|source| parquet_err(path, source))?;
    let chunk_rows = chunk_rows.max(1);
    let mut offset = 0;
    while offset < total {
        let len = chunk_rows.min(total - offset);
        let df = open_parquet(path)?
            .with_slice(Some((offset, len)))
            .finish()
            .map_err(|source| parquet_err(path, source))?;
        each(frame_to_examples(path, &df, offset)?)?;
        offset += len;
    }
    Ok(total)
}

fn open_parquet(path: &Path) -> Result<ParquetReader<File>> {
    let file = File::open(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(ParquetReader::new(file))
}

/// Canonical records from a frame of the canonical layout; `first_row` is the frame's offset
/// in its file, so errors name the file's row.
fn frame_to_examples(path: &Path, df: &DataFrame, first_row: usize) -> Result<Vec<Example>> {
    let col_err = |column: &'static str, problem: String| DataError::Column {
        path: path.to_path_buf(),
        row: first_row,
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
            row: first_row + row,
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

/// Writes `examples` as canonical JSONL when `path` ends in `.jsonl`, as Parquet otherwise
/// (the counterpart of [`read_examples`](crate::read_examples)), atomically, making `path`'s folder first.
///
/// # Errors
/// [`DataError::Write`] if the folder or the file cannot be written.
pub fn write_examples(path: &Path, examples: &[Example]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DataError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl")) {
        write_jsonl(path, examples)
    } else {
        write_parquet(path, examples)
    }
}

/// Whether `path` names a Parquet file (by extension).
pub(crate) fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// Runs `write` on a temporary file in `path`'s folder, then renames it over `path`.
pub(crate) fn write_atomic(path: &Path, write: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let write_err = |source| DataError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = output_temp_file(parent_dir(path)).map_err(write_err)?;
    write(tmp.as_file_mut())?;
    tmp.as_file().sync_all().map_err(write_err)?;
    // On error the NamedTempFile is dropped, which deletes it: nothing partial is left behind.
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

/// The folder a temporary sibling of `path` goes in (the same filesystem, so the final rename
/// is atomic).
/// A temporary file in `dir` that is renamed into place as an output: created with an ordinary
/// file's mode (0666 less the umask), not tempfile's private 0600, so a written table is as
/// readable as any other file the user makes.
pub(crate) fn output_temp_file(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

pub(crate) fn parquet_err(path: &Path, source: PolarsError) -> DataError {
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
