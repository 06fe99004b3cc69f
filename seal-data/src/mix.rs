//! Mixtures from a TOML recipe: which files to import (format, field mapping, HH side), which
//! records to keep (filters), how many (a count or a fraction, sampled by seed), how to label
//! them, then dedup, an optional seeded shuffle, and a report of what came from where.
//!
//! ```toml
//! name = "ft"
//! seed = 0
//! dedup = "content"        # "id" (default) or "content"
//! shuffle = true
//! set_split = "train"      # written on every output record
//!
//! [[source]]
//! name = "pyrit-harmful"
//! path = "data/pyrit.json"  # relative to this file's folder
//! format = "pyrit"          # default: detected
//! label = "harmful"         # override, applied after the filters
//! count = 100               # or: fraction = 0.5 (of what passes the filters)
//! [source.filter]
//! label = "harmful"         # also: category_prefix, category = [..], split, max_chars, has_response
//! ```
//!
//! Unknown keys anywhere are errors naming the key and the recipe file; every source path is
//! checked before anything is imported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::import::{FieldMapping, Format, HhSide, ImportOptions, import_file};
use crate::io::write_atomic;
use crate::ops::{Duplicate, SplitKey, assign_splits, dedup, sample, shuffle};
use crate::record::{Example, Label};

/// A mixture recipe, as written in its TOML file (paths resolved by [`load_recipe`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// A name for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Free text: what the mixture is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed of every sample, split and shuffle.
    #[serde(default)]
    pub seed: u64,
    /// What counts as a duplicate across the whole mixture.
    #[serde(default)]
    pub dedup: DedupMode,
    /// Order the output by a hash of seed and id instead of source by source.
    #[serde(default)]
    pub shuffle: bool,
    /// A split name written on every output record (e.g. `train`, `test`).
    #[serde(default)]
    pub set_split: Option<String>,
    /// The sources, in output order.
    #[serde(rename = "source")]
    pub sources: Vec<SourceSpec>,
}

/// Which records [`dedup`] removes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupMode {
    /// Repeated ids (always: ids must be unique downstream).
    #[default]
    Id,
    /// Repeated ids and repeated normalised content.
    Content,
}

/// One source file of a recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// The file; relative paths are relative to the recipe's folder.
    pub path: PathBuf,
    /// The records' `source` (default: the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// A format name (`seal data import --format`); default: detected.
    #[serde(default)]
    pub format: Option<String>,
    /// HH-RLHF: `chosen` (default) or `rejected`.
    #[serde(default)]
    pub hh_side: Option<String>,
    /// Field names of a generic file (implies `format = "generic"`).
    #[serde(default)]
    pub fields: Option<FieldsSpec>,
    /// Leave bad rows out (counted in the report) instead of failing.
    #[serde(default)]
    pub skip_invalid: bool,
    /// Assign split names by hash before filtering (e.g. to hold part of a file out).
    #[serde(default)]
    pub hash_split: Option<HashSplitSpec>,
    /// Which records to keep.
    #[serde(default)]
    pub filter: FilterSpec,
    /// Keep this many of the records that pass the filters (sampled by seed).
    #[serde(default)]
    pub count: Option<usize>,
    /// Keep this share of the records that pass the filters (rounded down; sampled by seed).
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Label every kept record.
    #[serde(default)]
    pub label: Option<Label>,
    /// Mark every kept record as a novel benign task (DESIGN section 6).
    #[serde(default)]
    pub novel: bool,
}

/// Field names of a generic source (see [`FieldMapping`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldsSpec {
    /// The prompt field (a string or a list of `{role, content}`).
    pub prompt: String,
    /// The response field.
    #[serde(default)]
    pub response: Option<String>,
    /// An id field.
    #[serde(default)]
    pub id: Option<String>,
    /// A label field.
    #[serde(default)]
    pub label: Option<String>,
    /// A category field.
    #[serde(default)]
    pub category: Option<String>,
}

/// Split names assigned by a hash of seed and key ([`assign_splits`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashSplitSpec {
    /// The split's own seed, so that two recipes cutting one file the same way agree.
    pub seed: u64,
    /// Hash the id (default) or the normalised prompt.
    #[serde(default)]
    pub key: SplitKey,
    /// Split name to share; parts are cut in name order and must sum to 1.
    pub fractions: BTreeMap<String, f64>,
}

