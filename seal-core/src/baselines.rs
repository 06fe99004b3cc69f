//! The model-free side of every fine-tuning selection method of DESIGN section 5: the `full`,
//! `random`, `dsir` and `loss-rank` baselines, SEAL's own top-p% by logit, and the safety
//! demonstrations that `safeinstr` and `seal+safeinstr` add.
//!
//! Every method yields one [`Selection`]: a score per candidate (higher is kept first), its rank
//! (ties broken by ascending id, as in [`select_top_p`]) and whether it is among the top
//! ⌊p·N⌋ ([`keep_count`]), so the fine-tuning stage treats every method alike and applies the
//! result by [`ExampleId`], never by row position. The per-example losses `loss-rank` needs come
//! from one forward pass of the initial aligned model, which the caller runs; this module sees only
//! numbers and text.
//!
//! ```
//! use seal_core::{ExampleId, dsir_selection, DSIR_BUCKETS};
//!
//! let safe = ["I cannot help with that request, it is harmful."];
//! let ids: Vec<ExampleId> = ["poem", "refusal"].map(ExampleId::from).to_vec();
//! let texts = ["Write a poem about autumn leaves.", "Sorry, I cannot help with that harmful request."];
//! let selection = dsir_selection(&safe, &ids, &texts, 0.5, DSIR_BUCKETS).unwrap();
//! assert_eq!(selection.kept_ids(), [ExampleId::from("refusal")]);
//! ```

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::ids::ExampleId;
use crate::selection::{keep_count, select_top_p};

/// The number of hashed n-gram buckets of DSIR, DESIGN section 5 (the paper's 10,000).
pub const DSIR_BUCKETS: usize = 10_000;

/// The spellings of [`SelectionMethod`], for error messages and help text.
pub const METHOD_NAMES: &str = "full, seal, random, dsir, safeinstr, seal+safeinstr, loss-rank";

/// A fine-tuning selection method of DESIGN section 5, spelled as on the CLI and in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SelectionMethod {
    /// The top p% by final selector logit.
    #[serde(rename = "seal")]
    Seal,
    /// All of D_ft: the reference every win rate is measured against.
    #[serde(rename = "full")]
    Full,
    /// A seeded random p% ([`random_selection`]).
    #[serde(rename = "random")]
    Random,
    /// The top p% by DSIR importance weight, D_safe as target ([`dsir_selection`]).
    #[serde(rename = "dsir")]
    Dsir,
    /// All of D_ft plus the safety demonstrations ([`with_safety_demos`]).
    #[serde(rename = "safeinstr")]
    SafeInstr,
    /// SEAL's selection plus the safety demonstrations.
    #[serde(rename = "seal+safeinstr")]
    SealSafeInstr,
    /// The p% with the lowest loss under the initial aligned model ([`loss_rank_selection`]).
    #[serde(rename = "loss-rank")]
    LossRank,
}

impl SelectionMethod {
    /// Every method, in the order reports list them.
    pub const ALL: [Self; 7] = [
        Self::Full,
        Self::Seal,
        Self::Random,
        Self::Dsir,
        Self::SafeInstr,
        Self::SealSafeInstr,
        Self::LossRank,
    ];

    /// The method's CLI and TOML spelling, e.g. `"seal+safeinstr"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Seal => "seal",
            Self::Full => "full",
            Self::Random => "random",
            Self::Dsir => "dsir",
            Self::SafeInstr => "safeinstr",
            Self::SealSafeInstr => "seal+safeinstr",
            Self::LossRank => "loss-rank",
        }
    }

    /// Whether the method trains on the safety demonstrations too.
    pub fn adds_safety_demos(self) -> bool {
        matches!(self, Self::SafeInstr | Self::SealSafeInstr)
    }

    /// Whether the method keeps all of D_ft, so the keep fraction p does not apply.
    pub fn keeps_all(self) -> bool {
        matches!(self, Self::Full | Self::SafeInstr)
    }
}

impl fmt::Display for SelectionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SelectionMethod {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == text)
            .ok_or_else(|| CoreError::UnknownMethod {
                text: text.to_owned(),
            })
    }
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
fn rank_by_score(ids: &[ExampleId], scores: &[f64], p: f64, what: &'static str) -> Result<Selection> {
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
fn check_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
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
fn check_unique<'a>(ids: impl IntoIterator<Item = &'a ExampleId>) -> Result<()> {
    let mut seen = HashSet::new();
    match ids.into_iter().find(|&id| !seen.insert(id)) {
        Some(id) => Err(CoreError::DuplicateId { id: id.clone() }),
        None => Ok(()),
    }
}

