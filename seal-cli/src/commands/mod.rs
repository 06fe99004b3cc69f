//! One module per subcommand, each with an `exec` that calls library functions.

mod ablate;
mod bench;
mod data;
mod finetune;
mod generate;
mod judge;
mod model;
mod select;

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
    }
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
