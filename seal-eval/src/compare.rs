//! Candidate against reference: join two generation files on (set, prompt id), judge every pair
//! in both orders and compute win rates. This is all a caller with two JSONL files and a judge
//! needs (the `seal judge` command and the ablation runner call it).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::generations::{GenerationRecord, read_generations};
use crate::judge::{Judge, PairItem, prefer_batched};
use crate::winrate::{BootstrapSettings, Order, Verdict, WinRate, win_rates};

/// Settings of a judging run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeRunSettings {
    /// Bootstrap of the confidence intervals (its seed is the run's seed).
    pub bootstrap: BootstrapSettings,
    /// Comparisons handed to the judge at once.
    pub batch_size: usize,
}

impl Default for JudgeRunSettings {
    fn default() -> Self {
        Self {
            bootstrap: BootstrapSettings::default(),
            batch_size: 16,
        }
    }
}

/// Everything a judging run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeRun {
    /// The judge's name.
    pub judge: String,
    /// The candidate's model name(s), from its records.
    pub candidate: String,
    /// The reference's model name(s).
    pub reference: String,
    /// Two verdicts per prompt.
    pub verdicts: Vec<Verdict>,
    /// Per set and per (set, category).
    pub win_rates: Vec<WinRate>,
    /// The settings used.
    pub settings: JudgeRunSettings,
}

const LISTED: usize = 8;

fn model_names(records: &[GenerationRecord]) -> String {
    let mut names: Vec<&str> = records.iter().map(|r| r.model.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}

/// Joins candidate and reference records on (set, prompt id).
///
/// # Errors
/// [`EvalError::PromptMismatch`] naming the keys found on one side only,
/// [`EvalError::PromptTextMismatch`] when an id carries two different prompts.
pub fn pair_records<'a>(
    candidate: &'a [GenerationRecord],
    reference: &'a [GenerationRecord],
) -> Result<Vec<(&'a GenerationRecord, &'a GenerationRecord)>> {
    let key = |r: &GenerationRecord| (r.set.clone(), r.prompt_id.clone());
    let refs: BTreeMap<_, _> = reference.iter().map(|r| (key(r), r)).collect();
    let cands: BTreeMap<_, _> = candidate.iter().map(|r| (key(r), r)).collect();
    let show = |(set, id): &(String, String)| format!("{set}/{id}");
    let only_candidate: Vec<String> = cands
        .keys()
        .filter(|k| !refs.contains_key(*k))
        .map(show)
        .collect();
    let only_reference: Vec<String> = refs
        .keys()
        .filter(|k| !cands.contains_key(*k))
        .map(show)
        .collect();
    if !only_candidate.is_empty() || !only_reference.is_empty() {
        let cut = |mut v: Vec<String>| {
            let more = v.len().saturating_sub(LISTED);
            v.truncate(LISTED);
            if more > 0 {
                v.push(format!("... {more} more"));
            }
            v
        };
        return Err(EvalError::PromptMismatch {
            only_candidate: cut(only_candidate),
            only_reference: cut(only_reference),
        });
    }
    candidate
        .iter()
        .map(|c| {
            let r = refs[&key(c)];
            if r.prompt != c.prompt {
                return Err(EvalError::PromptTextMismatch {
                    set: c.set.clone(),
                    prompt_id: c.prompt_id.clone(),
                });
            }
            Ok((c, r))
        })
        .collect()
}

/// Judges candidate against reference records in both orders and computes win rates.
///
/// # Errors
/// As [`pair_records`], the judge's errors, and [`win_rates`]' errors.
pub fn judge_generations(
    candidate: &[GenerationRecord],
    reference: &[GenerationRecord],
    judge: &mut dyn Judge,
    settings: &JudgeRunSettings,
) -> Result<JudgeRun> {
    judge_generations_with(candidate, reference, judge, settings, &mut |_, _| {})
}

