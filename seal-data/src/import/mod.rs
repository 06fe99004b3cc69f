//! Importers: every supported source format into canonical [`Example`]s.
//!
//! The format is detected from the extension and the field names (or forced with
//! [`ImportOptions::format`]). Rows that fail are either fatal (the default: the first bad
//! row fails the import, naming file, line and field) or, with
//! [`ImportOptions::skip_invalid`], collected as [`Reject`]s.
//!
//! Ids: a source's own id column when it has one (canonical `id`, a generic mapping's id
//! field; XSTest `id`, MT-Bench `question_id` and HarmBench `BehaviorID` prefixed with the
//! format name, e.g. `xstest:12`), else [`content_id`]. Exact repeats of the same content
//! (Alpaca-GPT4 has 14) get `#2`, `#3`, ... appended in file order: identical rows are
//! interchangeable, so the ids still do not depend on row order.

mod formats;
mod rows;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{DataError, Position, Result};
use crate::io::{is_parquet, read_parquet};
use crate::record::{Example, Label, content_id, id_key};
use seal_core::ExampleId;

pub use formats::pyrit_verdict;

/// A source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON Lines of [`Example`] (or canonical Parquet, by extension).
    Canonical,
    /// `instruction`, `input`, `output` (JSON array or JSONL); also SafeInstr training data.
    Alpaca,
    /// Anthropic HH-RLHF `chosen` / `rejected` transcripts.
    HhRlhf,
    /// ShareGPT / SlimOrca `conversations` of `from` / `value`.
    ShareGpt,
    /// OpenAI chat `messages` of `role` / `content`.
    OpenAi,
    /// PyRIT many-shot pairs: `user`, `assistant`, `category` (a judge's verdict).
    Pyrit,
    /// AdvBench CSV (`goal`): harmful prompts.
    AdvBench,
    /// CatQA nested JSON `{category: {subcategory: [question]}}`: harmful prompts.
    CatQa,
    /// StrongREJECT CSV (`forbidden_prompt`, `category`): harmful prompts.
    StrongReject,
    /// HarmBench CSV (`Behavior`, `SemanticCategory`, `ContextString`, `BehaviorID`).
    HarmBench,
    /// XSTest CSV (`prompt`, `type`, `label` safe/unsafe).
    XsTest,
    /// MT-Bench JSONL (`turns`; the first turn is the prompt).
    MtBench,
    /// SafeInstr evaluation JSON (`instructions`: strings or instruction/output objects).
    SafeInstrEval,
    /// JSONL / JSON / CSV with the field names in [`FieldMapping`].
    Generic,
}

impl Format {
    /// Every format, in the order of [`Format::name`]'s list.
    pub const ALL: [Format; 14] = [
        Format::Canonical,
        Format::Alpaca,
        Format::HhRlhf,
        Format::ShareGpt,
        Format::OpenAi,
        Format::Pyrit,
        Format::AdvBench,
        Format::CatQa,
        Format::StrongReject,
        Format::HarmBench,
        Format::XsTest,
        Format::MtBench,
        Format::SafeInstrEval,
        Format::Generic,
    ];

    /// The name used by `--format` (kebab-case).
    pub fn name(self) -> &'static str {
        match self {
            Format::Canonical => "canonical",
            Format::Alpaca => "alpaca",
            Format::HhRlhf => "hh-rlhf",
            Format::ShareGpt => "sharegpt",
            Format::OpenAi => "openai",
            Format::Pyrit => "pyrit",
            Format::AdvBench => "advbench",
            Format::CatQa => "catqa",
            Format::StrongReject => "strongreject",
            Format::HarmBench => "harmbench",
            Format::XsTest => "xstest",
            Format::MtBench => "mt-bench",
            Format::SafeInstrEval => "safeinstr-eval",
            Format::Generic => "generic",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        // SafeInstr's training file is plain Alpaca; accept its name as an alias.
        if s == "safeinstr-train" {
            return Ok(Format::Alpaca);
        }
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| DataError::UnknownName {
                what: "format",
                name: s.to_string(),
                expected: Format::ALL.map(Format::name).join(", "),
            })
    }
}

/// Which side of an HH-RLHF pair becomes the response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HhSide {
    /// The preferred dialogue (the default).
    #[default]
    Chosen,
    /// The dispreferred dialogue (often a harmful answer).
    Rejected,
}

impl HhSide {
    /// The JSON field holding this side.
    pub fn field(self) -> &'static str {
        match self {
            HhSide::Chosen => "chosen",
            HhSide::Rejected => "rejected",
        }
    }
}

