//! `seal judge`: win rates of a candidate against a reference; `seal judge train`: fit a
//! reward-model judge on preference pairs; `seal judge refusals`: check the refusal detector.

mod refusals;
mod train;

use anyhow::{Context, bail};
use seal_eval::{
    BootstrapSettings, JudgeRunSettings, JudgeSpec, judge_files_with, load_judge_cached, write_reports,
};

use crate::cli::{JudgeArgs, JudgeCommand};

pub fn exec(args: JudgeArgs) -> anyhow::Result<()> {
    match args.command {
        Some(JudgeCommand::Train(args)) => return train::exec(args),
        Some(JudgeCommand::Refusals(args)) => return refusals::exec(args),
        None => {}
    }
    // clap requires these without a subcommand.
    let (Some(candidate), Some(reference), Some(judge), Some(out)) =
        (args.candidate, args.reference, args.judge, args.out)
    else {
        bail!("--candidate, --reference, --judge and --out are required");
    };
    let mut spec: JudgeSpec = judge.parse()?;
    match &mut spec {
        JudgeSpec::Http(http) => {
            http.api_key_env = args.api_key_env;
            http.ca_file = args.ca_file;
            if let Some(t) = args.timeout_s {
                http.timeout_s = t;
            }
        }
        _ if args.api_key_env.is_some() || args.ca_file.is_some() || args.timeout_s.is_some() => {
            bail!("--api-key-env, --ca-file and --timeout-s apply to an http: judge only")
        }
        _ => {}
    }
    let cache = matches!(spec, JudgeSpec::Http(_)).then(|| seal_eval::judge::http::default_cache(&out));
    if cache.is_some() {
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    }
    let mut judge =
        load_judge_cached(&spec, cache.as_deref()).with_context(|| format!("loading judge {judge}"))?;
    let settings = JudgeRunSettings {
        bootstrap: BootstrapSettings {
            resamples: args.resamples,
            seed: args.seed,
            ..BootstrapSettings::default()
        },
        batch_size: args.batch_size,
    };
    // The total (two comparisons per prompt) is known once the files are paired.
    let mut bar: Option<seal_cli::progress::Progress> = None;
    let run = judge_files_with(
        &candidate,
        &reference,
        judge.as_mut(),
        &settings,
        &mut |done, total| {
            bar.get_or_insert_with(|| {
                seal_cli::progress::Progress::new("judge", "comparisons", Some(total as u64))
            })
            .set_position(done as u64);
        },
    )
    .with_context(|| format!("judging {} against {}", candidate.display(), reference.display()))?;
    write_reports(&out, &run).with_context(|| format!("writing reports to {}", out.display()))?;
    print!("{}", seal_eval::report::to_markdown(&run));
    Ok(())
}
