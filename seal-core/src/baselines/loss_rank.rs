//! `loss-rank`: the p% with the lowest loss under the initial aligned model.

use crate::error::Result;
use crate::ids::ExampleId;
use crate::selection::{Selection, rank_by_score};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CoreError;
    use crate::testing::ids;

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
}