/// [`judge_generations`], calling `on_progress(done, total)` after every batch of comparisons
/// (two per prompt).
///
/// # Errors
/// As [`judge_generations`].
pub fn judge_generations_with(
    candidate: &[GenerationRecord],
    reference: &[GenerationRecord],
    judge: &mut dyn Judge,
    settings: &JudgeRunSettings,
    on_progress: &mut dyn FnMut(usize, usize),
) -> Result<JudgeRun> {
    let pairs = pair_records(candidate, reference)?;
    if pairs.is_empty() {
        return Err(EvalError::invalid("generations", "there are no prompts to judge"));
    }
    let mut items = Vec::with_capacity(2 * pairs.len());
    for (c, r) in &pairs {
        items.push(PairItem {
            prompt: c.prompt.clone(),
            answer_a: c.output.clone(),
            answer_b: r.output.clone(),
        });
        items.push(PairItem {
            prompt: c.prompt.clone(),
            answer_a: r.output.clone(),
            answer_b: c.output.clone(),
        });
    }
    tracing::info!(prompts = pairs.len(), judge = judge.name(), "judging both orders");
    let mut p_a = Vec::with_capacity(items.len());
    // Batches of whole prompts (both orders), so progress counts comparisons that are done.
    let batch = settings.batch_size.max(1);
    for chunk in items.chunks(batch) {
        p_a.extend(prefer_batched(judge, chunk, batch)?);
        on_progress(p_a.len(), items.len());
    }
    let mut verdicts = Vec::with_capacity(items.len());
    for ((c, _), p) in pairs.iter().zip(p_a.chunks_exact(2)) {
        for (order, preference) in [(Order::CandidateFirst, p[0]), (Order::ReferenceFirst, 1.0 - p[1])] {
            verdicts.push(Verdict {
                set: c.set.clone(),
                prompt_id: c.prompt_id.clone(),
                category: c.category.clone(),
                order,
                preference,
            });
        }
    }
    let win_rates = win_rates(&verdicts, &settings.bootstrap)?;
    Ok(JudgeRun {
        judge: judge.name(),
        candidate: model_names(candidate),
        reference: model_names(reference),
        verdicts,
        win_rates,
        settings: settings.clone(),
    })
}

/// [`judge_generations`] on two generation files.
///
/// # Errors
/// File errors (naming file and line), an empty file, mismatched prompts, judge errors.
pub fn judge_files(
    candidate: &Path,
    reference: &Path,
    judge: &mut dyn Judge,
    settings: &JudgeRunSettings,
) -> Result<JudgeRun> {
    judge_files_with(candidate, reference, judge, settings, &mut |_, _| {})
}

/// [`judge_files`] with [`judge_generations_with`]'s progress callback.
///
/// # Errors
/// As [`judge_files`].
pub fn judge_files_with(
    candidate: &Path,
    reference: &Path,
    judge: &mut dyn Judge,
    settings: &JudgeRunSettings,
    on_progress: &mut dyn FnMut(usize, usize),
) -> Result<JudgeRun> {
    let c = read_generations(candidate)?;
    let r = read_generations(reference)?;
    judge_generations_with(&c, &r, judge, settings, on_progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A judge that prefers the longer answer, with a bias towards whatever is shown first.
    struct Longer;
    impl Judge for Longer {
        fn name(&self) -> String {
            "longer".into()
        }
        fn prefer(&mut self, items: &[PairItem]) -> Result<Vec<f64>> {
            Ok(items
                .iter()
                .map(|i| match i.answer_a.len().cmp(&i.answer_b.len()) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Less => 0.2,
                    std::cmp::Ordering::Equal => 0.5,
                })
                .collect())
        }
    }

    fn rec(id: &str, output: &str) -> GenerationRecord {
        GenerationRecord {
            prompt_id: id.into(),
            set: "s".into(),
            category: None,
            model: "m".into(),
            seed: 0,
            settings: serde_json::json!({}),
            prompt: format!("prompt {id}"),
            output: output.into(),
        }
    }

    #[test]
    fn both_orders_are_judged_and_flipped_into_candidate_preferences() {
        let cand = [rec("1", "long answer"), rec("2", "x"), rec("3", "same")];
        let refr = [rec("1", "short"), rec("2", "longer"), rec("3", "same")];
        let run = judge_generations(&cand, &refr, &mut Longer, &JudgeRunSettings::default()).unwrap();
        assert_eq!(run.verdicts.len(), 6);
        let p = |id: &str, order| {
            run.verdicts
                .iter()
                .find(|v| v.prompt_id == id && v.order == order)
                .unwrap()
                .preference
        };
        assert_eq!(p("1", Order::CandidateFirst), 1.0);
        assert_eq!(p("1", Order::ReferenceFirst), 0.8);
        assert_eq!(p("2", Order::CandidateFirst), 0.2);
        assert_eq!(p("2", Order::ReferenceFirst), 0.0);
        assert_eq!(p("3", Order::ReferenceFirst), 0.5);
        let all = &run.win_rates[0];
        assert!((all.win_rate - (0.9 + 0.1 + 0.5) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn mismatched_prompt_ids_are_named() {
        let cand = [rec("1", "a"), rec("9", "b")];
        let refr = [rec("1", "a"), rec("2", "b")];
        let err = judge_generations(&cand, &refr, &mut Longer, &JudgeRunSettings::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("s/9") && err.contains("s/2"), "{err}");
        let mut other = rec("1", "a");
        other.prompt = "another prompt".into();
        let err = judge_generations(
            &[other],
            &[rec("1", "a")],
            &mut Longer,
            &JudgeRunSettings::default(),
        )
        .unwrap_err();
        assert!(matches!(err, EvalError::PromptTextMismatch { .. }), "{err}");
    }
}
