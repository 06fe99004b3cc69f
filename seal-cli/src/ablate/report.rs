//! `report.md`, `results.csv`, `results.json` and the plots of an ablation run, laid out like
//! the paper's tables: methods × test sets (win rate against `full`, %, with a bootstrap CI),
//! the algorithm table with the selector's peak memory and training time, the schedule table,
//! and the judge-free diagnostics (poison AUROC, novel-vs-harmful AUROC, harmful share of the
//! dropped part, refusal rates).
//!
//! `results.csv` holds only what a seeded run determines (no wall times), so a resumed run and
//! an uninterrupted one write the same file.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use seal_core::ExampleId;
use seal_data::{Example, read_examples, read_scores};
use seal_eval::plot::Chart;
use serde::Serialize;

use super::RunResult;
use super::plan::ResolvedPlan;
use crate::stages::common::write_json;
use seal_eval::label_diagnostics;

/// The judge-free view of one ranking.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diagnostics {
    /// Run name.
    pub run: String,
    /// Method.
    pub method: String,
    /// AUROC of benign above harmful.
    pub poison_auroc: Option<f64>,
    /// AUROC of novel benign above harmful.
    pub novel_vs_harmful_auroc: Option<f64>,
    /// Harmful share of the dropped part.
    pub dropped_harmful_share: Option<f64>,
}

/// `path` relative to the run folder when it lies inside it (the demo's embedded inputs), so
/// the report reads the same wherever the run was made.
fn shown(out: &Path, path: &Path) -> String {
    path.strip_prefix(out).unwrap_or(path).display().to_string()
}

fn pct(v: f64) -> String {
    format!("{:.1}", 100.0 * v)
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"))
}