/// `full`: every example kept, ranked by id (all scores are 0).
///
/// # Errors
/// [`CoreError::EmptyDataset`] for no ids, [`CoreError::DuplicateId`].
pub fn full_selection(ids: &[ExampleId]) -> Result<Selection> {
    rank_by_score(ids, &vec![0.0; ids.len()], 1.0, "score")
}

/// `random`: a seeded random ⌊p·N⌋ of `ids`.
///
/// Each id's score is a uniform draw in [0, 1) hashed from (seed, id) alone, and the top ⌊p·N⌋
/// are kept. So the selection depends only on the set of ids and the seed, never on their order:
/// dropping other rows upstream (length filtering) leaves the relative order of the rest as it
/// was, and the kept set is always a prefix of that one seeded order. Every id is kept with
/// probability p over seeds, and the same seed gives the same set on every platform.
///
/// # Errors
/// [`CoreError::KeepFraction`] unless 0 < p ≤ 1, [`CoreError::EmptyDataset`] for no ids,
/// [`CoreError::DuplicateId`], [`CoreError::EmptySelection`] if ⌊p·N⌋ = 0.
pub fn random_selection(ids: &[ExampleId], p: f64, seed: u64) -> Result<Selection> {
    let scores: Vec<f64> = ids.iter().map(|id| uniform_draw(seed, id)).collect();
    rank_by_score(ids, &scores, p, "score")
}

/// Stream tag so `random`'s draws share nothing with other uses of the same seed.
const RANDOM_STREAM: u64 = 0x7261_6e64_6f6d; // "random"

