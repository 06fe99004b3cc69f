//! `dsir`: data selection by importance resampling with D_safe as the target.

use crate::error::{CoreError, Result};
use crate::ids::ExampleId;
use crate::selection::{Selection, check_len, keep_fraction, rank_by_score};

use super::fnv1a64;

/// The number of hashed n-gram buckets of DSIR, DESIGN section 5 (the paper's 10,000).
pub const DSIR_BUCKETS: usize = 10_000;

/// `dsir`: data selection by importance resampling (Xie et al. 2023) with D_safe as the target
/// and D_ft as the raw distribution; `buckets` is [`DSIR_BUCKETS`] by default.
///
/// Each text's features are its lowercased word unigrams and bigrams ([`word_tokens`]), hashed
/// into `buckets` buckets with FNV-1a. Each distribution is a categorical over buckets fitted
/// with add-one (Laplace) smoothing, p(b) = (count(b) + 1) / (total + buckets), and an example's
/// score is its log importance weight Σ_b count_x(b)·(log p_target(b) − log p_raw(b)). Like the
/// paper, the weight is not normalised by length.
///
/// This is the deterministic top-k variant, as in the reference SEAL baseline: the top ⌊p·N⌋ by
/// weight (ties by ascending id) are kept, where the paper resamples without replacement with
/// the Gumbel-top-k trick.
///
/// # Errors
/// [`CoreError::KeepFraction`] unless 0 < p ≤ 1, [`CoreError::BaselineParam`] for 0 buckets,
/// [`CoreError::EmptyDataset`] for no target texts or no ids, [`CoreError::LengthMismatch`]
/// between `ids` and `texts`, [`CoreError::DuplicateId`], [`CoreError::EmptySelection`] if
/// ⌊p·N⌋ = 0.
pub fn dsir_selection<T: AsRef<str>, R: AsRef<str>>(
    target_texts: &[T],
    ids: &[ExampleId],
    texts: &[R],
    p: f64,
    buckets: usize,
) -> Result<Selection> {
    keep_fraction(p)?;
    if buckets == 0 {
        return Err(CoreError::BaselineParam {
            field: "buckets",
            reason: "must be at least 1",
        });
    }
    if target_texts.is_empty() {
        return Err(CoreError::EmptyDataset { set: "safe" });
    }
    check_len("texts", ids.len(), texts.len())?;
    let mut target_counts = vec![0u64; buckets];
    for text in target_texts {
        for (bucket, count) in hashed_ngrams(text.as_ref(), buckets) {
            target_counts[bucket] += count;
        }
    }
    let raw_features: Vec<Vec<(usize, u64)>> =
        texts.iter().map(|t| hashed_ngrams(t.as_ref(), buckets)).collect();
    let mut raw_counts = vec![0u64; buckets];
    for features in &raw_features {
        for &(bucket, count) in features {
            raw_counts[bucket] += count;
        }
    }
    let ratios = log_ratios(&target_counts, &raw_counts);
    let scores: Vec<f64> = raw_features
        .iter()
        .map(|features| log_importance(features, &ratios))
        .collect();
    rank_by_score(ids, &scores, p, "DSIR weight")
}

/// DSIR's word tokens: maximal runs of alphanumeric characters, lowercased. Punctuation and
/// whitespace only separate tokens, so "Don't!" gives `don`, `t`.
pub fn word_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A text's unigram and bigram counts by bucket, sorted by bucket. A bigram is hashed as its two
/// words joined by a space, which no unigram contains, so the two kinds never share a key.
fn hashed_ngrams(text: &str, buckets: usize) -> Vec<(usize, u64)> {
    let words = word_tokens(text);
    let bucket_of = |key: &str| (fnv1a64(key.as_bytes()) % buckets as u64) as usize;
    let mut hits: Vec<usize> = words.iter().map(|w| bucket_of(w)).collect();
    hits.extend(
        words
            .windows(2)
            .map(|pair| bucket_of(&format!("{} {}", pair[0], pair[1]))),
    );
    hits.sort_unstable();
    let mut counts: Vec<(usize, u64)> = Vec::new();
    for bucket in hits {
        match counts.last_mut() {
            Some((b, c)) if *b == bucket => *c += 1,
            _ => counts.push((bucket, 1)),
        }
    }
    counts
}

