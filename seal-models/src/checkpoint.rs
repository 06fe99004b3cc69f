//! Training checkpoints: a module's parameters and an optimizer's state as Burn records
//! (named MessagePack, full precision), written atomically.
//!
//! Records keep each parameter's `ParamId`, and Adam's state is keyed by those ids, so a model
//! and its optimizer restored from one checkpoint continue exactly where they stopped: a resumed
//! run matches an uninterrupted one bit for bit. (HF safetensors, the export format, keeps
//! neither the ids nor the optimizer.)

use std::path::Path;

use burn::module::Module;
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use seal_io::write_atomic;

use crate::error::{ModelError, Result};

type Rec = NamedMpkBytesRecorder<FullPrecisionSettings>;

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> ModelError {
    ModelError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| ModelError::io(path, e))
}

/// Writes `module`'s parameters (with their ids) to `path`.
///
/// # Errors
/// [`ModelError::Io`] or [`ModelError::Checkpoint`] naming `path`.
pub fn save_module<B: Backend, M: Module<B>>(module: &M, path: &Path) -> Result<()> {
    let bytes = Recorder::<B>::record(&Rec::default(), module.clone().into_record(), ())
        .map_err(|e| corrupt(path, e))?;
    write_atomic(path, &bytes)?;
    Ok(())
}

/// Loads parameters written by [`save_module`] into `skeleton` (a module of the same shape).
///
/// # Errors
/// [`ModelError::Io`], or [`ModelError::Checkpoint`] if the file is not such a record.
pub fn load_module<B: Backend, M: Module<B>>(skeleton: M, path: &Path, device: &B::Device) -> Result<M> {
    let record = Recorder::<B>::load(&Rec::default(), read(path)?, device).map_err(|e| corrupt(path, e))?;
    Ok(skeleton.load_record(record))
}

/// Writes an optimizer's state to `path`.
///
/// # Errors
/// [`ModelError::Io`] or [`ModelError::Checkpoint`] naming `path`.
pub fn save_optimizer<B, M, O>(optim: &O, path: &Path) -> Result<()>
where
    B: AutodiffBackend,
    M: burn::module::AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let bytes =
        Recorder::<B>::record(&Rec::default(), optim.to_record(), ()).map_err(|e| corrupt(path, e))?;
    write_atomic(path, &bytes)?;
    Ok(())
}

/// Restores an optimizer's state written by [`save_optimizer`].
///
/// # Errors
/// [`ModelError::Io`], or [`ModelError::Checkpoint`] if the file is not such a record.
pub fn load_optimizer<B, M, O>(optim: O, path: &Path, device: &B::Device) -> Result<O>
where
    B: AutodiffBackend,
    M: burn::module::AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let record = Recorder::<B>::load(&Rec::default(), read(path)?, device).map_err(|e| corrupt(path, e))?;
    Ok(optim.load_record(record))
}
