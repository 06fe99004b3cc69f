//! One module per subcommand, each with an `exec` that calls library functions.

mod ablate;
mod bench;
mod data;
mod finetune;
mod generate;
mod judge;
mod model;
mod select;

use std::path::{Path, PathBuf};

use crate::cli::Command;

pub fn run(command: Command, quiet: bool) -> anyhow::Result<()> {
    match command {
        Command::Generate(args) => generate::exec(args),
        Command::Model(cmd) => model::exec(cmd),
        Command::Bench(cmd) => bench::exec(cmd),
        Command::Data(cmd) => data::exec(cmd),
        Command::Finetune(args) => finetune::exec(*args),
        Command::Select(args) => select::exec(*args),
        Command::Demo(args) => ablate::exec_demo(args, quiet),
        Command::Ablate(args) => ablate::exec(args, quiet),
        Command::Judge(args) => judge::exec(*args),
        Command::Completions(args) => {
            use clap::CommandFactory;
            let mut command = crate::cli::Cli::command();
            clap_complete::generate(args.shell, &mut command, "seal", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// Where `path` points once it exists: the canonical path of a file that exists, else its
/// canonical parent joined with its name, so an output not yet written compares with the inputs.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let parent = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// Refuses an output that is one of the inputs, or the same file as another output (after
/// links and `..`): writing it would destroy what is being read, or one output would silently
/// replace another. Nothing is written when this fails.
pub fn refuse_aliases(inputs: &[&Path], outputs: &[(&str, &Path)]) -> anyhow::Result<()> {
    for (i, (flag, out)) in outputs.iter().enumerate() {
        let target = resolved(out);
        if let Some(input) = inputs.iter().find(|input| resolved(input) == target) {
            anyhow::bail!(
                "{flag} {} is the input {}: refusing to overwrite what is being read",
                out.display(),
                input.display()
            );
        }
        if let Some((other, _)) = outputs[..i].iter().find(|(_, o)| resolved(o) == target) {
            anyhow::bail!(
                "{flag} {} is also {other}: give each output its own path",
                out.display()
            );
        }
    }
    Ok(())
}

/// Where a stage computes: `cpu` (NdArray + OpenBLAS) or `cuda` (a build with the `cuda` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The CPU backend.
    Cpu,
    /// The first CUDA device.
    #[cfg(feature = "cuda")]
    Cuda,
}

impl std::str::FromStr for Device {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "cpu" => Ok(Self::Cpu),
            #[cfg(feature = "cuda")]
            "cuda" => Ok(Self::Cuda),
            #[cfg(not(feature = "cuda"))]
            "cuda" => {
                anyhow::bail!("this seal was built without CUDA: rebuild with `--features seal-cli/cuda`")
            }
            other => anyhow::bail!("unknown --device `{other}`: expected `cpu` or `cuda`"),
        }
    }
}

/// Runs a generic stage on the chosen device, with the given CPU and CUDA backend types.
#[doc(hidden)]
#[macro_export]
macro_rules! on_backend {
    ($cpu:ty, $cuda:ty, $device:expr, $($stage:ident)::+, $($arg:expr),* $(,)?) => {
        match $device {
            $crate::commands::Device::Cpu => $($stage)::+::<$cpu>(
                $($arg,)* &seal_models::backend::cpu_device(),
            ),
            #[cfg(feature = "cuda")]
            $crate::commands::Device::Cuda => $($stage)::+::<$cuda>(
                $($arg,)* &seal_models::backend::cuda_device(),
            ),
        }
    };
}

/// Runs a generic training stage on the chosen device's autodiff backend.
#[macro_export]
macro_rules! on_train_device {
    ($($t:tt)*) => {
        $crate::on_backend!(seal_models::backend::CpuTrain, seal_models::backend::CudaTrain, $($t)*)
    };
}

/// Runs a generic inference stage on the chosen device's backend.
#[macro_export]
macro_rules! on_device {
    ($($t:tt)*) => {
        $crate::on_backend!(seal_models::backend::Cpu, seal_models::backend::Cuda, $($t)*)
    };
}
