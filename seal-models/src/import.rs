//! `seal model import-gguf`: a GGUF file becomes a complete Hugging Face folder
//! (`config.json`, `model.safetensors`, `tokenizer.json`, `tokenizer_config.json`,
//! `generation_config.json`) that seal and `transformers` both load.

use std::path::Path;

use seal_io::{write_atomic, write_json_atomic};
use serde_json::json;

use crate::error::{ModelError, Result};
use crate::gguf::import_gguf;
use crate::hf::weights::{SAFETENSORS_FILE, build_llama, write_safetensors};
use crate::llama::config::{HfLlamaConfig, LlamaConfig};

/// The files an import writes: all that `--force` may replace.
pub const IMPORT_FILES: [&str; 5] = [
    SAFETENSORS_FILE,
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "generation_config.json",
];

/// `--force` replaces a folder of an earlier import, nothing else: a folder holding any other
/// entry (a user's notes, another model's shards, a sub-folder) or a file in its place is
/// refused before anything is read or written.
fn check_replaceable(out: &Path) -> Result<()> {
    if !out.is_dir() {
        return Err(ModelError::OutputFolder(format!(
            "{} exists and is not a folder: refusing to replace it",
            out.display()
        )));
    }
    let entries = std::fs::read_dir(out).map_err(|e| ModelError::io(out, e))?;
    let mut foreign = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ModelError::io(out, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().map_err(|e| ModelError::io(out, e))?.is_file();
        if !(is_file && IMPORT_FILES.contains(&name.as_str())) {
            foreign.push(name);
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    Err(ModelError::OutputFolder(format!(
        "{} holds files an import does not write ({}): --force replaces only an imported model \
         folder; move them or choose another --out",
        out.display(),
        foreign.join(", ")
    )))
}

/// Imports `gguf` into the folder `out`, written in a temporary sibling folder and renamed into
/// place, so a failure never leaves a half-written model. Returns key facts for logging.
///
/// # Errors
/// A malformed GGUF file, an existing `out` without `force` (or, with it, one that holds
/// anything but an earlier import's [`IMPORT_FILES`]), or I/O errors, each named.
pub fn import_gguf_folder(gguf: &Path, out: &Path, force: bool) -> Result<Vec<(String, String)>> {
    if out.exists() && !force {
        return Err(ModelError::OutputFolder(format!(
            "output folder {} exists (pass --force to replace it)",
            out.display()
        )));
    }
    if out.exists() {
        check_replaceable(out)?;
    }
    let import = import_gguf(gguf)?;
    let hf: HfLlamaConfig =
        serde_json::from_value(import.config.clone()).map_err(|source| ModelError::Json {
            path: gguf.to_path_buf(),
            source,
        })?;
    // Check the config and every tensor before writing anything.
    let config = LlamaConfig::from_hf(&hf, gguf)?;
    build_llama::<crate::backend::Cpu>(&config, import.tensors.clone(), &crate::backend::cpu_device())?;

    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let staging = parent.join(format!(".{name}.{}.partial", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| ModelError::io(&staging, e))?;
    let written = (|| -> Result<()> {
        write_safetensors(&staging.join(SAFETENSORS_FILE), &import.tensors)?;
        write_json_atomic(&staging.join("config.json"), &import.config)?;
        write_atomic(&staging.join("tokenizer.json"), import.tokenizer_json.as_bytes())?;
        write_json_atomic(&staging.join("tokenizer_config.json"), &import.tokenizer_config)?;
        let generation = json!({
            "bos_token_id": import.config.get("bos_token_id"),
            "eos_token_id": import.config.get("eos_token_id"),
        });
        write_json_atomic(&staging.join("generation_config.json"), &generation)?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| ModelError::io(out, e))?;
    }
    std::fs::rename(&staging, out).map_err(|e| ModelError::io(out, e))?;
    Ok(import.metadata_summary)
}
