//! Log setup: `RUST_LOG` filters (default `info`), `--quiet` keeps warnings only (and hides
//! every progress report).

use tracing_subscriber::EnvFilter;

pub fn init(quiet: bool) {
    seal_cli::progress::init(quiet);
    let default = if quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Through the progress bar, if one is drawn: a log line goes above it, not through it.
        .with_writer(|| seal_cli::progress::LogWriter)
        .with_target(false)
        .try_init();
}