/// Field names for [`Format::Generic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMapping {
    /// The prompt: a string, or a list of `{role, content}` turns. Required.
    pub prompt: String,
    /// The response, if any.
    pub response: Option<String>,
    /// A stable id column; without one, ids are content hashes.
    pub id: Option<String>,
    /// A label column (`benign`/`harmful`/`unknown`, or `safe`/`unsafe`).
    pub label: Option<String>,
    /// A category column.
    pub category: Option<String>,
}

impl Default for FieldMapping {
    fn default() -> Self {
        FieldMapping {
            prompt: "prompt".to_string(),
            response: Some("response".to_string()),
            id: None,
            label: None,
            category: None,
        }
    }
}

/// The default [`ImportOptions::max_record_bytes`]: 64 MiB of text, some 16M tokens, past any
/// context window; a record this large is a mistake or an attack, and tokenizing it would cost
/// about 170 bytes of memory per character.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 << 20;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Force a format instead of detecting it.
    pub format: Option<Format>,
    /// Source name for every record; by default the file stem (canonical records keep their own).
    pub source: Option<String>,
    /// Label for every record, overriding what the format says.
    pub label: Option<Label>,
    /// HH-RLHF: take `chosen` or `rejected`.
    pub hh_side: HhSide,
    /// Collect bad rows as [`Reject`]s instead of failing.
    pub skip_invalid: bool,
    /// Field names for [`Format::Generic`].
    pub mapping: FieldMapping,
    /// Longest record accepted, in bytes of prompt and response text; a longer one is an error
    /// naming its row (a reject under `skip_invalid`).
    pub max_record_bytes: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            format: None,
            source: None,
            label: None,
            hh_side: HhSide::default(),
            skip_invalid: false,
            mapping: FieldMapping::default(),
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// A row left out under [`ImportOptions::skip_invalid`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    /// The file.
    pub file: PathBuf,
    /// Where in it.
    pub position: Position,
    /// The error, as it would have been reported.
    pub reason: String,
    /// The row's text.
    pub raw: String,
}

/// The result of an import.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// The records, in input order.
    pub examples: Vec<Example>,
    /// Rows left out (only with [`ImportOptions::skip_invalid`]).
    pub rejects: Vec<Reject>,
    /// The format used for each file.
    pub formats: Vec<(PathBuf, Format)>,
    /// What the caller should tell the user about the import (e.g. a generic file whose
    /// response column was not found).
    pub warnings: Vec<String>,
}

/// Detects the format of `path` from its extension and field names.
///
/// # Errors
/// The read errors of [`import_file`], or [`DataError::UnknownFormat`].
pub fn detect_format(path: &Path) -> Result<Format> {
    if is_parquet(path) {
        return Ok(Format::Canonical);
    }
    let text = rows::read_text(path)?;
    let container = rows::container(path, &text);
    let parsed = rows::parse(path, &text, container)?;
    rows::detect(path, &parsed, container)
}

/// Reads a JSONL file of [`Example`]s (the `canonical` import format, strict).
///
/// # Errors
/// The import errors of the canonical format (bad line, missing field, duplicate id, ...).
pub fn read_jsonl(path: &Path) -> Result<Vec<Example>> {
    let options = ImportOptions {
        format: Some(Format::Canonical),
        ..Default::default()
    };
    Ok(import_file(path, &options)?.examples)
}

/// Reads canonical records from a `.parquet` file or a JSONL file of [`Example`]s.
///
/// # Errors
/// As [`read_parquet`], or the import errors of the canonical JSONL format.
pub fn read_examples(path: &Path) -> Result<Vec<Example>> {
    if is_parquet(path) {
        return read_parquet(path);
    }
    read_jsonl(path)
}

/// Imports one file. See [`import_files`].
///
/// # Errors
/// As [`import_files`].
pub fn import_file(path: &Path, options: &ImportOptions) -> Result<Imported> {
    import_files(&[path.to_path_buf()], options)
}

/// Imports `paths` in order into one list of records with unique ids.
///
/// # Errors
/// [`DataError::Read`], [`DataError::NonUtf8`], [`DataError::Empty`] and
/// [`DataError::UnknownFormat`] for a whole file; per row (unless `skip_invalid`)
/// [`DataError::Json`], [`DataError::Csv`], [`DataError::Field`] and
/// [`DataError::DuplicateId`], each naming file, line or record, and field.
pub fn import_files(paths: &[PathBuf], options: &ImportOptions) -> Result<Imported> {
    import_files_with(paths, options, &mut |_, _| {})
}

