//! Reports of a judging run: `winrates.csv`, `winrates.json`, `winrates.md` (a table),
//! `winrates.svg` and `winrates.png` (a bar per set and per harm category with its bootstrap
//! interval, drawn by [`crate::plot`]) and `verdicts.jsonl`. Every file is written atomically.

use std::fmt::Write as _;
use std::path::Path;

use seal_io::{write_atomic, write_json_atomic};

use crate::compare::JudgeRun;
use crate::error::{EvalError, Result};
use crate::jsonl::write_jsonl;
use crate::plot::{Bar, BarChart, BarGroup, Chart};
use crate::winrate::WinRate;

/// Files [`write_reports`] writes.
pub const REPORT_FILES: [&str; 6] = [
    "winrates.csv",
    "winrates.json",
    "winrates.md",
    "winrates.svg",
    "winrates.png",
    "verdicts.jsonl",
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The win rates as CSV (`set,category,n,win_rate,ci_low,ci_high,wins,ties,losses`; the
/// whole-set rows have an empty category).
pub fn to_csv(rates: &[WinRate]) -> String {
    let mut out = String::from("set,category,n,win_rate,ci_low,ci_high,wins,ties,losses\n");
    for r in rates {
        let _ = writeln!(
            out,
            "{},{},{},{:.6},{:.6},{:.6},{},{},{}",
            csv_field(&r.set),
            csv_field(r.category.as_deref().unwrap_or("")),
            r.n,
            r.win_rate,
            r.ci_low,
            r.ci_high,
            r.wins,
            r.ties,
            r.losses
        );
    }
    out
}

/// The win rates as a markdown table (percentages, one decimal).
pub fn to_markdown(run: &JudgeRun) -> String {
    let mut out = format!(
        "Win rate of `{}` against `{}`, judged by `{}` in both orders (a tie counts 1/2); \
{:.0}% bootstrap intervals over prompts ({} resamples, seed {}).\n\n",
        run.candidate,
        run.reference,
        run.judge,
        run.settings.bootstrap.confidence * 100.0,
        run.settings.bootstrap.resamples,
        run.settings.bootstrap.seed,
    );
    out.push_str("| set | category | win rate % | CI % | n |\n| --- | --- | ---: | --- | ---: |\n");
    for r in &run.win_rates {
        let md = |s: &str| s.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.1}–{:.1} | {} |",
            md(&r.set),
            md(r.category.as_deref().unwrap_or("all")),
            r.win_rate * 100.0,
            r.ci_low * 100.0,
            r.ci_high * 100.0,
            r.n
        );
    }
    out
}

/// The win-rate chart of `run`: under each set's heading, the whole set (dark) and each harm
/// category (light), with the bootstrap intervals and a dashed line at ½ (a tie).
pub fn winrate_chart(run: &JudgeRun) -> BarChart {
    let mut groups: Vec<BarGroup> = Vec::new();
    for r in &run.win_rates {
        if groups.last().is_none_or(|g| g.name != r.set) {
            groups.push(BarGroup {
                name: r.set.clone(),
                bars: Vec::new(),
            });
        }
        let group = groups.last_mut().expect("a group was just pushed");
        group.bars.push(Bar {
            label: r.category.clone().unwrap_or_else(|| "whole set".into()),
            series: usize::from(r.category.is_some()),
            value: r.win_rate,
            low: r.ci_low,
            high: r.ci_high,
        });
    }
    let short = |s: &str| {
        if s.chars().count() > 40 {
            format!("{}…", s.chars().take(39).collect::<String>())
        } else {
            s.to_string()
        }
    };
    BarChart {
        title: format!(
            "Win rate of {} against {}",
            short(&run.candidate),
            short(&run.reference)
        ),
        x_label: format!(
            "win rate (%) judged by {} in both orders; bars: {:.0}% bootstrap interval",
            short(&run.judge),
            run.settings.bootstrap.confidence * 100.0
        ),
        groups,
        series: vec!["whole set".into(), "by harm category".into()],
        reference: Some(0.5),
    }
}

/// Writes every report file of `run` into `dir` (created if missing).
///
/// # Errors
/// I/O errors naming the file.
pub fn write_reports(dir: &Path, run: &JudgeRun) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
    write_atomic(&dir.join("winrates.csv"), to_csv(&run.win_rates).as_bytes())?;
    let json = serde_json::json!({
        "judge": run.judge,
        "candidate": run.candidate,
        "reference": run.reference,
        "settings": run.settings,
        "win_rates": run.win_rates,
    });
    write_json_atomic(&dir.join("winrates.json"), &json)?;
    write_atomic(&dir.join("winrates.md"), to_markdown(run).as_bytes())?;
    winrate_chart(run).write(dir, "winrates")?;
    write_jsonl(&dir.join("verdicts.jsonl"), &run.verdicts)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::JudgeRunSettings;

    fn rate(set: &str, category: Option<&str>, win_rate: f64) -> WinRate {
        WinRate {
            set: set.into(),
            category: category.map(str::to_string),
            n: 10,
            win_rate,
            ci_low: win_rate - 0.1,
            ci_high: win_rate + 0.05,
            wins: 5,
            ties: 2,
            losses: 3,
        }
    }

    fn run() -> JudgeRun {
        JudgeRun {
            judge: "reward:rm".into(),
            candidate: "seal".into(),
            reference: "full".into(),
            verdicts: Vec::new(),
            win_rates: vec![
                rate("catqa", None, 0.6),
                rate("catqa", Some("Fraud, Scams \"etc\""), 0.25),
                rate("hh", None, 0.5),
            ],
            settings: JudgeRunSettings::default(),
        }
    }

    #[test]
    fn csv_quotes_fields_and_markdown_shows_percentages() {
        let csv = to_csv(&run().win_rates);
        assert!(
            csv.contains("catqa,\"Fraud, Scams \"\"etc\"\"\",10,0.250000,0.150000,0.300000,5,2,3"),
            "{csv}"
        );
        assert!(csv.contains("hh,,10,0.500000"), "{csv}");
        let md = to_markdown(&run());
        assert!(md.contains("| catqa | all | 60.0 | 50.0–65.0 | 10 |"), "{md}");
    }

    #[test]
    fn the_chart_has_a_heading_per_set_and_a_row_per_rate() {
        let chart = winrate_chart(&run());
        assert_eq!(
            crate::plot::describe(&chart),
            "catqa / whole set: 60.0\ncatqa / Fraud, Scams \"etc\": 25.0\nhh / whole set: 50.0\n"
        );
        assert_eq!(
            chart.groups[0].bars[1].series, 1,
            "categories in the light series"
        );
        let svg = chart.to_svg().unwrap();
        assert!(
            svg.contains("Fraud, Scams &quot;etc&quot;") || svg.contains("Fraud, Scams \"etc\""),
            "{svg}"
        );
        assert!(svg.contains("Win rate of seal against full"), "{svg}");
    }
}
