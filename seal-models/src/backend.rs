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

/// Where a stage computes, as the CLI and plans name it: `cpu` (the [`Cpu`] backend) or `cuda`
/// (the first CUDA device). Parsed once at the boundary; serialised as that same word, so a
/// plan's JSON is unchanged by the type. Both names parse in every build, so a CPU build still
/// reads (and checks) a CUDA plan; [`Device::ensure_built`] is the check that this build can run
/// on it, made before any work starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The CPU backend.
    #[default]
    Cpu,
    /// The first CUDA device (a build with the `cuda` feature).
    Cuda,
}

/// A device name this build cannot compute on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeviceError(String);

impl DeviceError {
    /// `cuda` in a build without the `cuda` feature.
    pub fn not_built() -> Self {
        Self("this seal was built without CUDA: rebuild with `--features seal-cli/cuda`".into())
    }
}

impl Device {
    /// The name the CLI and plans use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        }
    }

    /// The device, if this build can compute on it.
    ///
    /// # Errors
    /// [`DeviceError::not_built`] for `cuda` in a build without the `cuda` feature.
    pub fn ensure_built(self) -> Result<Self, DeviceError> {
        match self {
            Self::Cuda if !cfg!(feature = "cuda") => Err(DeviceError::not_built()),
            device => Ok(device),
        }
    }

    /// Parses a device name and checks that this build can compute on it (the CLI's parser).
    ///
    /// # Errors
    /// An unknown name, or `cuda` in a build without it.
    pub fn parse_built(name: &str) -> Result<Self, DeviceError> {
        name.parse::<Self>()?.ensure_built()
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Device {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            other => Err(DeviceError(format!(
                "unknown device `{other}`: expected `cpu` or `cuda`"
            ))),
        }
    }
}

impl serde::Serialize for Device {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Device {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

// Device dispatch: a stage generic over the backend runs on the CPU or CUDA backend the
// `Device` names. These are macros, not functions, because each stage has its own signature.
// They expand in the caller's crate, so `cfg(feature = "cuda")` there is the caller's feature:
// seal-cli's `cuda` turns on this crate's, and the two always agree.

/// Runs a generic stage on the chosen device, with the given CPU and CUDA backend types.
#[doc(hidden)]
#[macro_export]
macro_rules! on_backend {
    ($cpu:ty, $cuda:ty, $device:expr, $($stage:ident)::+, $($arg:expr),* $(,)?) => {
        match $device {
            $crate::backend::Device::Cpu => $($stage)::+::<$cpu>(
                $($arg,)* &$crate::backend::cpu_device(),
            ),
            #[cfg(feature = "cuda")]
            $crate::backend::Device::Cuda => $($stage)::+::<$cuda>(
                $($arg,)* &$crate::backend::cuda_device(),
            ),
            #[cfg(not(feature = "cuda"))]
            $crate::backend::Device::Cuda => Err($crate::backend::DeviceError::not_built().into()),
        }
    };
}

/// Runs a generic training stage on the chosen device's autodiff backend.
#[macro_export]
macro_rules! on_train_device {
    ($($t:tt)*) => {
        $crate::on_backend!($crate::backend::CpuTrain, $crate::backend::CudaTrain, $($t)*)
    };
}

/// Runs a generic inference stage on the chosen device's backend.
#[macro_export]
macro_rules! on_device {
    ($($t:tt)*) => {
        $crate::on_backend!($crate::backend::Cpu, $crate::backend::Cuda, $($t)*)
    };
}

/// A tensor's values on the host as f32: the one copy back from a device outside the fused CPU
/// kernels (which move buffers without copying). It waits for the backend to finish.
pub fn host_f32<B: Backend, const D: usize>(t: burn::tensor::Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("f32 data after convert")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_reads_and_writes_as_the_word_plans_use() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda);
        assert_eq!(serde_json::to_string(&Device::Cuda).unwrap(), r#""cuda""#);
        assert_eq!(serde_json::from_str::<Device>(r#""cpu""#).unwrap(), Device::Cpu);
        let err = "gpu".parse::<Device>().unwrap_err().to_string();
        assert!(err.contains("`gpu`") && err.contains("`cpu` or `cuda`"), "{err}");
        let err = serde_json::from_str::<Device>(r#""tpu""#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`tpu`"), "{err}");
    }

    #[test]
    fn cuda_is_refused_before_any_work_by_a_build_without_it() {
        assert_eq!(Device::parse_built("cpu").unwrap(), Device::Cpu);
        let cuda = Device::parse_built("cuda");
        if cfg!(feature = "cuda") {
            assert_eq!(cuda.unwrap(), Device::Cuda);
        } else {
            assert!(cuda.unwrap_err().to_string().contains("--features seal-cli/cuda"));
        }
    }
}