/// [`import_files`], calling `on_file(files done, records so far)` after each file.
///
/// # Errors
/// As [`import_files`].
pub fn import_files_with(
    paths: &[PathBuf],
    options: &ImportOptions,
    on_file: &mut dyn FnMut(usize, usize),
) -> Result<Imported> {
    let mut out = Imported::default();
    let mut ids = IdBook::default();
    for path in paths {
        let before = out.examples.len();
        let format = import_one(path, options, &mut ids, &mut out)?;
        let added = &out.examples[before..];
        // A generic file whose response column has another name would otherwise import as
        // prompts only, without a word.
        if let (Format::Generic, Some(field)) = (format, &options.mapping.response)
            && !added.is_empty()
            && added.iter().all(|e| e.response.is_none())
        {
            out.warnings.push(format!(
                "{}: no row has a `{field}` field, so all {} records are prompts only \
                 (give --response-field if the answers are under another name)",
                path.display(),
                added.len()
            ));
        }
        out.formats.push((path.clone(), format));
        on_file(out.formats.len(), out.examples.len());
    }
    Ok(out)
}

/// Hands out ids and remembers where each was first seen.
///
/// Ids are kept as 128-bit hashes with a file index and position (40 bytes each) rather than
/// as strings with a `file:line` label, so that a streamed import of millions of rows holds
/// little more than the ids' hashes.
#[derive(Default)]
struct IdBook {
    files: Vec<PathBuf>,
    /// Id hash -> where it was first seen, packed by [`IdBook::pack`] (24 bytes an entry).
    first_seen: HashMap<u128, u64>,
    /// How often each repeated content hash has been seen, for the `#n` suffix of exact repeats.
    repeats: HashMap<u128, usize>,
}

impl IdBook {
    /// The id of a record: the source's own, else the content hash, `#n`-suffixed when the same
    /// content was admitted before.
    fn assign(&mut self, given: Option<String>, draft: &formats::Draft) -> ExampleId {
        if let Some(id) = given {
            return ExampleId(id);
        }
        let hash = content_id(&draft.prompt, draft.response.as_deref());
        let key = id_key(&hash);
        if !self.first_seen.contains_key(&key) {
            return hash;
        }
        let seen = self.repeats.entry(key).or_insert(1);
        *seen += 1;
        ExampleId(format!("{hash}#{seen}"))
    }

    /// Records `id` as seen at `path:pos`; `Err` with the first sighting if it was seen before.
    fn see(&mut self, id: &ExampleId, path: &Path, pos: Position) -> std::result::Result<(), String> {
        let key = id_key(id);
        if let Some(&packed) = self.first_seen.get(&key) {
            let (file, first) = Self::unpack(packed);
            return Err(format!("{}:{first}", self.files[file].display()));
        }
        if self.files.last().is_none_or(|f| f != path) {
            self.files.push(path.to_path_buf());
        }
        self.first_seen.insert(key, Self::pack(self.files.len() - 1, pos));
        Ok(())
    }

    /// File index in the top 16 bits, a line / record flag in bit 47, the number below.
    fn pack(file: usize, pos: Position) -> u64 {
        let (flag, n) = match pos {
            Position::Line(n) => (0, n),
            Position::Record(n) => (1u64 << 47, n),
        };
        ((file as u64) << 48) | flag | (n as u64 & ((1 << 47) - 1))
    }

    fn unpack(packed: u64) -> (usize, Position) {
        let n = (packed & ((1 << 47) - 1)) as usize;
        let pos = if packed & (1 << 47) == 0 {
            Position::Line(n)
        } else {
            Position::Record(n)
        };
        ((packed >> 48) as usize, pos)
    }
}

