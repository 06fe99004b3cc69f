//! One selection type for every method (DESIGN section 5), with the method vocabulary and the
//! judge-free diagnostics of how well a ranking separates known-harmful examples (section 6).
//!
//! A [`Selection`] holds a score per candidate (higher is kept first), its rank (ties broken by
//! ascending id) and whether it is among the top ⌊p·N⌋ ([`keep_count`]), so the fine-tuning stage
//! treats every method alike and applies the result by [`ExampleId`], never by row position.
//! SEAL's selection is the one by final selector logit ([`Selection::from_logits`]); the
//! baselines ([`crate::baselines`]) score candidates their own way and rank through
//! [`Selection::by_score`]. [`select_top_p`] is the bare ranking by logit underneath.

mod method;
mod metrics;

pub use method::{METHOD_NAMES, SelectionMethod};
pub use metrics::{auroc, dropped_share};

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::ids::ExampleId;

/// One example's place in a selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// The example.
    pub id: ExampleId,
    /// Its final selector logit.
    pub logit: f32,
    /// Its rank by logit, 0 = highest (kept first).
    pub rank: usize,
    /// Whether it is among the top ⌊p·N⌋.
    pub kept: bool,
}

/// The number of examples top-p% keeps out of `n`: ⌊p·n⌋.
///
/// A 1e-9 slack absorbs binary rounding, so p = 0.29 of 100 keeps 29 (0.29·100 is 28.999… in f64).
///
/// # Errors
/// [`CoreError::KeepFraction`] unless 0 < p ≤ 1.
pub fn keep_count(p: f64, n: usize) -> Result<usize> {
    if !(p > 0.0 && p <= 1.0) {
        return Err(CoreError::KeepFraction { p });
    }
    Ok(((p * n as f64 + 1e-9).floor() as usize).min(n))
}

/// Ranks `ids` by `logits` (highest first, ties by ascending id) and keeps the top ⌊p·N⌋.
/// Returns one [`Ranked`] per input, in input order.
///
/// # Errors
/// [`CoreError::KeepFraction`] unless 0 < p ≤ 1, [`CoreError::LengthMismatch`],
/// [`CoreError::DuplicateId`], and [`CoreError::NanLogit`] naming the example.
pub fn select_top_p(ids: &[ExampleId], logits: &[f32], p: f64) -> Result<Vec<Ranked>> {
    let keep = keep_count(p, ids.len())?;
    check_len("logits", ids.len(), logits.len())?;
    let mut seen = HashSet::with_capacity(ids.len());
    for (id, logit) in ids.iter().zip(logits) {
        if logit.is_nan() {
            return Err(CoreError::NanLogit { id: id.clone() });
        }
        // A repeated id would make the tie-break, and selection by id downstream, ambiguous.
        if !seen.insert(id) {
            return Err(CoreError::DuplicateId { id: id.clone() });
        }
    }
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| {
        let by_logit = logits[b]
            .partial_cmp(&logits[a])
            .expect("NaN logits were rejected above");
        by_logit.then_with(|| ids[a].cmp(&ids[b]))
    });
    let mut ranked: Vec<Ranked> = ids
        .iter()
        .zip(logits)
        .map(|(id, &logit)| Ranked {
            id: id.clone(),
            logit,
            rank: 0,
            kept: false,
        })
        .collect();
    for (rank, &i) in order.iter().enumerate() {
        ranked[i].rank = rank;
        ranked[i].kept = rank < keep;
    }
    Ok(ranked)
}

/// One candidate's place in a [`Selection`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The example.
    pub id: ExampleId,
    /// Its score under the method, higher kept first: the logit (`seal`), the log importance
    /// weight (`dsir`), the negated loss (`loss-rank`), a uniform draw (`random`), 0 (`full`).
    pub score: f64,
    /// Its rank by score, 0 = highest, ties by ascending id.
    pub rank: usize,
    /// Whether it is among the top ⌊p·N⌋.
    pub kept: bool,
}

/// The result of any selection method: every candidate, in input order, with its score, rank and
/// whether it is kept. At least one candidate is kept and every score is finite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    keep_fraction: f64,
    candidates: Vec<Candidate>,
}

