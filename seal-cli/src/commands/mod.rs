//! One module per subcommand, each with an `exec` that calls library functions.

mod ablate;
mod bench;
mod data;
mod dpo;
mod finetune;
mod generate;
mod judge;
mod model;
mod select;

use std::path::{Path, PathBuf};

use crate::cli::Command;

pub fn run(command: Command, quiet: bool) -> anyhow::Result<()> {
    match command {
        Command::Generate(args) => generate::exec(args),
        Command::Model(cmd) => model::exec(cmd),
        Command::Bench(cmd) => bench::exec(cmd),
        Command::Data(cmd) => data::exec(cmd),
        Command::Finetune(args) => finetune::exec(*args),
        Command::Dpo(args) => dpo::exec(*args),
        Command::Select(args) => select::exec(*args),
        Command::Demo(args) => ablate::exec_demo(args, quiet),
        Command::Ablate(args) => ablate::exec(args, quiet),
        Command::Judge(args) => judge::exec(*args),
        Command::Completions(args) => {
            use clap::CommandFactory;
            let mut command = crate::cli::Cli::command();
            clap_complete::generate(args.shell, &mut command, "seal", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// Where `path` points once it exists: the canonical path of a file that exists, else its
/// canonical parent joined with its name, so an output not yet written compares with the inputs.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let parent = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// Refuses an output that is one of the inputs, or the same file as another output (after
/// links and `..`): writing it would destroy what is being read, or one output would silently
/// replace another. Nothing is written when this fails.
pub fn refuse_aliases(inputs: &[&Path], outputs: &[(&str, &Path)]) -> anyhow::Result<()> {
    for (i, (flag, out)) in outputs.iter().enumerate() {
        let target = resolved(out);
        if let Some(input) = inputs.iter().find(|input| resolved(input) == target) {
            anyhow::bail!(
                "{flag} {} is the input {}: refusing to overwrite what is being read",
                out.display(),
                input.display()
            );
        }
        if let Some((other, _)) = outputs[..i].iter().find(|(_, o)| resolved(o) == target) {
            anyhow::bail!(
                "{flag} {} is also {other}: give each output its own path",
                out.display()
            );
        }
    }
    Ok(())
}