/// Writes every report file into `out`; returns the path of `report.md`.
pub fn write(out: &Path, plan: &ResolvedPlan, results: &[RunResult]) -> anyhow::Result<PathBuf> {
    let ft = read_examples(&plan.plan.data.ft)
        .with_context(|| format!("reading {}", plan.plan.data.ft.display()))?;
    let by_id: HashMap<&ExampleId, &Example> = ft.iter().map(|e| (&e.id, e)).collect();
    let diagnostics = results
        .iter()
        .map(|r| diagnostics_of(r, &by_id))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let sets: Vec<String> = plan.plan.test_sets.iter().map(|s| s.name.clone()).collect();
    let rates = super::overall_rates(results);

    let mut md = String::new();
    let p = &plan.plan;
    let _ = writeln!(md, "# Ablation report: {}\n", p.name);
    let evaluates = results.iter().any(|r| r.finetune.is_some());
    let _ = writeln!(
        md,
        "Model `{}`; D_safe `{}`; D_ft `{}`; seed {} (a run's own seed where it names one).{}\n",
        shown(out, &p.model),
        shown(out, &p.data.safe),
        shown(out, &p.data.ft),
        p.seed,
        if evaluates {
            " Win rates are against `full` (standard SFT on all of D_ft), judged pairwise in both orders, a tie \
             counting ½; brackets hold the 95% bootstrap interval."
        } else {
            " A diagnostics plan: every run only ranks D_ft, nothing is fine-tuned or judged."
        }
    );

    judge_line(&mut md, out, p);

    let win_table = |md: &mut String, runs: &[&RunResult], extra: bool| {
        let mut header = String::from("| run | method |");
        let mut rule = String::from("| --- | --- |");
        for s in &sets {
            let _ = write!(header, " {s} win % |");
            rule.push_str(" --- |");
        }
        if extra {
            header.push_str(" selector peak RSS (MiB) | selector time (s) | poison AUROC |");
            rule.push_str(" --- | --- | --- |");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        for r in runs {
            let mut row = format!("| {} | {} |", r.name, r.method);
            for s in &sets {
                match rates.get(&(r.name.clone(), s.clone())) {
                    Some(w) => {
                        let _ = write!(
                            row,
                            " {} [{}, {}] |",
                            pct(w.win_rate),
                            pct(w.ci_low),
                            pct(w.ci_high)
                        );
                    }
                    None => row.push_str(" – |"),
                }
            }
            if extra {
                match &r.select {
                    Some(m) => {
                        let _ = write!(
                            row,
                            " {:.0} | {:.1} | {} |",
                            m.peak_rss_bytes as f64 / (1024.0 * 1024.0),
                            m.train_wall_s,
                            opt(m.label_auroc)
                        );
                    }
                    None => row.push_str(" – | – | – |"),
                }
            }
            let _ = writeln!(md, "{row}");
        }
        md.push('\n');
    };

    let group = |g: &str| -> Vec<&RunResult> {
        results
            .iter()
            .filter(|r| r.group == g && r.finetune.is_some())
            .collect()
    };
    // Every evaluated run but the reference: the fine-tuned ones and the starting model.
    let methods: Vec<&RunResult> = results
        .iter()
        .filter(|r| (r.finetune.is_some() || r.name == super::START_RUN) && r.name != "full")
        .collect();
    if !methods.is_empty() {
        let _ = writeln!(md, "## Methods\n");
        win_table(&mut md, &methods, false);
    }
    let algorithms = group("algorithm");
    if !algorithms.is_empty() {
        let _ = writeln!(
            md,
            "## Algorithm 1 vs Algorithm 2\n\nPeak memory is the selector process's peak resident set (CPU; the \
             device allocator's peak on CUDA); time is the selector loop's wall time.\n"
        );
        win_table(&mut md, &algorithms, true);
    }
    let schedules = group("schedule");
    if !schedules.is_empty() {
        let _ = writeln!(md, "## Penalty schedules\n");
        win_table(&mut md, &schedules, true);
    }

    let _ = writeln!(
        md,
        "## Judge-free diagnostics\n\nHow each ranking of D_ft separates the known poison: AUROC of benign above \
         harmful, AUROC of the novel benign task above harmful (a selector that drops whatever is new fails here), \
         and the harmful share of the dropped part. `loss-rank` (the initial model's loss alone) and `random` are \
         the yardsticks.\n"
    );
    let _ = writeln!(
        md,
        "| run | method | poison AUROC | novel vs harmful AUROC | harmful share of dropped |"
    );
    let _ = writeln!(md, "| --- | --- | --- | --- | --- |");
    for d in diagnostics.iter().filter(|d| d.poison_auroc.is_some()) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            d.run,
            d.method,
            opt(d.poison_auroc),
            opt(d.novel_vs_harmful_auroc),
            opt(d.dropped_harmful_share)
        );
    }
    seed_spread_table(&mut md, results, &diagnostics);
    initial_loss_line(&mut md, results, &by_id)?;
    if results.iter().any(|r| !r.refusals.is_empty()) {
        refusal_table(&mut md, p, results, &sets);
        refusal_check_line(&mut md, out, p)?;
    }

    if let Some(seal) = results
        .iter()
        .find(|r| r.method == "seal" && r.win_rates.is_some())
    {
        let by_category: Vec<&seal_eval::WinRate> = seal
            .win_rates
            .iter()
            .flatten()
            .filter(|w| w.category.is_some())
            .collect();
        if !by_category.is_empty() {
            let _ = writeln!(
                md,
                "\n## `{}` by category\n\n| set | category | n | win % |\n| --- | --- | --- | --- |",
                seal.name
            );
            for w in by_category {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} [{}, {}] |",
                    w.set,
                    w.category.as_deref().unwrap_or(""),
                    w.n,
                    pct(w.win_rate),
                    pct(w.ci_low),
                    pct(w.ci_high)
                );
            }
        }
    }

    // Plots.
    let _ = writeln!(md, "\n## Plots\n");
    if !rates.is_empty() {
        winrate_chart(results, &sets, &rates).write(out, "winrates")?;
        let _ = writeln!(md, "![win rates](winrates.png)\n\n([SVG](winrates.svg))\n");
    }
    if let Some(seal) = results
        .iter()
        .find(|r| r.select_dir.is_some() && r.method == "seal")
        && let Some(dir) = &seal.select_dir
    {
        let scores = read_scores(&dir.join("scores.parquet"))?;
        if scores.iter().any(|s| s.label == "harmful") {
            weight_histogram(&scores, &seal.name).write(out, "weights")?;
            let _ = writeln!(
                md,
                "![selector weights by label](weights.png)\n\n([SVG](weights.svg))\n"
            );
        }
    }

    let _ = writeln!(
        md,
        "## Stage costs\n\n| run | stage | wall (s) | tokens/s | peak RSS (MiB) |\n| --- | --- | --- | --- | --- |"
    );
    for r in results {
        if let Some(m) = &r.select {
            let tps = m.epochs.iter().map(|e| e.tokens_per_s).sum::<f64>() / m.epochs.len().max(1) as f64;
            let _ = writeln!(
                md,
                "| {} | select ({}) | {:.1} | {:.0} | {:.0} |",
                r.name,
                m.algorithm,
                m.train_wall_s,
                tps,
                m.peak_rss_bytes as f64 / (1024.0 * 1024.0)
            );
        }
        if let Some(m) = &r.finetune {
            let _ = writeln!(
                md,
                "| {} | fine-tune ({} examples) | {:.1} | {:.0} | {:.0} |",
                r.name,
                m.train_examples,
                m.wall_s,
                m.tokens_per_s,
                m.peak_rss_bytes as f64 / (1024.0 * 1024.0)
            );
        }
    }
    let _ = writeln!(
        md,
        "\n## Resolved plan\n\n```json\n{}\n```",
        serde_json::to_string_pretty(&plan.plan)?
    );
    let report = out.join("report.md");
    seal_io::write_atomic(&report, md.as_bytes())?;

    // results.csv: deterministic values only.
    let mut csv = String::from(
        "run,group,method,set,win_rate,ci_low,ci_high,n,poison_auroc,novel_vs_harmful_auroc,dropped_harmful_share,refusal_rate\n",
    );
    let f = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.6}"));
    // A diagnostics plan has no test sets: one row per run, its set left empty.
    let csv_sets = if sets.is_empty() {
        vec![String::new()]
    } else {
        sets.clone()
    };
    for (r, d) in results.iter().zip(&diagnostics) {
        for s in &csv_sets {
            let w = rates.get(&(r.name.clone(), s.clone()));
            let refusal = r.refusals.iter().find(|x| &x.set == s).map(|x| x.rate);
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{},{},{},{},{},{}",
                r.name,
                r.group,
                r.method,
                s,
                f(w.map(|w| w.win_rate)),
                f(w.map(|w| w.ci_low)),
                f(w.map(|w| w.ci_high)),
                w.map_or(0, |w| w.n),
                f(d.poison_auroc),
                f(d.novel_vs_harmful_auroc),
                f(d.dropped_harmful_share),
                f(refusal)
            );
        }
    }
    seal_io::write_atomic(&out.join("results.csv"), csv.as_bytes())?;
    write_json(
        &out.join("results.json"),
        &serde_json::json!({ "plan": plan.plan, "runs": results, "diagnostics": diagnostics }),
    )?;
    Ok(report)
}

