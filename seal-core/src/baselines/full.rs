//! `full`: every example kept.

use crate::error::Result;
use crate::ids::ExampleId;
use crate::selection::{Selection, rank_by_score};

/// `full`: every example kept, ranked by id (all scores are 0).
///
/// # Errors
/// [`CoreError::EmptyDataset`] for no ids, [`CoreError::DuplicateId`].
pub fn full_selection(ids: &[ExampleId]) -> Result<Selection> {
    rank_by_score(ids, &vec![0.0; ids.len()], 1.0, "score")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CoreError;
    use crate::testing::ids;

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
}
