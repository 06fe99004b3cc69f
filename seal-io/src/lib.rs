//! Atomic file output, the one way seal writes a result: write to a temporary file beside the
//! target, then rename, so a crash or an error never leaves a half-written file where a complete
//! one is expected. A crate of its own so that the model, evaluation and CLI crates share it
//! without any of them depending on another for a file utility. (seal-data's table writers
//! stream row groups through `tempfile` instead; ARCHITECTURE.md, "Writes are atomic".)

use std::io::Write;
use std::path::{Path, PathBuf};

/// A file or folder seal could not write, read or remove.
#[derive(Debug, thiserror::Error)]
#[error("cannot access {path}")]
pub struct IoError {
    /// The file or folder.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// An error naming `path`.
    pub fn new(path: &Path, source: std::io::Error) -> Self {
        Self {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// seal-io's result type.
pub type Result<T> = std::result::Result<T, IoError>;

/// Writes `bytes` to `path` atomically (temp file in the same folder + rename).
///
/// # Errors
/// [`IoError`] naming `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        IoError::new(path, e)
    })
}

/// Serialises `value` as pretty JSON to `path` atomically.
///
/// # Errors
/// [`IoError`] naming `path`.
pub fn write_json_atomic(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value always serialises");
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Whether `name` is one of [`write_atomic`]'s temporary files (`.NAME.PID.tmp`) or one of
/// the `tempfile` crate's (`.tmpXXXXXX`, as seal-data's table writers make).
fn is_atomic_temp(name: &str) -> bool {
    if let Some(rest) = name.strip_prefix(".tmp")
        && rest.len() == 6
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return true;
    }
    let Some(stem) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    stem.rsplit_once('.')
        .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes the temporary files a killed writer left under `dir` (recursively): a resumed run
/// starts from its last complete checkpoint and must not carry a half-written file along.
/// Returns how many were removed.
///
/// # Errors
/// [`IoError`] naming the folder or file.
pub fn remove_stale_temp_files(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries {
        let entry = entry.map_err(|e| IoError::new(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| IoError::new(&path, e))?;
        if kind.is_dir() {
            removed += remove_stale_temp_files(&path)?;
        } else if kind.is_file() && is_atomic_temp(&entry.file_name().to_string_lossy()) {
            std::fs::remove_file(&path).map_err(|e| IoError::new(&path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_temp_files_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("checkpoints/epoch-0001");
        std::fs::create_dir_all(&sub).unwrap();
        for name in [
            ".model.safetensors.4242.tmp",
            ".tmpAb12Cd",
            "state.json",
            ".hidden",
            "x.tmp",
            ".a.b.tmp",
        ] {
            std::fs::write(sub.join(name), "x").unwrap();
        }
        std::fs::write(dir.path().join(".scores.parquet.7.tmp"), "x").unwrap();
        assert_eq!(remove_stale_temp_files(dir.path()).unwrap(), 3);
        let mut left: Vec<String> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".a.b.tmp", ".hidden", "state.json", "x.tmp"]);
    }
}
