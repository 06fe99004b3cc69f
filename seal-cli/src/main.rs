//! `seal`: keep an aligned LLM safe while it is fine-tuned (SEAL, Shen et al., ICLR 2025).
//!
//! Each subcommand is a thin `exec` over library calls; errors print as `error: ...` with their
//! context chain and exit non-zero.

mod cli;
mod commands;
mod logging;
mod version;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use seal_cli::PARENT_PID_ENV;

/// A stage process of `seal ablate` ends with its parent. Killed with -9, the parent cannot
/// stop it, and the orphan would train on for nobody and race a resumed run; re-parented, it
/// sees its parent id change and exits. Its outputs are written atomically, and a resumed run
/// clears any temporary file it was writing.
fn exit_with_parent() {
    let Some(parent) = std::env::var(PARENT_PID_ENV)
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    else {
        return;
    };
    std::thread::spawn(move || {
        loop {
            if std::os::unix::process::parent_id() != parent {
                eprintln!("seal: the ablation run (pid {parent}) ended; stopping this stage");
                std::process::exit(137);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
}

fn main() -> ExitCode {
    seal_models::backend::tune_allocator();
    exit_with_parent();
    let cli = cli::Cli::parse();
    logging::init(cli.quiet);
    match commands::run(cli.command, cli.quiet) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