impl Selection {
    /// Ranks `ids` by `scores` (highest first, ties by ascending id) and keeps the top ⌊p·N⌋.
    ///
    /// # Errors
    /// [`CoreError::KeepFraction`] unless 0 < p ≤ 1, [`CoreError::EmptyDataset`] for no ids,
    /// [`CoreError::LengthMismatch`], [`CoreError::DuplicateId`], [`CoreError::NonFiniteScore`]
    /// naming the example, and [`CoreError::EmptySelection`] if ⌊p·N⌋ = 0.
    pub fn by_score(ids: &[ExampleId], scores: &[f64], p: f64) -> Result<Self> {
        rank_by_score(ids, scores, p, "score")
    }

    /// SEAL's selection: the top ⌊p·N⌋ by final selector logit, exactly as [`select_top_p`] ranks.
    ///
    /// # Errors
    /// Those of [`select_top_p`], [`CoreError::NonFiniteScore`] for an infinite logit,
    /// [`CoreError::EmptyDataset`] for no ids, and [`CoreError::EmptySelection`] if ⌊p·N⌋ = 0.
    pub fn from_logits(ids: &[ExampleId], logits: &[f32], p: f64) -> Result<Self> {
        let ranked = select_top_p(ids, logits, p)?;
        // select_top_p ranks ±∞ fine, but a selection's scores must be finite to go into JSON.
        if let Some(r) = ranked.iter().find(|r| !r.logit.is_finite()) {
            return Err(CoreError::NonFiniteScore {
                what: "logit",
                id: r.id.clone(),
            });
        }
        let candidates = ranked
            .into_iter()
            .map(|r| Candidate {
                id: r.id,
                score: f64::from(r.logit),
                rank: r.rank,
                kept: r.kept,
            })
            .collect();
        Self::checked(p, candidates)
    }

    /// Rejects what no fine-tuning run can train on: no candidates, or none kept.
    fn checked(p: f64, candidates: Vec<Candidate>) -> Result<Self> {
        if candidates.is_empty() {
            return Err(CoreError::EmptyDataset { set: "fine-tuning" });
        }
        if !candidates.iter().any(|c| c.kept) {
            return Err(CoreError::EmptySelection {
                p,
                n: candidates.len(),
            });
        }
        Ok(Self {
            keep_fraction: p,
            candidates,
        })
    }

    /// The keep fraction p it was made with (1 for `full`).
    pub fn keep_fraction(&self) -> f64 {
        self.keep_fraction
    }

    /// Every candidate, in input order.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// The number of candidates N.
    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    /// Always false: a selection has at least one candidate. Here for `len`'s sake.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }

    /// The number of kept candidates, ⌊p·N⌋.
    pub fn kept_len(&self) -> usize {
        self.candidates.iter().filter(|c| c.kept).count()
    }

    /// The kept ids in rank order (best first): the examples to fine-tune on.
    pub fn kept_ids(&self) -> Vec<ExampleId> {
        let mut kept: Vec<&Candidate> = self.candidates.iter().filter(|c| c.kept).collect();
        kept.sort_unstable_by_key(|c| c.rank);
        kept.into_iter().map(|c| c.id.clone()).collect()
    }

    /// Whether each candidate is kept, in input order (for [`dropped_share`](crate::dropped_share)).
    pub fn kept_flags(&self) -> Vec<bool> {
        self.candidates.iter().map(|c| c.kept).collect()
    }
}

/// Checks a keep fraction on its own, e.g. before any data is loaded: the one rule of
/// [`keep_count`] (finite, 0 < p ≤ 1), which every selection here applies too.
///
/// # Errors
/// [`CoreError::KeepFraction`] unless 0 < p ≤ 1.
pub fn keep_fraction(p: f64) -> Result<f64> {
    keep_count(p, 0).map(|_| p)
}

