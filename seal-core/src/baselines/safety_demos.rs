//! The safety demonstrations that `safeinstr` and `seal+safeinstr` add to a selection.

use crate::error::{CoreError, Result};
use crate::ids::ExampleId;
use crate::selection::{Selection, check_unique};

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
    check_unique(selection.candidates().iter().map(|c| &c.id).chain(demos))?;
    let mut ids = selection.kept_ids();
    ids.extend_from_slice(demos);
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::{full_selection, loss_rank_selection};
    use crate::testing::ids;

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
