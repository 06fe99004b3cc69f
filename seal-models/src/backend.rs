//! The backend choice, one alias per feature, so the rest of the workspace never names a backend.
//!
//! CPU: Burn's NdArray backend. Measured on the 2-core bench machine (DESIGN section 9, and
//! `seal bench train-step`): NdArray trains the bench model at about 520 tokens/s where Flex
//! manages about 375; the CubeCL `cpu` backend cannot build offline. The `openblas` feature
//! links Debian's system OpenBLAS into NdArray's matmul (see the README for the measurement).
//! CUDA: Burn's CUDA backend behind the `cuda` feature.

use burn::backend::Autodiff;

/// The inference backend on CPU.
pub type Cpu = burn::backend::NdArray<f32>;

/// The training backend on CPU (reverse-mode autodiff over [`Cpu`]).
pub type CpuTrain = Autodiff<Cpu>;

/// The inference backend on CUDA.
#[cfg(feature = "cuda")]
pub type Cuda = burn::backend::Cuda<f32, i32>;

/// The training backend on CUDA.
#[cfg(feature = "cuda")]
pub type CudaTrain = Autodiff<Cuda>;

/// The default device of the CPU backend.
pub fn cpu_device() -> burn::backend::ndarray::NdArrayDevice {
    Default::default()
}

/// Peak resident memory of this process in bytes (`VmHWM` from `/proc/self/status`), the CPU
/// measure of peak memory (DESIGN section 7). `None` where `/proc` is unavailable.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
