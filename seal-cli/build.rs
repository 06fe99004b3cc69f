//! Records the git commit `seal --version` prints (`unknown` outside a git checkout, e.g. a
//! crates.io source or a tarball).

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SEAL_GIT_COMMIT={commit}");
    // A new commit (or a branch switch) reruns this; other builds reuse the recorded one.
    for file in ["../.git/HEAD", "../.git/refs/heads", "../.git/packed-refs"] {
        println!("cargo:rerun-if-changed={file}");
    }
}