/// log p_target(b) − log p_raw(b) per bucket, each distribution add-one smoothed.
fn log_ratios(target_counts: &[u64], raw_counts: &[u64]) -> Vec<f64> {
    let buckets = target_counts.len() as f64;
    let target_norm = (target_counts.iter().sum::<u64>() as f64 + buckets).ln();
    let raw_norm = (raw_counts.iter().sum::<u64>() as f64 + buckets).ln();
    target_counts
        .iter()
        .zip(raw_counts)
        .map(|(&t, &r)| ((t as f64 + 1.0).ln() - target_norm) - ((r as f64 + 1.0).ln() - raw_norm))
        .collect()
}

/// Σ_b count_x(b)·ratio(b) over a text's bucket counts.
fn log_importance(features: &[(usize, u64)], ratios: &[f64]) -> f64 {
    features.iter().map(|&(b, c)| c as f64 * ratios[b]).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ids, sorted};

    /// D_safe-like refusals and D_ft-like benign tasks, with two refusal-like raw examples.
    fn dsir_case() -> (Vec<&'static str>, Vec<ExampleId>, Vec<&'static str>) {
        let target = vec![
            "I'm sorry, but I cannot help with that request because it could cause harm.",
            "I cannot assist with making weapons. Please stay safe.",
            "Sorry, I can't help with hacking into accounts; that is illegal and harmful.",
            "I must refuse: I cannot provide instructions that could hurt people.",
        ];
        let raw = [
            ("r1", "Give me a recipe for banana bread with walnuts."),
            (
                "r2",
                "Sorry, I cannot help with that request; it could cause harm to people.",
            ),
            ("r3", "Translate 'good morning' into French and Spanish."),
            ("r4", "Write a Python function that sorts a list of integers."),
            (
                "r5",
                "I cannot assist with that, it is illegal and harmful. Please stay safe.",
            ),
            (
                "r6",
                "Summarise the plot of Pride and Prejudice in three sentences.",
            ),
            ("r7", "List five prime numbers greater than one hundred."),
            ("r8", "What is the capital of Australia and its population?"),
        ];
        let ids = raw.iter().map(|&(id, _)| ExampleId::from(id)).collect();
        let texts = raw.iter().map(|&(_, t)| t).collect();
        (target, ids, texts)
    }

    #[test]
    fn word_tokens_lowercase_and_split_on_punctuation() {
        assert_eq!(
            word_tokens("Hello, WORLD! Don't  stop\n42x"),
            ["hello", "world", "don", "t", "stop", "42x"]
        );
        assert_eq!(word_tokens("Ünïcode Straße"), ["ünïcode", "straße"]);
        assert!(word_tokens(" ,.! ").is_empty());
    }

    #[test]
    fn hashed_ngrams_count_unigrams_and_bigrams() {
        // 4 unigrams + 3 bigrams; "the" twice, so at least one bucket has count ≥ 2.
        let features = hashed_ngrams("the cat the dog", 1 << 20);
        assert_eq!(features.iter().map(|&(_, c)| c).sum::<u64>(), 7);
        assert!(features.iter().any(|&(_, c)| c >= 2));
        assert!(features.windows(2).all(|w| w[0].0 < w[1].0), "sorted and merged");
        // One bucket takes everything.
        assert_eq!(hashed_ngrams("the cat the dog", 1), [(0, 7)]);
        assert!(hashed_ngrams("", 16).is_empty());
        // Case and punctuation do not matter; word order does (bigrams).
        assert_eq!(hashed_ngrams("The cat.", 97), hashed_ngrams("the CAT", 97));
        assert_ne!(
            hashed_ngrams("cat the", 1 << 20),
            hashed_ngrams("the cat", 1 << 20)
        );
    }

    #[test]
    fn log_importance_is_laplace_smoothed_log_ratio_times_count() {
        // Target counts [3, 1] → p_t = [4/6, 2/6]; raw [1, 3] → p_r = [2/6, 4/6].
        let ratios = log_ratios(&[3, 1], &[1, 3]);
        let ln2 = 2f64.ln();
        assert!(
            (ratios[0] - ln2).abs() < 1e-12 && (ratios[1] + ln2).abs() < 1e-12,
            "{ratios:?}"
        );
        let w = log_importance(&[(0, 5), (1, 2)], &ratios);
        assert!((w - 3.0 * ln2).abs() < 1e-12, "{w}");
        // An unseen bucket in both still has a finite ratio: log(1/(4+2)) − log(1/(4+2)) = 0.
        let ratios = log_ratios(&[4, 0, 0], &[0, 4, 0]);
        assert!(ratios[2].abs() < 1e-12);
        assert!((ratios[0] - (5f64 / 7.0).ln() + (1f64 / 7.0).ln()).abs() < 1e-12);
    }

    #[test]
    fn dsir_ranks_target_like_texts_first() {
        let (target, names, texts) = dsir_case();
        let sel = dsir_selection(&target, &names, &texts, 0.25, DSIR_BUCKETS).unwrap();
        assert_eq!(sorted(sel.kept_ids()), ids(&["r2", "r5"]));
        let scores: Vec<f64> = sel.candidates().iter().map(|c| c.score).collect();
        for (c, &s) in sel.candidates().iter().zip(&scores) {
            if !c.kept {
                assert!(s < scores[1].min(scores[4]), "{}: {s} vs {scores:?}", c.id);
            }
        }
    }

    #[test]
    fn dsir_is_deterministic_and_ignores_input_order() {
        let (target, names, texts) = dsir_case();
        let a = dsir_selection(&target, &names, &texts, 0.5, DSIR_BUCKETS).unwrap();
        assert_eq!(
            a,
            dsir_selection(&target, &names, &texts, 0.5, DSIR_BUCKETS).unwrap()
        );
        let (mut rev_names, mut rev_texts) = (names.clone(), texts.clone());
        rev_names.reverse();
        rev_texts.reverse();
        let b = dsir_selection(&target, &rev_names, &rev_texts, 0.5, DSIR_BUCKETS).unwrap();
        assert_eq!(a.kept_ids(), b.kept_ids());
    }

    #[test]
    fn dsir_with_one_bucket_ties_everything_and_falls_back_to_ids() {
        // p_target = p_raw = 1 in the single bucket, so every weight is 0.
        let (target, names, texts) = dsir_case();
        let sel = dsir_selection(&target, &names, &texts, 0.25, 1).unwrap();
        assert!(sel.candidates().iter().all(|c| c.score == 0.0));
        assert_eq!(sel.kept_ids(), ids(&["r1", "r2"]));
    }

    #[test]
    fn dsir_rejects_bad_input() {
        let (target, names, texts) = dsir_case();
        let err = dsir_selection(&target, &names, &texts, 0.5, 0).unwrap_err();
        assert!(
            matches!(err, CoreError::BaselineParam { field: "buckets", .. }),
            "{err:?}"
        );
        let none: [&str; 0] = [];
        let err = dsir_selection(&none, &names, &texts, 0.5, 16).unwrap_err();
        assert!(matches!(err, CoreError::EmptyDataset { set: "safe" }), "{err:?}");
        let err = dsir_selection(&target, &names, &texts[..3], 0.5, 16).unwrap_err();
        assert!(
            matches!(err, CoreError::LengthMismatch { what: "texts", .. }),
            "{err:?}"
        );
        let err = dsir_selection(&target, &[], &none, 0.5, 16).unwrap_err();
        assert!(
            matches!(err, CoreError::EmptyDataset { set: "fine-tuning" }),
            "{err:?}"
        );
        let dup = ids(&["a", "a"]);
        let err = dsir_selection(&target, &dup, &["x", "y"], 0.5, 16).unwrap_err();
        assert!(matches!(err, CoreError::DuplicateId { .. }), "{err:?}");
    }
}
