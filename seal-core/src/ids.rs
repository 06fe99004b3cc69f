//! Stable identifiers of fine-tuning examples.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Stable id of one fine-tuning example: a user-given id or a content hash, never a row position
/// (the reference implementation lost alignment after length filtering, DESIGN section 2).
///
/// Ids order as strings; selection breaks ties between equal logits by this order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExampleId(pub String);

impl ExampleId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExampleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ExampleId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl From<String> for ExampleId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_id_serializes_as_a_bare_string() {
        let id = ExampleId::from("ex-7");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""ex-7""#);
        assert_eq!(serde_json::from_str::<ExampleId>(r#""ex-7""#).unwrap(), id);
    }

    #[test]
    fn example_ids_order_as_strings() {
        let mut ids: Vec<ExampleId> = ["b", "a10", "a2"].into_iter().map(ExampleId::from).collect();
        ids.sort();
        assert_eq!(ids, ["a10", "a2", "b"].map(ExampleId::from));
    }
}
