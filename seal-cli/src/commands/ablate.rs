//! `seal ablate` and `seal demo`.

use crate::cli::{AblateArgs, DemoArgs};
use seal_cli::ablate::{AblateOptions, demo, run_plan_file};

pub fn exec(args: AblateArgs, quiet: bool) -> anyhow::Result<()> {
    let options = AblateOptions {
        resume: args.resume,
        quiet,
    };
    let report = run_plan_file(&args.plan, &args.out, &options)?;
    println!("{}", report.display());
    Ok(())
}

pub fn exec_demo(args: DemoArgs, quiet: bool) -> anyhow::Result<()> {
    let options = AblateOptions {
        resume: args.resume,
        quiet,
    };
    let plan = if args.quick {
        demo::DemoPlan::Quick
    } else if args.with_options {
        demo::DemoPlan::WithOptions
    } else if args.diagnostics {
        demo::DemoPlan::Diagnostics
    } else {
        demo::DemoPlan::Default
    };
    let report = demo::run(&args.out, plan, &options)?;
    println!("{}", report.display());
    Ok(())
}
