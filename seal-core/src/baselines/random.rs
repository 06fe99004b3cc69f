//! `random`: a seeded random p%, drawn per id so that the order of the rows never matters.

use super::fnv1a64;
use crate::error::Result;
use crate::ids::ExampleId;
use crate::selection::{Selection, rank_by_score};

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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::selection::Candidate;
    use crate::testing::{ids, numbered, sorted};

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
}
