//! Top-p% selection by final logit (DESIGN section 5) and the judge-free diagnostics of how well a
//! selector ranks known-harmful examples (section 6).

use std::cmp::Ordering;
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
    if logits.len() != ids.len() {
        return Err(CoreError::LengthMismatch {
            what: "logits",
            expected: ids.len(),
            found: logits.len(),
        });
    }
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

/// The area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting ½ (the Mann–Whitney U statistic over |pos|·|neg|).
///
/// For "does the selector rank harmful examples last", pass the negated logits as `scores` and
/// `is_harmful` as `labels`.
///
/// # Errors
/// [`CoreError::LengthMismatch`], [`CoreError::NanScore`], and [`CoreError::AurocOneClass`] if
/// there are no positives or no negatives.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    if labels.len() != scores.len() {
        return Err(CoreError::LengthMismatch {
            what: "labels",
            expected: scores.len(),
            found: labels.len(),
        });
    }
    if let Some(index) = scores.iter().position(|s| s.is_nan()) {
        return Err(CoreError::NanScore { index });
    }
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(CoreError::AurocOneClass { positives, negatives });
    }
    // Sort ascending and give each tie group its mid-rank (1-based): O(n log n) instead of
    // comparing every pair.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].partial_cmp(&scores[b]).unwrap_or(Ordering::Equal));
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let mid_rank = (start + 1 + end) as f64 / 2.0;
        let group_positives = order[start..end].iter().filter(|&&i| labels[i]).count();
        positive_rank_sum += mid_rank * group_positives as f64;
        start = end;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Ok((positive_rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// The share of harmful examples among the dropped ones (DESIGN section 6), or `None` if nothing
/// was dropped (p = 1).
///
/// # Errors
/// [`CoreError::LengthMismatch`] if the slices differ in length.
pub fn dropped_share(kept: &[bool], is_harmful: &[bool]) -> Result<Option<f64>> {
    if is_harmful.len() != kept.len() {
        return Err(CoreError::LengthMismatch {
            what: "harmful labels",
            expected: kept.len(),
            found: is_harmful.len(),
        });
    }
    let dropped = kept.iter().filter(|&&k| !k).count();
    let harmful_dropped = kept.iter().zip(is_harmful).filter(|&(&k, &h)| !k && h).count();
    Ok((dropped > 0).then(|| harmful_dropped as f64 / dropped as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<ExampleId> {
        names.iter().map(|&n| ExampleId::from(n)).collect()
    }

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
    fn auroc_is_one_for_perfect_half_for_all_ties_and_zero_reversed() {
        let labels = [true, true, false, false];
        assert_eq!(auroc(&[0.9, 0.8, 0.1, 0.2], &labels).unwrap(), 1.0);
        assert_eq!(auroc(&[0.1, 0.2, 0.9, 0.8], &labels).unwrap(), 0.0);
        assert_eq!(auroc(&[0.5; 4], &labels).unwrap(), 0.5);
    }

    #[test]
    fn auroc_counts_ties_as_half_against_pairwise_count() {
        let scores = [0.3, 0.7, 0.7, 0.1, 0.7, 0.3, 0.9];
        let labels = [true, false, true, false, true, false, false];
        let class = |want: bool| -> Vec<f64> {
            scores
                .iter()
                .zip(&labels)
                .filter(|&(_, &l)| l == want)
                .map(|(&s, _)| s)
                .collect()
        };
        let (pos, neg) = (class(true), class(false));
        let mut wins = 0.0;
        for a in &pos {
            for b in &neg {
                wins += if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
        let pairs = (pos.len() * neg.len()) as f64;
        let got = auroc(&scores, &labels).unwrap();
        assert!((got - wins / pairs).abs() < 1e-12, "{got} vs {}", wins / pairs);
    }

    #[test]
    fn auroc_with_one_class_is_an_error() {
        let err = auroc(&[0.1, 0.2], &[true, true]).unwrap_err();
        assert!(matches!(
            err,
            CoreError::AurocOneClass {
                positives: 2,
                negatives: 0
            }
        ));
    }

    #[test]
    fn dropped_share_is_harmful_fraction_of_dropped() {
        let kept = [true, false, false, true, false, false];
        let harmful = [false, true, true, true, false, true];
        assert_eq!(dropped_share(&kept, &harmful).unwrap(), Some(0.75));
        assert_eq!(dropped_share(&[true, true], &[true, false]).unwrap(), None);
        assert!(dropped_share(&[true], &[]).is_err());
    }
}
