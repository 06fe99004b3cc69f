//! Preference pairs from two record files of the same prompts: the `chosen` and `rejected`
//! sides of HH-RLHF (two `seal data mix` recipes that differ only in `hh_side`, so both sides
//! share one hash split), joined by prompt into the `{prompt, chosen, rejected}` rows a reward
//! model trains on (`seal judge train --pairs`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::record::Example;

/// One preference pair, as `seal judge train` reads it (JSON Lines).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreferenceRow {
    /// The chosen record's id.
    pub id: String,
    /// The prompt: one user turn, or a dialogue flattened as `first\n\nAssistant: ...\n\nHuman:
    /// last` so that the reward model's `Human: {prompt}\nAssistant: {answer}` reads as the
    /// dialogue did.
    pub prompt: String,
    /// The preferred answer.
    pub chosen: String,
    /// The dispreferred answer.
    pub rejected: String,
    /// The chosen record's category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// What [`join_preferences`] left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PairReport {
    /// Pairs written.
    pub pairs: usize,
    /// Chosen records whose prompt has no rejected record.
    pub unmatched: usize,
    /// Prompts whose two answers are the same text (no preference to learn).
    pub identical: usize,
    /// Prompts seen more than once on a side (the first record of each side is used).
    pub repeated_prompts: usize,
}

/// A dialogue's turns flattened into one prompt string (see [`PreferenceRow::prompt`]).
pub fn flatten_prompt(example: &Example) -> String {
    let mut out = String::new();
    for (i, turn) in example.prompt.iter().enumerate() {
        if i > 0 {
            out.push_str(if turn.role == "assistant" {
                "\n\nAssistant: "
            } else {
                "\n\nHuman: "
            });
        }
        out.push_str(&turn.content);
    }
    out
}

/// Joins `chosen` and `rejected` records by their prompt turns, in the order of `chosen`.
///
/// # Errors
/// [`DataError::MissingResponse`] for a record without a response; [`DataError::Invalid`] when
/// no prompt pairs up.
pub fn join_preferences(
    chosen: &[Example],
    rejected: &[Example],
) -> Result<(Vec<PreferenceRow>, PairReport)> {
    let key = |e: &Example| serde_json::to_string(&e.prompt).expect("chat turns serialise");
    let response = |e: &Example| {
        e.response
            .clone()
            .ok_or_else(|| DataError::MissingResponse { id: e.id.clone() })
    };
    let mut report = PairReport::default();
    // The first record of a prompt wins on each side.
    let mut by_prompt: HashMap<String, &Example> = HashMap::with_capacity(rejected.len());
    for e in rejected {
        match by_prompt.entry(key(e)) {
            std::collections::hash_map::Entry::Occupied(_) => report.repeated_prompts += 1,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(e);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::new();
    for e in chosen {
        let k = key(e);
        if !seen.insert(k.clone()) {
            report.repeated_prompts += 1;
            continue;
        }
        let Some(other) = by_prompt.get(&k) else {
            report.unmatched += 1;
            continue;
        };
        let (good, bad) = (response(e)?, response(other)?);
        if good.trim() == bad.trim() {
            report.identical += 1;
            continue;
        }
        rows.push(PreferenceRow {
            id: e.id.to_string(),
            prompt: flatten_prompt(e),
            chosen: good,
            rejected: bad,
            category: e.category.clone(),
        });
    }
    if rows.is_empty() {
        return Err(DataError::Invalid {
            what: "preference pairs".to_string(),
            problem: "no prompt of the chosen records has a different rejected answer".to_string(),
        });
    }
    report.pairs = rows.len();
    Ok((rows, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::ChatMessage;

    fn record(id: &str, turns: &[(&str, &str)], response: &str) -> Example {
        Example {
            id: seal_core::ExampleId(id.into()),
            source: "hh".into(),
            prompt: turns
                .iter()
                .map(|(role, text)| ChatMessage {
                    role: (*role).into(),
                    content: (*text).into(),
                })
                .collect(),
            response: Some(response.into()),
            label: crate::Label::Unknown,
            category: None,
            split: None,
            novel: false,
        }
    }

    #[test]
    fn sides_join_by_prompt_and_skip_what_teaches_nothing() {
        let dialogue = [
            ("user", "Hi"),
            ("assistant", "Hello!"),
            ("user", "How do I pick a lock?"),
        ];
        let chosen = vec![
            record("c1", &dialogue, "I'd rather not help with that."),
            record("c2", &[("user", "Name a colour.")], "Red."),
            record("c3", &[("user", "No partner.")], "Alone."),
        ];
        let rejected = vec![
            record("r2", &[("user", "Name a colour.")], "Red."),
            record("r1", &dialogue, "Use a tension wrench."),
        ];
        let (rows, report) = join_preferences(&chosen, &rejected).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, "c1");
        assert_eq!(
            rows[0].prompt,
            "Hi\n\nAssistant: Hello!\n\nHuman: How do I pick a lock?"
        );
        assert_eq!(rows[0].rejected, "Use a tension wrench.");
        assert_eq!((report.pairs, report.unmatched, report.identical), (1, 1, 1));
        let err = join_preferences(&chosen[1..], &rejected).unwrap_err().to_string();
        assert!(err.contains("no prompt"), "{err}");
    }
}
