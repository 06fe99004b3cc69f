//! The pipeline behind the `seal` binary: its stages as library calls (`stages`: select,
//! fine-tune, generate, each a typed spec in and files in a run folder out), the ablation runner
//! that keys, schedules and reports them (`ablate`, also `seal demo`), and the progress and
//! metrics streams every long command shares (`progress`), and the benchmarks that run a
//! process per mode (`bench`).
//!
//! It lives in the binary's package rather than a crate of its own because the runner starts
//! each training stage as a child process of this same binary (`seal select --spec ...
//! --resume`, see [`ablate`]): the runner and the binary's command line are one contract, kept
//! in one package. The binary (`main.rs`, `cli.rs`, `commands/`) only parses arguments and calls
//! in here or into the crates below.

pub mod ablate;
pub mod bench;
pub mod progress;
pub mod stages;

/// Set by `seal ablate` on the stage processes it starts: the pid they must not outlive.
pub const PARENT_PID_ENV: &str = "SEAL_PARENT_PID";