/// Conditions a record must meet to be kept (all that are given).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// The category starts with this text (after trimming whitespace).
    #[serde(default)]
    pub category_prefix: Option<String>,
    /// The category is one of these.
    #[serde(default)]
    pub category: Option<Vec<String>>,
    /// The label (as imported, before any override) is this.
    #[serde(default)]
    pub label: Option<Label>,
    /// The split is this (e.g. one assigned by `hash_split`).
    #[serde(default)]
    pub split: Option<String>,
    /// Prompt and response together have at most this many characters.
    #[serde(default)]
    pub max_chars: Option<usize>,
    /// The record has (true) or lacks (false) a response.
    #[serde(default)]
    pub has_response: Option<bool>,
    /// The prompt holds at least one of these words (whole words, any case): carves an
    /// instruction family out of a source, e.g. `["code", "python", "algorithm"]`.
    #[serde(default)]
    pub prompt_words: Option<Vec<String>>,
    /// The prompt holds none of these words (whole words, any case): the complement of a family.
    #[serde(default)]
    pub exclude_prompt_words: Option<Vec<String>>,
    /// The response opens with one of these (any case, curly apostrophes read as straight,
    /// leading whitespace ignored): keeps one style of demonstration, e.g. plain refusals.
    #[serde(default)]
    pub response_prefix: Option<Vec<String>>,
    /// The response opens with none of these (same reading): drops a style, e.g. SafeInstr's
    /// "As an AI language model, I do not have personal opinions" answers to opinion questions.
    #[serde(default)]
    pub exclude_response_prefix: Option<Vec<String>>,
}

impl FilterSpec {
    fn keeps(&self, e: &Example) -> bool {
        let category = e.category.as_deref().map(str::trim);
        self.category_prefix
            .as_deref()
            .is_none_or(|p| category.is_some_and(|c| c.starts_with(p)))
            && self
                .category
                .as_ref()
                .is_none_or(|list| category.is_some_and(|c| list.iter().any(|l| l == c)))
            && self.label.is_none_or(|l| e.label == l)
            && self
                .split
                .as_deref()
                .is_none_or(|s| e.split.as_deref() == Some(s))
            && self.max_chars.is_none_or(|max| chars(e) <= max)
            && self.has_response.is_none_or(|h| e.response.is_some() == h)
            && self
                .prompt_words
                .as_ref()
                .is_none_or(|words| mentions_any(e, words))
            && self
                .exclude_prompt_words
                .as_ref()
                .is_none_or(|words| !mentions_any(e, words))
            && self
                .response_prefix
                .as_ref()
                .is_none_or(|prefixes| opens_with_any(e, prefixes))
            && self
                .exclude_response_prefix
                .as_ref()
                .is_none_or(|prefixes| !opens_with_any(e, prefixes))
    }

    /// A word list entry that is not one word (it could never match).
    fn bad_word(&self) -> Option<&str> {
        self.prompt_words
            .iter()
            .chain(&self.exclude_prompt_words)
            .flatten()
            .find(|w| w.is_empty() || w.chars().any(|c| !is_word_char(c)))
            .map(String::as_str)
    }
}

/// Letters, digits and the `+`/`#` of `c++`/`c#` make up a word; anything else separates words.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '+' || c == '#'
}

/// Whether any prompt turn holds one of `words` as a whole word, ignoring case.
fn mentions_any(e: &Example, words: &[String]) -> bool {
    let words: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    e.prompt.iter().any(|turn| {
        turn.content
            .split(|c: char| !is_word_char(c))
            .any(|w| !w.is_empty() && words.contains(&w.to_lowercase()))
    })
}

/// Whether the response opens with one of `prefixes`, ignoring case, leading whitespace and the
/// difference between curly and straight apostrophes. A record without a response opens with
/// nothing.
fn opens_with_any(e: &Example, prefixes: &[String]) -> bool {
    let fold = |s: &str| s.replace('\u{2019}', "'").to_lowercase();
    let Some(response) = e.response.as_deref() else {
        return false;
    };
    let response = fold(response.trim_start());
    prefixes.iter().any(|p| response.starts_with(&fold(p)))
}

fn chars(e: &Example) -> usize {
    e.prompt.iter().map(|t| t.content.chars().count()).sum::<usize>()
        + e.response.as_deref().map_or(0, |r| r.chars().count())
}

