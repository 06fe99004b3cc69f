//! The model-free baselines of DESIGN section 5: `full`, `random`, `dsir` and `loss-rank`, and the
//! safety demonstrations that `safeinstr` and `seal+safeinstr` add.
//!
//! Every method yields one [`Selection`](crate::Selection) (`crate::selection`), so the fine-tuning
//! stage treats every method alike. One file per baseline. The per-example losses `loss-rank` needs
//! come from one forward pass of the initial aligned model, which the caller runs; this module sees
//! only numbers and text.
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

mod dsir;
mod full;
mod loss_rank;
mod random;
mod safety_demos;

pub use dsir::{DSIR_BUCKETS, dsir_selection, word_tokens};
pub use full::full_selection;
pub use loss_rank::loss_rank_selection;
pub use random::random_selection;
pub use safety_demos::with_safety_demos;

/// 64-bit FNV-1a: a fixed, seedless hash, so hashed features and random draws are the same on
/// every platform and every Rust release (unlike std's `RandomState`).
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CoreError;
    use crate::selection::Selection;
    use crate::testing::numbered;

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
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference test suite (Fowler, Noll, Vo): pins the hash, and with it every
        // DSIR bucket and random draw, across platforms and releases.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