/// A uniform draw in [0, 1) for (seed, id): the id's FNV-1a hash, keyed by the seed and run
/// through the splitmix64 finaliser. FNV-1a alone would not do: ids that differ only in their
/// last byte get hashes whose order hardly depends on the seed.
fn uniform_draw(seed: u64, id: &ExampleId) -> f64 {
    let key = mix64(seed ^ RANDOM_STREAM);
    let h = mix64(fnv1a64(id.as_str().as_bytes()) ^ key);
    // The top 53 bits fill an f64 mantissa exactly.
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The splitmix64 finaliser (Steele, Lea and Flood 2014): a bijective 64-bit mix.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 64-bit FNV-1a: a fixed, seedless hash, so hashed features and random draws are the same on
/// every platform and every Rust release (unlike std's `RandomState`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// `loss-rank`: the ⌊p·N⌋ examples with the lowest loss under the initial aligned model (one
/// forward pass, no training; DESIGN section 5, issue 8). Scores are the negated losses; equal
/// losses are broken by ascending id.
///
/// # Errors
/// [`CoreError::KeepFraction`] unless 0 < p ≤ 1, [`CoreError::EmptyDataset`] for no ids,
/// [`CoreError::LengthMismatch`], [`CoreError::DuplicateId`], [`CoreError::NonFiniteScore`]
/// naming the example whose loss is NaN or infinite, [`CoreError::EmptySelection`] if ⌊p·N⌋ = 0.
pub fn loss_rank_selection(ids: &[ExampleId], losses: &[f32], p: f64) -> Result<Selection> {
    let scores: Vec<f64> = losses.iter().map(|&l| -f64::from(l)).collect();
    rank_by_score(ids, &scores, p, "loss")
}

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

/// The training ids of `safeinstr` (pass [`full_selection`]) and `seal+safeinstr` (pass SEAL's
/// [`Selection`]): the selection's kept ids in rank order, then the safety demonstrations in the
/// order given.
///
/// # Errors
/// [`CoreError::EmptyDataset`] for no demonstrations, and [`CoreError::DuplicateId`] for an id
/// repeated among the demonstrations or present in both: training on an example twice would
/// silently weight it double, and the list of ids trained on would be ambiguous.
pub fn with_safety_demos(selection: &Selection, demos: &[ExampleId]) -> Result<Vec<ExampleId>> {
    if demos.is_empty() {
        return Err(CoreError::EmptyDataset {
            set: "safety-demonstration",
        });
    }
    // Candidates, not only kept ids: a demonstration that shares an id with any fine-tuning
    // example means two datasets disagree on what the id names. The candidates are unique, so
    // the first repeat found is a demonstration's.
    check_unique(selection.candidates.iter().map(|c| &c.id).chain(demos))?;
    let mut ids = selection.kept_ids();
    ids.extend_from_slice(demos);
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<ExampleId> {
        names.iter().map(|&n| ExampleId::from(n)).collect()
    }

    fn numbered(n: usize) -> Vec<ExampleId> {
        (0..n).map(|i| ExampleId(format!("ex-{i}"))).collect()
    }

    fn sorted(mut v: Vec<ExampleId>) -> Vec<ExampleId> {
        v.sort();
        v
    }

    #[test]
    fn method_names_round_trip_through_text_and_serde() {
        for method in SelectionMethod::ALL {
            assert_eq!(method.name().parse::<SelectionMethod>().unwrap(), method);
            let json = serde_json::to_string(&method).unwrap();
            assert_eq!(json, format!("\"{method}\""));
            assert_eq!(serde_json::from_str::<SelectionMethod>(&json).unwrap(), method);
        }
        let names: Vec<&str> = SelectionMethod::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.join(", "), METHOD_NAMES);
        let err = "seal+dsir".parse::<SelectionMethod>().unwrap_err();
        assert!(err.to_string().contains("seal+dsir"), "{err}");
        assert!(err.to_string().contains("loss-rank"), "lists the choices: {err}");
        assert!(SelectionMethod::SealSafeInstr.adds_safety_demos());
        assert!(!SelectionMethod::Seal.adds_safety_demos());
        assert!(SelectionMethod::SafeInstr.keeps_all() && !SelectionMethod::LossRank.keeps_all());
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

    #[test]
    fn every_method_rejects_a_bad_keep_fraction() {
        let names = numbered(4);
        for p in [0.0, 1.5, f64::NAN] {
            let results = [
                Selection::by_score(&names, &[0.0; 4], p),
                Selection::from_logits(&names, &[0.0; 4], p),
                random_selection(&names, p, 1),
                loss_rank_selection(&names, &[0.0; 4], p),
                dsir_selection(&["x"], &names, &["a", "b", "c", "d"], p, 16),
            ];
            for r in results {
                assert!(matches!(r, Err(CoreError::KeepFraction { .. })), "{p}: {r:?}");
            }
        }
    }

    #[test]
    fn full_keeps_everything_ranked_by_id() {
        let sel = full_selection(&ids(&["b", "c", "a"])).unwrap();
        assert_eq!(sel.kept_ids(), ids(&["a", "b", "c"]));
        assert_eq!(sel.keep_fraction(), 1.0);
        assert!(matches!(
            full_selection(&ids(&["a", "a"])),
            Err(CoreError::DuplicateId { .. })
        ));
        assert!(matches!(full_selection(&[]), Err(CoreError::EmptyDataset { .. })));
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference test suite (Fowler, Noll, Vo): pins the hash, and with it every
        // DSIR bucket and random draw, across platforms and releases.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn random_is_reproducible_and_seed_dependent() {
        let names = numbered(100);
        let a = random_selection(&names, 0.5, 42).unwrap();
        assert_eq!(a, random_selection(&names, 0.5, 42).unwrap());
        assert_eq!(a.kept_len(), 50);
        let b = random_selection(&names, 0.5, 43).unwrap();
        assert_ne!(sorted(a.kept_ids()), sorted(b.kept_ids()));
        // Not the identity either: the first 50 ids are not simply kept.
        assert_ne!(sorted(a.kept_ids()), sorted(names[..50].to_vec()));
        assert!(a.candidates().iter().all(|c| (0.0..1.0).contains(&c.score)));
    }

    #[test]
    fn random_ignores_input_order_and_survives_upstream_filtering() {
        let names = numbered(60);
        let full = random_selection(&names, 0.5, 7).unwrap();
        let mut reversed = names.clone();
        reversed.reverse();
        assert_eq!(
            full.kept_ids(),
            random_selection(&reversed, 0.5, 7).unwrap().kept_ids()
        );

        // Drop every third row (length filtering): the survivors keep their seeded order, and
        // the kept set is the first ⌊p·M⌋ of that order.
        let survivors: Vec<ExampleId> = names.iter().step_by(3).cloned().collect();
        let filtered = random_selection(&survivors, 0.5, 7).unwrap();
        let mut full_order: Vec<&Candidate> = full.candidates().iter().collect();
        full_order.sort_by_key(|c| c.rank);
        let expected: Vec<ExampleId> = full_order
            .iter()
            .filter(|c| survivors.contains(&c.id))
            .take(10)
            .map(|c| c.id.clone())
            .collect();
        assert_eq!(filtered.kept_ids(), expected);
    }

    #[test]
    fn random_orders_of_three_ids_take_all_six_forms_over_seeds() {
        // A seed that only flipped bits of a fixed per-id hash (no mixing after keying) would
        // reach at most 4 of the 6 orders of any three ids; a real shuffle reaches all of them.
        let names = ids(&["ex-1", "ex-2", "ex-3"]);
        let mut orders = HashSet::new();
        for seed in 0..200 {
            orders.insert(random_selection(&names, 1.0, seed).unwrap().kept_ids());
        }
        assert_eq!(orders.len(), 6, "{orders:?}");
    }

    #[test]
    fn random_keeps_each_id_with_probability_p_over_seeds() {
        let names = numbered(20);
        let mut kept = [0u32; 20];
        for seed in 0..2000 {
            for (k, flag) in kept
                .iter_mut()
                .zip(random_selection(&names, 0.5, seed).unwrap().kept_flags())
            {
                *k += u32::from(flag);
            }
        }
        // Binomial(2000, 0.5) has σ ≈ 22; ±150 is ~7σ, so only a biased hash fails.
        assert!(kept.iter().all(|&k| (850..=1150).contains(&k)), "{kept:?}");
    }

    #[test]
    fn loss_rank_keeps_the_lowest_losses() {
        let names = ids(&["a", "b", "c", "d", "e"]);
        let sel = loss_rank_selection(&names, &[2.0, 0.1, 5.0, 0.7, 0.7], 0.6).unwrap();
        // d and e tie at 0.7; the id decides.
        assert_eq!(sel.kept_ids(), ids(&["b", "d", "e"]));
        assert_eq!(sel.candidates()[2].score, -5.0);
        let sel = loss_rank_selection(&names, &[2.0, 0.1, 5.0, 0.7, 0.7], 0.4).unwrap();
        assert_eq!(sel.kept_ids(), ids(&["b", "d"]));
    }

    #[test]
    fn loss_rank_names_the_example_with_a_nan_loss() {
        let names = ids(&["a", "b", "c"]);
        for bad in [f32::NAN, f32::INFINITY] {
            let err = loss_rank_selection(&names, &[1.0, 2.0, bad], 0.5).unwrap_err();
            assert!(
                matches!(&err, CoreError::NonFiniteScore { what: "loss", id } if id.as_str() == "c"),
                "{err:?}"
            );
            assert!(err.to_string().contains("loss of example `c`"), "{err}");
        }
        let err = loss_rank_selection(&names, &[1.0, 2.0], 0.5).unwrap_err();
        assert!(matches!(err, CoreError::LengthMismatch { .. }), "{err:?}");
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

    #[test]
    fn safety_demos_follow_the_selection_in_order() {
        let sel = loss_rank_selection(&ids(&["a", "b", "c"]), &[3.0, 1.0, 2.0], 0.67).unwrap();
        let train = with_safety_demos(&sel, &ids(&["s2", "s1"])).unwrap();
        assert_eq!(train, ids(&["b", "c", "s2", "s1"]));
        let all = with_safety_demos(&full_selection(&ids(&["b", "a"])).unwrap(), &ids(&["s"])).unwrap();
        assert_eq!(all, ids(&["a", "b", "s"]));
    }

    #[test]
    fn safety_demos_reject_duplicates_and_emptiness() {
        let sel = loss_rank_selection(&ids(&["a", "b", "c"]), &[3.0, 1.0, 2.0], 0.67).unwrap();
        let err = with_safety_demos(&sel, &ids(&["s", "b"])).unwrap_err();
        assert!(
            matches!(&err, CoreError::DuplicateId { id } if id.as_str() == "b"),
            "{err:?}"
        );
        // "a" is dropped by the selection, but still names a fine-tuning example.
        let err = with_safety_demos(&sel, &ids(&["a"])).unwrap_err();
        assert!(
            matches!(&err, CoreError::DuplicateId { id } if id.as_str() == "a"),
            "{err:?}"
        );
        let err = with_safety_demos(&sel, &ids(&["s", "t", "s"])).unwrap_err();
        assert!(
            matches!(&err, CoreError::DuplicateId { id } if id.as_str() == "s"),
            "{err:?}"
        );
        let err = with_safety_demos(&sel, &[]).unwrap_err();
        assert!(matches!(err, CoreError::EmptyDataset { .. }), "{err:?}");
    }
}