/// Reads and checks a recipe: TOML with no unknown keys, every source's path resolved against
/// the recipe's folder and present, formats and sides known, counts and fractions sane.
///
/// # Errors
/// [`DataError::Read`] for an unreadable recipe; [`DataError::Recipe`] naming the recipe and
/// the key, source or path at fault.
pub fn load_recipe(path: &Path) -> Result<Recipe> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |message: String| DataError::Recipe {
        path: path.to_path_buf(),
        message,
    };
    let mut recipe: Recipe = toml::from_str(&text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
    if recipe.sources.is_empty() {
        return Err(bad("no [[source]]".to_string()));
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    for (i, source) in recipe.sources.iter_mut().enumerate() {
        let written = source.path.display().to_string();
        let at = |message: String| bad(format!("source {} ({written}): {message}", i + 1));
        if source.path.is_relative() {
            source.path = dir.join(&source.path);
        }
        if !source.path.is_file() {
            return Err(at(format!("no such file {}", source.path.display())));
        }
        options(source).map_err(|e| at(e.to_string()))?;
        if let Some(word) = source.filter.bad_word() {
            return Err(at(format!(
                "filter: `{word}` is not one word (letters, digits, `+` or `#`); list phrases as separate words"
            )));
        }
        if source
            .filter
            .response_prefix
            .iter()
            .chain(&source.filter.exclude_response_prefix)
            .flatten()
            .any(|p| p.trim().is_empty())
        {
            return Err(at(
                "filter: an empty response prefix would match every response".to_string()
            ));
        }
        if source.count.is_some() && source.fraction.is_some() {
            return Err(at("give count or fraction, not both".to_string()));
        }
        if let Some(f) = source.fraction
            && !(f > 0.0 && f <= 1.0)
        {
            return Err(at(format!("fraction {f} is not in (0, 1]")));
        }
        if let Some(split) = &source.hash_split {
            // Checked here, on no records, so that bad fractions fail before any import.
            assign_splits(&mut [], split.seed, &fractions(split), split.key)
                .map_err(|e| at(e.to_string()))?;
        }
    }
    Ok(recipe)
}

fn fractions(split: &HashSplitSpec) -> Vec<(String, f64)> {
    split.fractions.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

/// The import options of one source.
fn options(source: &SourceSpec) -> Result<ImportOptions> {
    let mut format = source.format.as_deref().map(str::parse::<Format>).transpose()?;
    let mut mapping = FieldMapping::default();
    if let Some(fields) = &source.fields {
        match format {
            None | Some(Format::Generic) => format = Some(Format::Generic),
            Some(other) => {
                return Err(DataError::Invalid {
                    what: "fields".to_string(),
                    problem: format!("a field mapping needs format generic, not {other}"),
                });
            }
        }
        mapping = FieldMapping {
            prompt: fields.prompt.clone(),
            response: fields.response.clone(),
            id: fields.id.clone(),
            label: fields.label.clone(),
            category: fields.category.clone(),
        };
    }
    let hh_side = match source.hh_side.as_deref() {
        None | Some("chosen") => HhSide::Chosen,
        Some("rejected") => HhSide::Rejected,
        Some(other) => {
            return Err(DataError::Invalid {
                what: "hh_side".to_string(),
                problem: format!("expected chosen or rejected, got `{other}`"),
            });
        }
    };
    Ok(ImportOptions {
        format,
        source: source.name.clone(),
        label: None,
        hh_side,
        skip_invalid: source.skip_invalid,
        mapping,
        ..ImportOptions::default()
    })
}

/// What one source contributed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceReport {
    /// The records' source name.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The format it was read as.
    pub format: String,
    /// Records imported.
    pub imported: usize,
    /// Rows left out as invalid (with `skip_invalid`).
    pub rejected: usize,
    /// Records that passed the filters.
    pub passed_filters: usize,
    /// Records taken (after count / fraction), before the mixture's dedup.
    pub taken: usize,
}

/// What [`mix`] did: per source, per label, what dedup removed, and the resolved recipe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixReport {
    /// The recipe file.
    pub recipe_path: PathBuf,
    /// The seed used.
    pub seed: u64,
    /// Records in the mixture.
    pub total: usize,
    /// Per source, in recipe order.
    pub sources: Vec<SourceReport>,
    /// Output records per source name.
    pub by_source: BTreeMap<String, usize>,
    /// Output records per label.
    pub by_label: BTreeMap<String, usize>,
    /// Output records per source name and label.
    pub by_source_label: BTreeMap<String, BTreeMap<String, usize>>,
    /// Records dedup removed.
    pub duplicates: Vec<Duplicate>,
    /// The recipe as run (paths resolved).
    pub recipe: Recipe,
}

