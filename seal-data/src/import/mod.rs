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
use crate::io::is_parquet;
use crate::record::{Example, Label, content_id};
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

/// How to import.
#[derive(Debug, Clone, Default)]
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
    let mut out = Imported::default();
    let mut ids = IdBook::default();
    for path in paths {
        let format = import_one(path, options, &mut ids, &mut out)?;
        out.formats.push((path.clone(), format));
    }
    Ok(out)
}

/// Hands out ids and remembers where each was first seen.
#[derive(Default)]
struct IdBook {
    first_seen: HashMap<ExampleId, String>,
    /// How often each content hash has been seen, for the `#n` suffix of exact repeats.
    repeats: HashMap<ExampleId, usize>,
}

fn import_one(path: &Path, options: &ImportOptions, ids: &mut IdBook, out: &mut Imported) -> Result<Format> {
    if is_parquet(path) {
        for (row, mut example) in crate::io::read_parquet(path)?.into_iter().enumerate() {
            override_fields(&mut example, options);
            admit(
                path,
                Position::Record(row + 1),
                example,
                String::new(),
                options,
                ids,
                out,
            )?;
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
            reject_or_fail(path, b.pos, b.error, b.raw, options, out)?;
        }
        let draft = match formats::read_row(format, &row, options) {
            Ok(d) => d,
            Err(p) => {
                let error = DataError::Field {
                    path: path.to_path_buf(),
                    pos: row.pos,
                    field: p.field,
                    problem: p.problem,
                };
                reject_or_fail(path, row.pos, error, row.raw, options, out)?;
                continue;
            }
        };
        let id = match draft.id {
            Some(id) => ExampleId(id),
            None => {
                let hash = content_id(&draft.prompt, draft.response.as_deref());
                let seen = ids.repeats.entry(hash.clone()).or_insert(0);
                *seen += 1;
                if *seen == 1 {
                    hash
                } else {
                    ExampleId(format!("{hash}#{seen}"))
                }
            }
        };
        let mut example = Example {
            id,
            source: draft.source.unwrap_or_else(|| default_source.clone()),
            prompt: draft.prompt,
            response: draft.response,
            label: draft.label,
            category: draft.category,
            split: draft.split,
            novel: draft.novel,
        };
        override_fields(&mut example, options);
        admit(path, row.pos, example, row.raw, options, ids, out)?;
    }
    for b in bad {
        reject_or_fail(path, b.pos, b.error, b.raw, options, out)?;
    }
    Ok(format)
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

fn admit(
    path: &Path,
    pos: Position,
    example: Example,
    raw: String,
    options: &ImportOptions,
    ids: &mut IdBook,
    out: &mut Imported,
) -> Result<()> {
    if let Some(first) = ids.first_seen.get(&example.id) {
        let error = DataError::DuplicateId {
            path: path.to_path_buf(),
            pos,
            id: example.id.clone(),
            first: first.clone(),
        };
        return reject_or_fail(path, pos, error, raw, options, out);
    }
    ids.first_seen
        .insert(example.id.clone(), format!("{}:{pos}", path.display()));
    out.examples.push(example);
    Ok(())
}

fn reject_or_fail(
    path: &Path,
    pos: Position,
    error: DataError,
    raw: String,
    options: &ImportOptions,
    out: &mut Imported,
) -> Result<()> {
    if !options.skip_invalid {
        return Err(error);
    }
    out.rejects.push(Reject {
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