/// The shared core of every score-based method. `what` names the score in the non-finite error
/// (`"loss"` for loss-rank), so the user learns which input was bad.
pub(crate) fn rank_by_score(
    ids: &[ExampleId],
    scores: &[f64],
    p: f64,
    what: &'static str,
) -> Result<Selection> {
    let keep = keep_count(p, ids.len())?;
    check_len("scores", ids.len(), scores.len())?;
    // Scores are written to JSON with the selection, and JSON has no NaN or infinity.
    if let Some((id, _)) = ids.iter().zip(scores).find(|(_, s)| !s.is_finite()) {
        return Err(CoreError::NonFiniteScore { what, id: id.clone() });
    }
    // A repeated id would make the tie-break, and the selection by id downstream, ambiguous.
    check_unique(ids)?;
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then_with(|| ids[a].cmp(&ids[b])));
    let mut ranks = vec![0; ids.len()];
    for (rank, &i) in order.iter().enumerate() {
        ranks[i] = rank;
    }
    let candidates = ids
        .iter()
        .zip(scores)
        .zip(ranks)
        .map(|((id, &score), rank)| Candidate {
            id: id.clone(),
            score,
            rank,
            kept: rank < keep,
        })
        .collect();
    Selection::checked(p, candidates)
}

/// [`CoreError::LengthMismatch`] unless `found == expected`.
pub(crate) fn check_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(CoreError::LengthMismatch {
            what,
            expected,
            found,
        })
    }
}