/// A mixture: its records and its report.
#[derive(Debug, Clone)]
pub struct Mixture {
    /// The records, in output order.
    pub examples: Vec<Example>,
    /// What was done.
    pub report: MixReport,
}

/// Loads the recipe at `path` ([`load_recipe`]) and builds the mixture: per source, import,
/// hash split, filter, count or fraction, label and novel overrides; then dedup, the split
/// name, and the shuffle.
///
/// # Errors
/// As [`load_recipe`]; import errors naming the file; [`DataError::Recipe`] when a source has
/// fewer records than its `count` or nothing passes its filters, and when the mixture is empty.
pub fn mix(path: &Path) -> Result<Mixture> {
    let recipe = load_recipe(path)?;
    let bad = |message: String| DataError::Recipe {
        path: path.to_path_buf(),
        message,
    };
    let mut all = Vec::new();
    let mut sources = Vec::new();
    for (i, spec) in recipe.sources.iter().enumerate() {
        let imported = import_file(&spec.path, &options(spec)?)?;
        let format = imported
            .formats
            .first()
            .map_or("?".into(), |(_, f)| f.to_string());
        let n_imported = imported.examples.len();
        let mut examples = imported.examples;
        if let Some(split) = &spec.hash_split {
            assign_splits(&mut examples, split.seed, &fractions(split), split.key)?;
        }
        examples.retain(|e| spec.filter.keeps(e));
        let passed = examples.len();
        let at = |message: String| bad(format!("source {} ({}): {message}", i + 1, spec.path.display()));
        if passed == 0 {
            return Err(at(format!("none of {n_imported} records passes the filter")));
        }
        let wanted = match (spec.count, spec.fraction) {
            (Some(n), _) if n > passed => {
                return Err(at(format!(
                    "count {n}, but only {passed} records pass the filter"
                )));
            }
            (Some(n), _) => n,
            (None, Some(f)) => (f * passed as f64).floor() as usize,
            (None, None) => passed,
        };
        let mut examples = sample(examples, wanted, recipe.seed);
        for e in &mut examples {
            if let Some(label) = spec.label {
                e.label = label;
            }
            e.novel |= spec.novel;
        }
        sources.push(SourceReport {
            name: spec.name.clone().unwrap_or_else(|| {
                examples.first().map(|e| e.source.clone()).unwrap_or_else(|| {
                    spec.path
                        .file_stem()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned()
                })
            }),
            path: spec.path.clone(),
            format,
            imported: n_imported,
            rejected: imported.rejects.len(),
            passed_filters: passed,
            taken: examples.len(),
        });
        all.extend(examples);
    }
    let (mut examples, duplicates) = dedup(all, recipe.dedup == DedupMode::Content);
    if examples.is_empty() {
        return Err(bad("the mixture is empty".to_string()));
    }
    if let Some(split) = &recipe.set_split {
        for e in &mut examples {
            e.split = Some(split.clone());
        }
    }
    if recipe.shuffle {
        shuffle(&mut examples, recipe.seed);
    }
    let mut by_source: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_label: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_source_label: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for e in &examples {
        *by_source.entry(e.source.clone()).or_default() += 1;
        *by_label.entry(e.label.to_string()).or_default() += 1;
        *by_source_label
            .entry(e.source.clone())
            .or_default()
            .entry(e.label.to_string())
            .or_default() += 1;
    }
    let report = MixReport {
        recipe_path: path.to_path_buf(),
        seed: recipe.seed,
        total: examples.len(),
        sources,
        by_source,
        by_label,
        by_source_label,
        duplicates,
        recipe,
    };
    Ok(Mixture { examples, report })
}

/// The conventional report path of a mixture: `OUT.parquet` -> `OUT.mix.json`.
pub fn mix_report_path(out: &Path) -> PathBuf {
    out.with_extension("mix.json")
}

/// Writes a [`MixReport`] as pretty JSON, atomically.
///
/// # Errors
/// [`DataError::Write`] naming the file.
pub fn write_mix_report(path: &Path, report: &MixReport) -> Result<()> {
    write_atomic(path, |file| {
        serde_json::to_writer_pretty(&mut *file, report).map_err(|e| DataError::Write {
            path: path.to_path_buf(),
            source: e.into(),
        })
    })
}