fn import_one(path: &Path, options: &ImportOptions, ids: &mut IdBook, out: &mut Imported) -> Result<Format> {
    if is_parquet(path) {
        for (row, mut example) in crate::io::read_parquet(path)?.into_iter().enumerate() {
            override_fields(&mut example, options);
            let pos = Position::Record(row + 1);
            if let Some(example) = admit(path, pos, example, String::new(), options, ids, &mut out.rejects)? {
                out.examples.push(example);
            }
        }
        return Ok(Format::Canonical);
    }
    let text = rows::read_text(path)?;
    let container = rows::container(path, &text);
    let parsed = rows::parse(path, &text, container)?;
    if parsed.rows.is_empty()
        && parsed.bad.is_empty()
        && !matches!(parsed.document, Some(serde_json::Value::Object(_)))
    {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    let format = match options.format {
        Some(f) => f,
        None => rows::detect(path, &parsed, container)?,
    };
    let mut items = match (format, &parsed.document) {
        (Format::CatQa | Format::SafeInstrEval, Some(doc)) => {
            formats::flatten(format, doc).map_err(|p| DataError::Field {
                path: path.to_path_buf(),
                pos: Position::Record(1),
                field: p.field,
                problem: p.problem,
            })?
        }
        (Format::CatQa | Format::SafeInstrEval, None) => {
            return Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
                reason: format!("format {format} needs one json document"),
            });
        }
        _ => parsed.rows,
    };
    if items.is_empty() && parsed.bad.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    // Bad rows and good rows interleave in file order, so the first error reported is the
    // first in the file.
    let mut bad = parsed.bad.into_iter().peekable();
    let default_source = options.source.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    for row in items.drain(..) {
        while let Some(b) = bad.next_if(|b| position_key(b.pos) < position_key(row.pos)) {
            reject_or_fail(path, b.pos, b.error, b.raw, options, &mut out.rejects)?;
        }
        if let Some(example) = accept_row(path, format, row, options, ids, &default_source, &mut out.rejects)?
        {
            out.examples.push(example);
        }
    }
    for b in bad {
        reject_or_fail(path, b.pos, b.error, b.raw, options, &mut out.rejects)?;
    }
    Ok(format)
}

/// One parsed row to an admitted record: read by its format, given its id, overridden by the
/// options, checked for a repeated id. `None` when the row went to `rejects`.
fn accept_row(
    path: &Path,
    format: Format,
    row: rows::Row,
    options: &ImportOptions,
    ids: &mut IdBook,
    default_source: &str,
    rejects: &mut Vec<Reject>,
) -> Result<Option<Example>> {
    let draft = match formats::read_row(format, &row, options) {
        Ok(d) => d,
        Err(p) => {
            let error = DataError::Field {
                path: path.to_path_buf(),
                pos: row.pos,
                field: p.field,
                problem: p.problem,
            };
            reject_or_fail(path, row.pos, error, row.raw, options, rejects)?;
            return Ok(None);
        }
    };
    let id = ids.assign(draft.id.clone(), &draft);
    let mut example = Example {
        id,
        source: draft.source.unwrap_or_else(|| default_source.to_string()),
        prompt: draft.prompt,
        response: draft.response,
        label: draft.label,
        category: draft.category,
        split: draft.split,
        novel: draft.novel,
    };
    override_fields(&mut example, options);
    admit(path, row.pos, example, row.raw, options, ids, rejects)
}

/// What [`import_jsonl_chunks`] did.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// Records handed out.
    pub records: usize,
    /// Rows left out (only with [`ImportOptions::skip_invalid`]).
    pub rejects: Vec<Reject>,
    /// The format used (`None` when no row could be parsed to detect it).
    pub format: Option<Format>,
}

