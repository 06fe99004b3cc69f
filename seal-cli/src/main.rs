//! `seal`: keep an aligned LLM safe while it is fine-tuned (SEAL, Shen et al., ICLR 2025).
//!
//! Each subcommand is a thin `exec` over library calls; errors print as `error: ...` with their
//! context chain and exit non-zero.

mod ablate;
mod cli;
mod commands;
mod logging;
mod stages;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    seal_models::backend::tune_allocator();
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
