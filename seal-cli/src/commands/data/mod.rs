//! `seal data`: import source files into canonical records, inspect a record file, tokenize
//! records into a training table, build a mixture from a recipe, join two sides into preference
//! pairs. One file per subcommand.

mod import;
mod inspect;
mod mix;
mod pairs;
mod tokenize;

use std::collections::BTreeMap;

use anyhow::bail;

use crate::cli::DataCommand;

pub fn exec(command: DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Import(args) => import::exec(*args),
        DataCommand::Inspect(args) => inspect::exec(args),
        DataCommand::Tokenize(args) => tokenize::exec(args),
        DataCommand::Mix(args) => mix::exec(args),
        DataCommand::Pairs(args) => pairs::exec(args),
    }
}

fn print_counts(what: &str, counts: &BTreeMap<String, usize>) {
    println!("by {what}:");
    for (key, n) in counts {
        println!("  {n:>7}  {key}");
    }
}

/// The file kind follows `--out`'s extension; any other extension (`out.txt`) is refused before
/// any work, rather than silently given Parquet bytes.
fn check_extension(out: &std::path::Path, allowed: &[&str]) -> anyhow::Result<()> {
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("");
    if allowed.iter().any(|a| ext.eq_ignore_ascii_case(a)) {
        return Ok(());
    }
    let list: Vec<String> = allowed.iter().map(|a| format!(".{a}")).collect();
    bail!(
        "--out {}: the output is written as {}; give it that extension",
        out.display(),
        list.join(" or ")
    )
}
