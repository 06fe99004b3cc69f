//! One module per subcommand, each with an `exec` that calls library functions.

mod bench;
mod data;
mod generate;
mod model;

use crate::cli::Command;

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Generate(args) => generate::exec(args),
        Command::Model(cmd) => model::exec(cmd),
        Command::Bench(cmd) => bench::exec(cmd),
        Command::Data(cmd) => data::exec(cmd),
    }
}
