//! How well a ranking separates known-harmful examples (DESIGN section 6): AUROC of the scores
//! against the labels, and the harmful share of what a selection drops.

use std::cmp::Ordering;

use crate::error::{CoreError, Result};

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