/// Imports a JSON Lines file without holding it: lines are read one at a time and the records
/// handed to `each` in chunks of `chunk_rows`, in file order. Memory is the chunk plus the id
/// book (about 40 bytes per record, to keep ids unique), whatever the file size.
///
/// The format is detected from the first record unless [`ImportOptions::format`] is set;
/// document formats (CatQA, SafeInstr evaluation) and CSV need [`import_file`].
///
/// # Errors
/// As [`import_files`], with [`DataError::NonUtf8`] naming the line of the first bad byte, and
/// [`DataError::UnknownFormat`] for a file that is not JSON Lines; or the first error `each`
/// returns.
pub fn import_jsonl_chunks(
    path: &Path,
    options: &ImportOptions,
    chunk_rows: usize,
    mut each: impl FnMut(Vec<Example>) -> Result<()>,
) -> Result<StreamReport> {
    use std::io::BufRead;
    let read_err = |source| DataError::Read {
        path: path.to_path_buf(),
        source,
    };
    let is_jsonl = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"));
    if !is_jsonl {
        return Err(DataError::UnknownFormat {
            path: path.to_path_buf(),
            reason: "a streamed import reads JSON Lines (.jsonl / .ndjson)".to_string(),
        });
    }
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(read_err)?);
    let default_source = options.source.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let mut ids = IdBook::default();
    let mut rejects = Vec::new();
    let mut format = options.format;
    let chunk_rows = chunk_rows.max(1);
    let mut chunk = Vec::with_capacity(chunk_rows);
    let mut records = 0;
    let (mut line, mut byte) = (0usize, 0usize);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        line += 1;
        let text = std::str::from_utf8(&buf).map_err(|e| DataError::NonUtf8 {
            path: path.to_path_buf(),
            line,
            byte: byte + e.valid_up_to(),
        })?;
        byte += n;
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let pos = Position::Line(line);
        let value = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => v,
            Err(e) => {
                let error = DataError::Json {
                    path: path.to_path_buf(),
                    pos,
                    message: e.to_string(),
                };
                reject_or_fail(path, pos, error, text.to_string(), options, &mut rejects)?;
                continue;
            }
        };
        let row = rows::Row {
            pos,
            value,
            raw: text.to_string(),
        };
        let row_format = match format {
            Some(f) => f,
            None => {
                let probe = rows::Parsed {
                    rows: vec![row.clone()],
                    bad: Vec::new(),
                    document: None,
                    headers: Vec::new(),
                };
                *format.insert(rows::detect(path, &probe, rows::Container::Jsonl)?)
            }
        };
        if matches!(row_format, Format::CatQa | Format::SafeInstrEval) {
            return Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
                reason: format!("format {row_format} is one json document, not json lines"),
            });
        }
        if let Some(example) = accept_row(
            path,
            row_format,
            row,
            options,
            &mut ids,
            &default_source,
            &mut rejects,
        )? {
            chunk.push(example);
            if chunk.len() >= chunk_rows {
                records += chunk.len();
                each(std::mem::take(&mut chunk))?;
            }
        }
    }
    if records + chunk.len() == 0 && rejects.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    records += chunk.len();
    if !chunk.is_empty() {
        each(chunk)?;
    }
    Ok(StreamReport {
        records,
        rejects,
        format,
    })
}

fn position_key(pos: Position) -> usize {
    match pos {
        Position::Line(n) | Position::Record(n) => n,
    }
}

fn override_fields(example: &mut Example, options: &ImportOptions) {
    if let Some(source) = &options.source {
        example.source.clone_from(source);
    }
    if let Some(label) = options.label {
        example.label = label;
    }
}

/// Checks `example`'s id is new: `Some(example)` if so; else the duplicate-id error, or
/// `None` with the row among the rejects under `skip_invalid`.
fn admit(
    path: &Path,
    pos: Position,
    example: Example,
    raw: String,
    options: &ImportOptions,
    ids: &mut IdBook,
    rejects: &mut Vec<Reject>,
) -> Result<Option<Example>> {
    let bytes = example.prompt.iter().map(|m| m.content.len()).sum::<usize>()
        + example.response.as_ref().map_or(0, String::len);
    if bytes > options.max_record_bytes {
        let error = DataError::RecordTooLarge {
            path: path.to_path_buf(),
            pos,
            id: example.id,
            bytes,
            limit: options.max_record_bytes,
        };
        // The raw row is as large as the record: the reject keeps only its start.
        let raw: String = raw.chars().take(200).collect();
        reject_or_fail(path, pos, error, raw, options, rejects)?;
        return Ok(None);
    }
    if let Err(first) = ids.see(&example.id, path, pos) {
        let error = DataError::DuplicateId {
            path: path.to_path_buf(),
            pos,
            id: example.id,
            first,
        };
        reject_or_fail(path, pos, error, raw, options, rejects)?;
        return Ok(None);
    }
    Ok(Some(example))
}

fn reject_or_fail(
    path: &Path,
    pos: Position,
    error: DataError,
    raw: String,
    options: &ImportOptions,
    rejects: &mut Vec<Reject>,
) -> Result<()> {
    if !options.skip_invalid {
        return Err(error);
    }
    rejects.push(Reject {
        file: path.to_path_buf(),
        position: pos,
        reason: error.to_string(),
        raw,
    });
    Ok(())
}

/// Writes rejects as JSON Lines (`file`, `position`, `reason`, `raw`), atomically.
///
/// # Errors
/// [`DataError::Write`] if the file cannot be written.
pub fn write_rejects(path: &Path, rejects: &[Reject]) -> Result<()> {
    use std::io::Write;
    crate::io::write_atomic(path, |file| {
        let write_err = |source| DataError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut w = std::io::BufWriter::new(file);
        for r in rejects {
            serde_json::to_writer(&mut w, r).map_err(|e| write_err(e.into()))?;
            w.write_all(b"\n").map_err(write_err)?;
        }
        w.flush().map_err(write_err)
    })
}
