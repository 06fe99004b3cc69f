//! The backend choice, one alias per feature, so the rest of the workspace never names a backend.
//!
//! CPU: Burn's NdArray backend with the system OpenBLAS for its matmuls (the default
//! `openblas` feature; Debian's `libopenblas-dev`). Measured on the 2-core bench machine with
//! `seal bench train-step` (README, "Backends"): NdArray beat Flex (DESIGN section 9), OpenBLAS
//! beat NdArray's built-in matrixmultiply, and [`tune_allocator`] removed the page-fault cost
//! of glibc handing every large tensor back to the kernel. The CubeCL `cpu` backend cannot
//! build offline.
//! CUDA: Burn's CUDA backend behind the `cuda` feature.

use burn::backend::Autodiff;
/// The backend traits, so callers can be generic over CPU and CUDA without depending on Burn.
pub use burn::tensor::backend::{AutodiffBackend, Backend};

/// The inference backend on CPU.
#[cfg(not(feature = "flex"))]
pub type Cpu = burn::backend::NdArray<f32>;

/// The inference backend on CPU.
#[cfg(feature = "flex")]
pub type Cpu = burn::backend::Flex<f32>;

/// The name of [`Cpu`], as benchmarks report it.
pub const CPU_BACKEND: &str = if cfg!(feature = "flex") {
    "flex-f32 (gemm, x86-v4)"
} else if cfg!(feature = "openblas") {
    "ndarray-f32 + openblas"
} else {
    "ndarray-f32"
};

/// The training backend on CPU (reverse-mode autodiff over [`Cpu`]).
pub type CpuTrain = Autodiff<Cpu>;

/// The inference backend on CUDA.
#[cfg(feature = "cuda")]
pub type Cuda = burn::backend::Cuda<f32, i32>;

/// The training backend on CUDA.
#[cfg(feature = "cuda")]
pub type CudaTrain = Autodiff<Cuda>;

/// The first CUDA device.
#[cfg(feature = "cuda")]
pub fn cuda_device() -> burn::backend::cuda::CudaDevice {
    Default::default()
}

/// The default device of the CPU backend.
pub fn cpu_device() -> burn::tensor::Device<Cpu> {
    Default::default()
}

/// Seeds the backend's random generator (weight initialisation), so a fresh model is the same
/// on every run with the same seed.
pub fn seed<B: Backend>(device: &B::Device, seed: u64) {
    B::seed(device, seed);
}

/// Peak resident memory of this process in bytes (`VmHWM` from `/proc/self/status`), the CPU
/// measure of peak memory (DESIGN section 7). `None` where `/proc` is unavailable.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Keeps freed tensor memory in the process instead of returning it to the kernel.
///
/// Burn allocates a fresh buffer for nearly every op. glibc serves buffers above its mmap
/// threshold with `mmap` and unmaps them on free, so every large op paid for zeroed pages and
/// page faults (about a quarter of a training step in `perf`). Turning off mmap-backed
/// allocations and heap trimming lets freed buffers be reused; peak RSS is unchanged in the
/// benchmark. Call once at start-up, before any threads allocate; a no-op off glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before other threads
    // start allocating, as glibc recommends.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
