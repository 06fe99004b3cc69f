//! The generation-record schema: one JSON line per (model, prompt) output, the input of every
//! judge. Whoever samples the outputs writes these; seal-eval only needs the schema, so two
//! files of them and a judge are enough for win rates (DESIGN section 6).

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::jsonl::{read_jsonl, write_jsonl};

/// One model output for one evaluation prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationRecord {
    /// Id of the prompt, unique within its set; candidate and reference files are joined on
    /// (`set`, `prompt_id`).
    pub prompt_id: String,
    /// Evaluation set (`hh`, `general`, `catqa`, ...).
    pub set: String,
    /// Harm category of the prompt, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Which model produced the output (a name or folder).
    pub model: String,
    /// Sampler seed.
    pub seed: u64,
    /// Decoding settings, as the generator recorded them (a JSON object).
    pub settings: serde_json::Value,
    /// The prompt text, without any template.
    pub prompt: String,
    /// The model's answer.
    pub output: String,
}

/// Reads a generations file; ids must be unique per set and `settings` must be an object.
///
/// # Errors
/// [`EvalError::Json`] (malformed row or missing field, with its line), [`EvalError::Field`],
/// [`EvalError::DuplicatePrompt`], [`EvalError::Empty`] for a file without records.
pub fn read_generations(path: &Path) -> Result<Vec<GenerationRecord>> {
    let rows: Vec<(usize, GenerationRecord)> = read_jsonl(path)?;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for (line, record) in rows {
        let field = |field, reason: &str| EvalError::Field {
            path: path.to_path_buf(),
            line,
            field,
            reason: reason.to_string(),
        };
        if record.prompt_id.is_empty() {
            return Err(field("prompt_id", "must not be empty"));
        }
        if record.set.is_empty() {
            return Err(field("set", "must not be empty"));
        }
        if !record.settings.is_object() {
            return Err(field("settings", "must be a JSON object"));
        }
        if !seen.insert((record.set.clone(), record.prompt_id.clone())) {
            return Err(EvalError::DuplicatePrompt {
                path: path.to_path_buf(),
                line,
                set: record.set,
                prompt_id: record.prompt_id,
            });
        }
        out.push(record);
    }
    Ok(out)
}

/// Writes a generations file atomically.
///
/// # Errors
/// I/O errors naming `path`.
pub fn write_generations(path: &Path, records: &[GenerationRecord]) -> Result<()> {
    write_jsonl(path, records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, set: &str) -> GenerationRecord {
        GenerationRecord {
            prompt_id: id.into(),
            set: set.into(),
            category: Some("Malware".into()),
            model: "m".into(),
            seed: 3,
            settings: serde_json::json!({"top_p": 0.9}),
            prompt: "p".into(),
            output: "o".into(),
        }
    }

    #[test]
    fn generations_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.jsonl");
        let records = vec![record("1", "hh"), record("1", "catqa")];
        write_generations(&path, &records).unwrap();
        assert_eq!(read_generations(&path).unwrap(), records);
    }

    #[test]
    fn a_bad_row_names_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.jsonl");
        let good = serde_json::to_string(&record("1", "hh")).unwrap();
        std::fs::write(
            &path,
            format!("{good}\n\n{{\"prompt_id\": \"2\", \"set\": \"hh\"}}\n"),
        )
        .unwrap();
        let err = read_generations(&path).unwrap_err();
        let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(msg.contains("g.jsonl:3") && msg.contains("model"), "{msg}");
    }

    #[test]
    fn duplicates_empty_files_and_non_object_settings_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.jsonl");
        write_generations(&path, &[record("1", "hh"), record("1", "hh")]).unwrap();
        assert!(matches!(
            read_generations(&path),
            Err(EvalError::DuplicatePrompt { line: 2, .. })
        ));
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(read_generations(&path), Err(EvalError::Empty { .. })));
        let mut bad = record("1", "hh");
        bad.settings = serde_json::json!(7);
        write_generations(&path, &[bad]).unwrap();
        let err = read_generations(&path).unwrap_err().to_string();
        assert!(err.contains("g.jsonl:1") && err.contains("settings"), "{err}");
    }
}
