//! The measurements behind `seal bench` that need more than one call into seal-models: each
//! figure whose peak RSS matters comes from a process of its own (the allocator keeps freed
//! memory, and peak RSS is a process-wide high-water mark), so these start this same binary
//! once per mode or phase and read the JSON it prints.

pub mod data;
pub mod select;

use std::ffi::OsString;

use anyhow::{Context, bail};

/// Runs `seal <args>` (this executable) and parses the one JSON value it prints.
fn run_self(args: &[OsString], what: &str) -> anyhow::Result<serde_json::Value> {
    let exe = std::env::current_exe().context("locating the seal binary")?;
    let out = std::process::Command::new(exe)
        .args(args)
        .output()
        .with_context(|| format!("running the {what} benchmark"))?;
    if !out.status.success() {
        bail!(
            "{what} benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| format!("reading the {what} benchmark's output"))
}
