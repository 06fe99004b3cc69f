//! One module per subcommand, each with an `exec` that calls library functions.

mod ablate;
mod bench;
mod data;
mod finetune;
mod generate;
mod judge;
mod model;
mod select;

use crate::cli::Command;

pub fn run(command: Command, quiet: bool) -> anyhow::Result<()> {
    match command {
        Command::Generate(args) => generate::exec(args),
        Command::Model(cmd) => model::exec(cmd),
        Command::Bench(cmd) => bench::exec(cmd),
        Command::Data(cmd) => data::exec(cmd),
        Command::Finetune(args) => finetune::exec(*args),
        Command::Select(args) => select::exec(*args),
        Command::Demo(args) => ablate::exec_demo(args, quiet),
        Command::Ablate(args) => ablate::exec(args, quiet),
        Command::Judge(args) => judge::exec(*args),
    }
}
