//! The canonical record every importer produces and every stage consumes.

use seal_core::ExampleId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};
use crate::text::ChatMessage;

/// Ground truth about an example, when the source knows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A benign task or answer.
    Benign,
    /// A harmful request or a compliant harmful answer.
    Harmful,
    /// Not known (the default).
    #[default]
    Unknown,
}

impl Label {
    /// Every label, in display order.
    pub const ALL: [Label; 3] = [Label::Benign, Label::Harmful, Label::Unknown];

    /// The snake_case name (`benign`, `harmful`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Benign => "benign",
            Label::Harmful => "harmful",
            Label::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Label {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "benign" => Ok(Label::Benign),
            "harmful" => Ok(Label::Harmful),
            "unknown" => Ok(Label::Unknown),
            _ => Err(DataError::UnknownName {
                what: "label",
                name: s.to_string(),
                expected: "benign, harmful, unknown".to_string(),
            }),
        }
    }
}

/// One example: prompt turns, an optional response, and what we know about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// From a user id column, else a content hash ([`content_id`]); never a row number.
    pub id: ExampleId,
    /// Dataset name, e.g. `alpaca-gpt4-demo`, `pyrit-many-shot`.
    pub source: String,
    /// Context turns, ending with the user turn.
    pub prompt: Vec<ChatMessage>,
    /// The answer; `None` for prompt-only evaluation sets.
    #[serde(default)]
    pub response: Option<String>,
    /// Ground-truth label, `unknown` when the source has none.
    #[serde(default)]
    pub label: Label,
    /// Harm or task category.
    #[serde(default)]
    pub category: Option<String>,
    /// Split name (`train`, `test`, ...).
    #[serde(default)]
    pub split: Option<String>,
    /// A benign task absent from the model's alignment data (DESIGN section 6).
    #[serde(default)]
    pub novel: bool,
}

/// The content-hash id of a prompt and response: `h:` + the first 16 hex digits of the
/// SHA-256 of their canonical JSON.
///
/// Only the content is hashed (no source name, no row number), so the id survives a
/// re-import, a reordering, or the same pair arriving from another file.
pub fn content_id(prompt: &[ChatMessage], response: Option<&str>) -> ExampleId {
    // serde_json writes struct fields in declaration order, so the bytes are canonical.
    let payload = serde_json::json!({ "prompt": prompt, "response": response });
    let digest = Sha256::digest(payload.to_string().as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    ExampleId(format!("h:{hex}"))
}

/// A 128-bit hash of an id, for sets of millions of ids (16 bytes each instead of a string);
/// two different ids share one with probability about 2^-128.
pub(crate) fn id_key(id: &ExampleId) -> u128 {
    let digest = Sha256::digest(id.as_str().as_bytes());
    u128::from_be_bytes(digest[..16].try_into().expect("a SHA-256 digest has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_id_depends_on_content_only() {
        let a = content_id(&[ChatMessage::user("hi")], Some("hello"));
        let b = content_id(&[ChatMessage::user("hi")], Some("hello"));
        let c = content_id(&[ChatMessage::user("hi")], None);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.as_str().starts_with("h:") && a.as_str().len() == 18);
    }

    #[test]
    fn label_round_trips_through_its_name() {
        for label in Label::ALL {
            assert_eq!(label.as_str().parse::<Label>().ok(), Some(label));
        }
        assert!("maybe".parse::<Label>().is_err());
    }

    #[test]
    fn example_rejects_unknown_fields_and_defaults_optional_ones() {
        let ok = r#"{"id":"x","source":"s","prompt":[{"role":"user","content":"q"}]}"#;
        let ex: Example = serde_json::from_str(ok).expect("minimal record parses");
        assert_eq!(ex.label, Label::Unknown);
        assert_eq!(ex.response, None);
        let bad = r#"{"id":"x","source":"s","prompt":[],"extra":1}"#;
        assert!(serde_json::from_str::<Example>(bad).is_err());
    }
}