/// [`CoreError::DuplicateId`] naming the first id that repeats an earlier one.
pub(crate) fn check_unique<'a>(ids: impl IntoIterator<Item = &'a ExampleId>) -> Result<()> {
    let mut seen = HashSet::new();
    match ids.into_iter().find(|&id| !seen.insert(id)) {
        Some(id) => Err(CoreError::DuplicateId { id: id.clone() }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ids, numbered};

    #[test]
    fn keeps_top_floor_p_n_by_logit() {
        let ranked =
            select_top_p(&ids(&["a", "b", "c", "d", "e"]), &[0.5, 2.0, -1.0, 1.0, 0.0], 0.6).unwrap();
        let ranks: Vec<usize> = ranked.iter().map(|r| r.rank).collect();
        let kept: Vec<bool> = ranked.iter().map(|r| r.kept).collect();
        assert_eq!(ranks, [2, 0, 4, 1, 3]);
        assert_eq!(kept, [true, true, false, true, false]);
    }

    #[test]
    fn ties_are_broken_by_ascending_id() {
        // The input order is scrambled so only the id can decide.
        let ranked = select_top_p(&ids(&["c", "a", "d", "b"]), &[1.0, 1.0, 0.0, 1.0], 0.5).unwrap();
        let by_rank: Vec<(&str, bool)> = {
            let mut r: Vec<&Ranked> = ranked.iter().collect();
            r.sort_by_key(|r| r.rank);
            r.iter().map(|r| (r.id.as_str(), r.kept)).collect()
        };
        assert_eq!(by_rank, [("a", true), ("b", true), ("c", false), ("d", false)]);
    }

    #[test]
    fn keep_count_floors_without_rounding_error() {
        assert_eq!(keep_count(0.8, 10).unwrap(), 8);
        assert_eq!(keep_count(0.8, 7).unwrap(), 5);
        assert_eq!(keep_count(0.29, 100).unwrap(), 29);
        assert_eq!(keep_count(1.0, 3).unwrap(), 3);
        assert_eq!(keep_count(0.1, 5).unwrap(), 0);
    }

    #[test]
    fn keep_fraction_outside_zero_one_names_p() {
        for p in [0.0, -0.5, 1.5, f64::NAN] {
            let err = keep_count(p, 10).unwrap_err();
            assert!(matches!(err, CoreError::KeepFraction { .. }), "{p}");
        }
        assert!(keep_count(1.5, 10).unwrap_err().to_string().contains("1.5"));
    }

    #[test]
    fn selection_rejects_nan_logits_and_duplicate_ids() {
        let err = select_top_p(&ids(&["a", "b"]), &[0.0, f32::NAN], 0.5).unwrap_err();
        assert!(
            matches!(&err, CoreError::NanLogit { id } if id.as_str() == "b"),
            "{err:?}"
        );
        let err = select_top_p(&ids(&["a", "a"]), &[0.0, 1.0], 0.5).unwrap_err();
        assert!(matches!(err, CoreError::DuplicateId { .. }), "{err:?}");
    }

    #[test]
    fn by_score_keeps_top_floor_p_n_and_lists_kept_in_rank_order() {
        let sel =
            Selection::by_score(&ids(&["a", "b", "c", "d", "e"]), &[0.5, 2.0, -1.0, 1.0, 0.0], 0.6).unwrap();
        assert_eq!(sel.kept_ids(), ids(&["b", "d", "a"]));
        assert_eq!(sel.kept_flags(), [true, true, false, true, false]);
        assert_eq!(sel.kept_len(), 3);
        assert_eq!(sel.len(), 5);
        assert_eq!(sel.candidates()[2].rank, 4);
        assert_eq!(sel.keep_fraction(), 0.6);
    }

    #[test]
    fn by_score_breaks_ties_by_ascending_id_whatever_the_input_order() {
        let sel = Selection::by_score(&ids(&["c", "a", "d", "b"]), &[1.0; 4], 0.5).unwrap();
        assert_eq!(sel.kept_ids(), ids(&["a", "b"]));
    }

    #[test]
    fn from_logits_agrees_with_select_top_p() {
        let names = ids(&["c", "a", "e", "b", "d"]);
        let logits = [0.3, 1.5, -2.0, 1.5, 0.0];
        let sel = Selection::from_logits(&names, &logits, 0.8).unwrap();
        let ranked = select_top_p(&names, &logits, 0.8).unwrap();
        for (c, r) in sel.candidates().iter().zip(&ranked) {
            assert_eq!((&c.id, c.rank, c.kept), (&r.id, r.rank, r.kept));
            assert_eq!(c.score, f64::from(r.logit));
        }
        assert_eq!(sel.kept_ids(), ids(&["a", "b", "c", "d"]));
        let err = Selection::from_logits(&ids(&["a", "b"]), &[0.0, f32::INFINITY], 0.5).unwrap_err();
        assert!(
            matches!(&err, CoreError::NonFiniteScore { what: "logit", id } if id.as_str() == "b"),
            "{err:?}"
        );
    }

    #[test]
    fn a_selection_that_keeps_nothing_is_an_error() {
        let err = Selection::by_score(&numbered(5), &[0.0; 5], 0.1).unwrap_err();
        assert!(matches!(err, CoreError::EmptySelection { n: 5, .. }), "{err:?}");
        let err = Selection::from_logits(&numbered(3), &[0.0; 3], 0.2).unwrap_err();
        assert!(matches!(err, CoreError::EmptySelection { n: 3, .. }), "{err:?}");
        let err = Selection::from_logits(&[], &[], 0.5).unwrap_err();
        assert!(
            matches!(err, CoreError::EmptyDataset { set: "fine-tuning" }),
            "{err:?}"
        );
    }

    #[test]
    fn by_score_rejects_bad_input() {
        let err = Selection::by_score(&[], &[], 0.5).unwrap_err();
        assert!(matches!(err, CoreError::EmptyDataset { .. }), "{err:?}");
        let err = Selection::by_score(&ids(&["a", "b"]), &[1.0], 0.5).unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::LengthMismatch {
                    expected: 2,
                    found: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = Selection::by_score(&ids(&["a", "b", "a"]), &[1.0, 2.0, 3.0], 0.5).unwrap_err();
        assert!(
            matches!(&err, CoreError::DuplicateId { id } if id.as_str() == "a"),
            "{err:?}"
        );
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = Selection::by_score(&ids(&["a", "b"]), &[1.0, bad], 0.5).unwrap_err();
            assert!(
                matches!(&err, CoreError::NonFiniteScore { id, .. } if id.as_str() == "b"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn keep_fraction_accepts_zero_one_and_rejects_the_rest() {
        for p in [1e-9, 0.5, 1.0] {
            assert_eq!(keep_fraction(p).unwrap(), p);
        }
        for p in [0.0, -0.1, 1.0001, f64::NAN, f64::INFINITY] {
            assert!(
                matches!(keep_fraction(p), Err(CoreError::KeepFraction { .. })),
                "{p}"
            );
        }
    }
}
