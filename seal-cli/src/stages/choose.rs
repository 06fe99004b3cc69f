//! Which D_ft ids a fine-tuning run trains on: SEAL's scores or a baseline (DESIGN section 5),
//! always matched by id so that a length filter or a reordering upstream cannot shift it.

use std::collections::HashMap;

use anyhow::{Context, bail};
use seal_core::{
    DSIR_BUCKETS, ExampleId, Selection, SelectionMethod, dsir_selection, full_selection, loss_rank_selection,
    random_selection,
};
use seal_data::{Example, ScoreRow};

/// The outcome: D_ft ids to train on, and whether the safety demonstrations are added.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    /// Kept fine-tuning ids, best first.
    pub ft_ids: Vec<ExampleId>,
    /// Train on the safe set too (`safeinstr`, `seal+safeinstr`).
    pub add_safe: bool,
    /// The method's ranking of D_ft: every scored candidate (id, score, rank, kept).
    pub selection: Selection,
}

/// The plain text DSIR hashes: prompt turns and response.
pub fn record_text(record: &Example) -> String {
    let mut text: Vec<&str> = record.prompt.iter().map(|m| m.content.as_str()).collect();
    if let Some(response) = &record.response {
        text.push(response);
    }
    text.join("\n")
}

/// Chooses the training ids of `method` from D_ft `records`.
pub fn choose_ids(
    method: SelectionMethod,
    records: &[Example],
    safe: Option<&[Example]>,
    scores: Option<&[ScoreRow]>,
    initial_losses: Option<&HashMap<ExampleId, f32>>,
    keep: f64,
    seed: u64,
) -> anyhow::Result<Chosen> {
    let ids: Vec<ExampleId> = records.iter().map(|r| r.id.clone()).collect();
    let selection: Selection = match method {
        SelectionMethod::Full | SelectionMethod::SafeInstr => full_selection(&ids)?,
        SelectionMethod::Seal | SelectionMethod::SealSafeInstr => {
            let scores = scores.context("SEAL's selection needs a scores file")?;
            seal_selection(&ids, scores, keep)?
        }
        SelectionMethod::Random => random_selection(&ids, keep, seed)?,
        SelectionMethod::Dsir => {
            let safe = safe.context("DSIR needs the safe set as its target")?;
            let target: Vec<String> = safe.iter().map(record_text).collect();
            let texts: Vec<String> = records.iter().map(record_text).collect();
            dsir_selection(&target, &ids, &texts, keep, DSIR_BUCKETS)?
        }
        SelectionMethod::LossRank => {
            let losses = initial_losses.context("loss-rank needs the initial model's losses")?;
            // Rows the length filter dropped have no loss: they cannot be trained on anyway.
            let (ids, losses): (Vec<ExampleId>, Vec<f32>) = ids
                .iter()
                .filter_map(|id| losses.get(id).map(|&l| (id.clone(), l)))
                .unzip();
            loss_rank_selection(&ids, &losses, keep)?
        }
    };
    Ok(Chosen {
        ft_ids: selection.kept_ids(),
        add_safe: method.adds_safety_demos(),
        selection,
    })
}

/// The top `keep` share of `ids` by the selector logits in `scores`, matched by id. Every id of
/// the data must have a score: a scores file of another dataset is an error, not a silent
/// partial match. Scores of ids the data no longer holds (e.g. filtered out) are ignored.
pub fn seal_selection(ids: &[ExampleId], scores: &[ScoreRow], keep: f64) -> anyhow::Result<Selection> {
    // The selector's scores are its f32 logits, so the cast back is exact.
    let by_id: HashMap<&ExampleId, f32> = scores.iter().map(|s| (&s.id, s.score as f32)).collect();
    let missing: Vec<&ExampleId> = ids.iter().filter(|id| !by_id.contains_key(id)).collect();
    if !missing.is_empty() {
        bail!(
            "the scores file does not match the data: {} of {} ids have no score (e.g. `{}`); \
             was it made for another dataset?",
            missing.len(),
            ids.len(),
            missing[0]
        );
    }
    let logits: Vec<f32> = ids.iter().map(|id| by_id[id]).collect();
    Ok(Selection::from_logits(ids, &logits, keep)?)
}

/// The ranking as `scores.parquet` rows, labels from `records` (matched by id): every method's
/// ranking, the selector's with its `weights` (in candidate order).
pub fn score_rows(selection: &Selection, records: &[Example], weights: Option<&[f32]>) -> Vec<ScoreRow> {
    let labels: HashMap<&ExampleId, &Example> = records.iter().map(|r| (&r.id, r)).collect();
    selection
        .candidates()
        .iter()
        .enumerate()
        .map(|(i, c)| ScoreRow {
            id: c.id.clone(),
            score: c.score,
            weight: weights.map(|w| w[i]),
            rank: c.rank as u32,
            kept: c.kept,
            label: labels
                .get(&c.id)
                .map_or("unknown", |r| r.label.as_str())
                .to_string(),
        })
        .collect()
}