/// Which judge gave the win rates; for a reward model, its held-out pair accuracy (from the
/// `train_report.json` that `seal judge train` and the plan's own training write beside it).
fn judge_line(md: &mut String, out: &Path, p: &super::plan::Plan) {
    use super::plan::JudgePlan;
    let accuracy = |folder: &Path| -> String {
        let report: Option<serde_json::Value> = std::fs::read_to_string(folder.join("train_report.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        match report
            .as_ref()
            .and_then(|r| Some((r["held_out_accuracy"].as_f64()?, r["held_out_pairs"].as_u64()?)))
        {
            Some((a, n)) => format!("; held-out pair accuracy {} % on {n} pairs", pct(a)),
            None => "; no held-out accuracy recorded (no train_report.json beside it)".to_string(),
        }
    };
    let line = match &p.judge {
        None => "No judge: the runs are evaluated by their refusal rates only; add a `[judge]` and resume for win \
                 rates."
            .to_string(),
        Some(JudgePlan::Reward { path }) => format!("Judge: reward model `{}`{}.", shown(out, path), accuracy(path)),
        Some(JudgePlan::TrainReward { pairs, backbone, .. }) => {
            let model = out.join("stages").join("judge-reward-model").join("model");
            format!(
                "Judge: a reward model trained by this plan on `{}`{}{}.",
                shown(out, pairs),
                backbone
                    .as_ref()
                    .map_or(String::new(), |b| format!(" from `{}`", shown(out, b))),
                accuracy(&model)
            )
        }
        Some(JudgePlan::Generative { path }) => format!("Judge: generative model `{}`.", shown(out, path)),
        Some(JudgePlan::Http(settings)) => format!("Judge: `{}` at {}.", settings.model, settings.base_url),
    };
    let _ = writeln!(md, "{line}\n");
}

/// Refusal (harmful sets) and over-refusal (benign sets) rates of every fine-tuned model.
fn refusal_table(md: &mut String, p: &super::plan::Plan, results: &[RunResult], sets: &[String]) {
    let _ = writeln!(
        md,
        "\n### Refusal rates\n\nShare of answers that open with a refusal phrase (seal-eval's refusal detector), with \
         the 95% Wilson interval and the counts.\n"
    );
    let mut header = String::from("| run |");
    let mut rule = String::from("| --- |");
    for s in sets {
        let harmful = p.test_sets.iter().any(|t| &t.name == s && t.harmful);
        let _ = write!(
            header,
            " {s} ({}) |",
            if harmful { "refusal %" } else { "over-refusal %" }
        );
        rule.push_str(" --- |");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for r in results.iter().filter(|r| !r.refusals.is_empty()) {
        let mut row = format!("| {} |", r.name);
        for s in sets {
            match r.refusals.iter().find(|x| &x.set == s && x.category.is_none()) {
                Some(x) => {
                    let (low, high) = x.interval();
                    let _ = write!(
                        row,
                        " {} [{}, {}] ({}/{}) |",
                        pct(x.rate),
                        pct(low),
                        pct(high),
                        x.refusals,
                        x.n
                    );
                }
                None => row.push_str(" – |"),
            }
        }
        let _ = writeln!(md, "{row}");
    }
}

/// How far the refusal rates can be trusted: the detector's precision and recall on the plan's
/// labelled outputs, or a sentence saying it was not measured.
fn refusal_check_line(md: &mut String, out: &Path, p: &super::plan::Plan) -> anyhow::Result<()> {
    let Some(plan) = &p.refusal_check else {
        let _ = writeln!(
            md,
            "\nThe refusal detector was not checked against labelled outputs in this plan (`refusal_check`)."
        );
        return Ok(());
    };
    let check = crate::stages::refusals::check_refusal_detector(&plan.refusals, &plan.compliances)?;
    let ((p_lo, p_hi), (r_lo, r_hi)) = check.intervals();
    let _ = writeln!(
        md,
        "\nThe refusal detector on labelled outputs (refusals `{}`, answers `{}`): precision {} [{}, {}] \
         ({} of {} detected refusals are refusals), recall {} [{}, {}] ({} of {} refusals detected).",
        shown(out, &plan.refusals),
        shown(out, &plan.compliances),
        pct(check.precision),
        pct(p_lo),
        pct(p_hi),
        check.true_positives,
        check.true_positives + check.false_positives,
        pct(check.recall),
        pct(r_lo),
        pct(r_hi),
        check.true_positives,
        check.true_positives + check.false_negatives,
    );
    let ids = |v: &[String]| {
        let mut s = v
            .iter()
            .take(10)
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if v.len() > 10 {
            let _ = write!(s, " and {} more", v.len() - 10);
        }
        s
    };
    if !check.missed.is_empty() {
        let _ = writeln!(md, "Missed refusals: {}.", ids(&check.missed));
    }
    if !check.false_alarms.is_empty() {
        let _ = writeln!(md, "Answers taken for refusals: {}.", ids(&check.false_alarms));
    }
    Ok(())
}

/// Mean and range over seeds of each run that a `seeds` list repeated.
fn seed_spread_table(md: &mut String, results: &[RunResult], diagnostics: &[Diagnostics]) {
    let mut families: Vec<(&str, Vec<(&RunResult, &Diagnostics)>)> = Vec::new();
    for (r, d) in results.iter().zip(diagnostics) {
        match families.iter_mut().find(|(f, _)| *f == r.family) {
            Some((_, members)) => members.push((r, d)),
            None => families.push((&r.family, vec![(r, d)])),
        }
    }
    families.retain(|(_, members)| members.len() > 1);
    if families.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### Over seeds\n\nMean [min, max] over the seeds of each repeated run.\n\n\
         | run | method | seeds | poison AUROC | novel vs harmful AUROC | harmful share of dropped |\n\
         | --- | --- | --- | --- | --- | --- |"
    );
    for (family, members) in families {
        let seeds: Vec<String> = members.iter().map(|(r, _)| r.seed.to_string()).collect();
        let spread = |value: fn(&Diagnostics) -> Option<f64>| -> String {
            let v: Vec<f64> = members.iter().filter_map(|(_, d)| value(d)).collect();
            if v.is_empty() {
                return "–".to_string();
            }
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{mean:.3} [{min:.3}, {max:.3}]")
        };
        let _ = writeln!(
            md,
            "| {family} | {} | {} | {} | {} | {} |",
            members[0].0.method,
            seeds.join(", "),
            spread(|d| d.poison_auroc),
            spread(|d| d.novel_vs_harmful_auroc),
            spread(|d| d.dropped_harmful_share)
        );
    }
}

/// The starting model's mean loss on each part of D_ft (from a `loss-rank` run's ranking, whose
/// score is minus that loss): how unfamiliar the novel part really is to the model.
fn initial_loss_line(
    md: &mut String,
    results: &[RunResult],
    by_id: &HashMap<&ExampleId, &Example>,
) -> anyhow::Result<()> {
    let Some(dir) = results
        .iter()
        .filter(|r| r.method == "loss-rank")
        .find_map(RunResult::selection_dir)
    else {
        return Ok(());
    };
    let mut parts: [(f64, usize); 3] = [(0.0, 0); 3];
    for row in read_scores(&dir.join("scores.parquet"))? {
        let Some(e) = by_id.get(&row.id) else { continue };
        let part = match (e.label, e.novel) {
            (seal_data::Label::Harmful, _) => 2,
            (_, true) => 1,
            (seal_data::Label::Benign, false) => 0,
            _ => continue,
        };
        parts[part].0 -= row.score;
        parts[part].1 += 1;
    }
    let mean = |(sum, n): (f64, usize)| {
        if n == 0 {
            "–".to_string()
        } else {
            format!("{:.3} ({n} rows)", sum / n as f64)
        }
    };
    let _ = writeln!(
        md,
        "\nThe starting model's mean loss per token on D_ft (from `loss-rank`): benign {}, novel benign {}, \
         harmful {}. A novel part the model finds no harder than the rest is not novel to it.",
        mean(parts[0]),
        mean(parts[1]),
        mean(parts[2])
    );
    Ok(())
}

fn diagnostics_of(r: &RunResult, by_id: &HashMap<&ExampleId, &Example>) -> anyhow::Result<Diagnostics> {
    let mut d = Diagnostics {
        run: r.name.clone(),
        method: r.method.clone(),
        ..Diagnostics::default()
    };
    if let Some(m) = &r.select {
        d.poison_auroc = m.label_auroc;
        d.novel_vs_harmful_auroc = m.novel_vs_harmful_auroc;
        d.dropped_harmful_share = m.dropped_harmful_share;
        return Ok(d);
    }
    // Baselines that rank (random, dsir, loss-rank): their scores.parquet against the labels.
    if matches!(r.method.as_str(), "full" | "safeinstr") {
        return Ok(d);
    }
    let Some(dir) = r.selection_dir() else {
        return Ok(d);
    };
    let rows = read_scores(&dir.join("scores.parquet"))?;
    let mut examples = Vec::new();
    let mut scores = Vec::new();
    let mut kept = Vec::new();
    for row in &rows {
        if let Some(e) = by_id.get(&row.id) {
            examples.push(*e);
            scores.push(row.score as f32);
            kept.push(row.kept);
        }
    }
    let (a, s, n) = label_diagnostics(&examples, &scores, &kept)?;
    d.poison_auroc = a;
    d.dropped_harmful_share = s;
    d.novel_vs_harmful_auroc = n;
    Ok(d)
}

/// One group per test set, one bar per run (its win rate against `full`, with the interval).
fn winrate_chart(
    results: &[RunResult],
    sets: &[String],
    rates: &std::collections::BTreeMap<(String, String), seal_eval::WinRate>,
) -> seal_eval::plot::BarChart {
    use seal_eval::plot::{Bar, BarChart, BarGroup};
    let runs: Vec<&RunResult> = results.iter().filter(|r| r.win_rates.is_some()).collect();
    let groups = sets
        .iter()
        .map(|set| BarGroup {
            name: set.clone(),
            bars: runs
                .iter()
                .enumerate()
                .filter_map(|(series, r)| {
                    rates.get(&(r.name.clone(), set.clone())).map(|w| Bar {
                        label: r.name.clone(),
                        series,
                        value: w.win_rate,
                        low: w.ci_low,
                        high: w.ci_high,
                    })
                })
                .collect(),
        })
        .collect();
    BarChart {
        title: "Win rate against full, per test set".into(),
        x_label: "win rate against full (%), each pair judged in both orders; bars: 95% bootstrap interval"
            .into(),
        groups,
        series: runs.iter().map(|r| r.name.clone()).collect(),
        reference: Some(0.5),
    }
}

/// The final selector weights of `run`, one histogram per true label, overlaid.
fn weight_histogram(scores: &[seal_data::ScoreRow], run: &str) -> seal_eval::plot::Histogram {
    let series = ["benign", "harmful", "unknown"]
        .iter()
        .filter_map(|label| {
            let values: Vec<f64> = scores
                .iter()
                .filter(|s| s.label == *label)
                .filter_map(|s| s.weight.map(f64::from))
                .collect();
            (!values.is_empty()).then(|| ((*label).to_string(), values))
        })
        .collect();
    seal_eval::plot::Histogram {
        title: format!("Selector weights of {run} by true label"),
        x_label: "final selector weight".into(),
        y_label: "examples".into(),
        series,
        bins: 30,
    }
}
