//! Helpers of the unit tests: example ids from names or numbers.

use crate::ids::ExampleId;

/// One id per name.
pub(crate) fn ids(names: &[&str]) -> Vec<ExampleId> {
    names.iter().map(|&n| ExampleId::from(n)).collect()
}

/// `ex-0`, `ex-1`, ... `ex-{n-1}`.
pub(crate) fn numbered(n: usize) -> Vec<ExampleId> {
    (0..n).map(|i| ExampleId(format!("ex-{i}"))).collect()
}

/// The ids in ascending order.
pub(crate) fn sorted(mut v: Vec<ExampleId>) -> Vec<ExampleId> {
    v.sort();
    v
}
