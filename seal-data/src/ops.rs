//! Operations on record lists whose results depend on the seed and the records, never on the
//! order the records arrive in: dedup (by id, optionally by normalised content), seeded shuffles,
//! seeded samples of n records, and hash splits.
//!
//! Every random choice is a hash of the seed and a record key (SHA-256 of
//! `seal-data|{salt}|{seed}|{key}`), not a draw from a generator advanced row by row: a record
//! lands in the same split, and is kept by the same sample, however the file was reordered or
//! whatever other records sit beside it.

use std::collections::{HashMap, HashSet};

use seal_core::ExampleId;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};
use crate::record::Example;

/// Why [`dedup`] removed a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupBy {
    /// Its id was already taken.
    Id,
    /// Its normalised content ([`normalized_content`]) equals an earlier record's.
    Content,
}

/// A record [`dedup`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    /// The removed record's id.
    pub id: ExampleId,
    /// Its source.
    pub source: String,
    /// The id of the earlier record it repeats (the one kept).
    pub duplicate_of: ExampleId,
    /// Why.
    pub by: DedupBy,
}

/// The text [`dedup`] compares with `by_content`: every turn as `role: content` and the
/// response, lower-cased, with runs of whitespace collapsed to one space.
pub fn normalized_content(example: &Example) -> String {
    let mut text = String::new();
    for turn in &example.prompt {
        text.push_str(&turn.role);
        text.push_str(": ");
        text.push_str(&normalize(&turn.content));
        text.push('\n');
    }
    if let Some(response) = &example.response {
        text.push_str("response: ");
        text.push_str(&normalize(response));
    }
    text
}

/// The prompt text alone, normalised as in [`normalized_content`] (the key of
/// [`SplitKey::Prompt`]).
pub fn normalized_prompt(example: &Example) -> String {
    let turns: Vec<String> = example.prompt.iter().map(|t| normalize(&t.content)).collect();
    turns.join("\n")
}

fn normalize(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Keeps the first record of every id (and, with `by_content`, of every normalised content),
/// in input order, and reports the rest.
pub fn dedup(examples: Vec<Example>, by_content: bool) -> (Vec<Example>, Vec<Duplicate>) {
    let mut ids: HashSet<ExampleId> = HashSet::with_capacity(examples.len());
    let mut contents: HashMap<[u8; 32], ExampleId> = HashMap::new();
    let mut kept = Vec::with_capacity(examples.len());
    let mut removed = Vec::new();
    for example in examples {
        if ids.contains(&example.id) {
            removed.push(Duplicate {
                duplicate_of: example.id.clone(),
                id: example.id,
                source: example.source,
                by: DedupBy::Id,
            });
            continue;
        }
        if by_content {
            let digest: [u8; 32] = Sha256::digest(normalized_content(&example).as_bytes()).into();
            if let Some(first) = contents.get(&digest) {
                removed.push(Duplicate {
                    id: example.id,
                    source: example.source,
                    duplicate_of: first.clone(),
                    by: DedupBy::Content,
                });
                continue;
            }
            contents.insert(digest, example.id.clone());
        }
        ids.insert(example.id.clone());
        kept.push(example);
    }
    (kept, removed)
}

/// A uniform 64-bit hash of `seed` and `key`, salted by what it is used for (so that the
/// shuffle order and the split of one seed are independent).
pub fn seeded_hash(salt: &str, seed: u64, key: &str) -> u64 {
    let digest = Sha256::digest(format!("seal-data|{salt}|{seed}|{key}").as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes"))
}

/// Orders `examples` by a hash of the seed and each id (ties, which need a 64-bit collision,
/// by id): the same records give the same order whatever order they came in.
pub fn shuffle(examples: &mut [Example], seed: u64) {
    examples.sort_by_cached_key(|e| (seeded_hash("shuffle", seed, e.id.as_str()), e.id.clone()));
}

/// Keeps `n` records chosen by the seed (those with the smallest hash of seed and id), in input
/// order. Adding records to the input can only displace a kept record by a new one, never
/// reshuffle the choice among the old ones.
pub fn sample(examples: Vec<Example>, n: usize, seed: u64) -> Vec<Example> {
    if n >= examples.len() {
        return examples;
    }
    let mut keys: Vec<(u64, ExampleId)> = examples
        .iter()
        .map(|e| (seeded_hash("sample", seed, e.id.as_str()), e.id.clone()))
        .collect();
    keys.sort_unstable();
    let chosen: HashSet<ExampleId> = keys.into_iter().take(n).map(|(_, id)| id).collect();
    examples.into_iter().filter(|e| chosen.contains(&e.id)).collect()
}

/// What a hash split hashes: the id (the default), or the normalised prompt text, so that
/// records sharing a prompt (the `chosen` and `rejected` sides of one HH-RLHF dialogue, an
/// instruction with two answers) always land on the same side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitKey {
    /// The record id.
    #[default]
    Id,
    /// [`normalized_prompt`].
    Prompt,
}

/// Sets each record's `split` to one of `fractions`' names, by a hash of the seed and the key:
/// the unit interval is cut into consecutive parts of the given sizes, in the given order, and
/// a record goes to the part its hash falls in.
///
/// # Errors
/// [`DataError::Invalid`] if there are no parts, a fraction is not positive, or they do not sum
/// to 1.
pub fn assign_splits(
    examples: &mut [Example],
    seed: u64,
    fractions: &[(String, f64)],
    key: SplitKey,
) -> Result<()> {
    let invalid = |problem: String| DataError::Invalid {
        what: "split fractions".to_string(),
        problem,
    };
    if fractions.is_empty() {
        return Err(invalid("no splits given".to_string()));
    }
    if let Some((name, f)) = fractions.iter().find(|(_, f)| !(*f > 0.0 && *f <= 1.0)) {
        return Err(invalid(format!("`{name}` = {f} is not in (0, 1]")));
    }
    let sum: f64 = fractions.iter().map(|(_, f)| f).sum();
    if (sum - 1.0).abs() > 1e-9 {
        return Err(invalid(format!("they sum to {sum}, not 1")));
    }
    for example in examples {
        let key_text = match key {
            SplitKey::Id => example.id.as_str().to_string(),
            SplitKey::Prompt => normalized_prompt(example),
        };
        // The top 53 bits as a float in [0, 1): exact, so the cut points are platform-independent.
        let u = (seeded_hash("split", seed, &key_text) >> 11) as f64 / (1u64 << 53) as f64;
        let mut upper = 0.0;
        let mut chosen = &fractions[fractions.len() - 1].0;
        for (name, f) in fractions {
            upper += f;
            if u < upper {
                chosen = name;
                break;
            }
        }
        example.split = Some(chosen.clone());
    }
    Ok(())
}
