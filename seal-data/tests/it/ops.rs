//! Dedup, seeded shuffles, samples and hash splits: deterministic for a seed, and independent of
//! the order the records come in.

use std::collections::BTreeMap;

use seal_data::{ChatMessage, DedupBy, Example, SplitKey, assign_splits, dedup, read_jsonl, sample, shuffle};

fn world_ft() -> Vec<Example> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/world/ft.jsonl");
    read_jsonl(&path).expect("world ft.jsonl")
}

fn ids(examples: &[Example]) -> Vec<String> {
    examples.iter().map(|e| e.id.as_str().to_string()).collect()
}

fn reversed(examples: &[Example]) -> Vec<Example> {
    examples.iter().rev().cloned().collect()
}

#[test]
fn dedup_by_id_keeps_the_first_and_reports_the_rest() {
    let all = world_ft();
    let mut input = all[..5].to_vec();
    input.push(all[2].clone());
    let mut changed = all[0].clone();
    changed.response = Some("a different answer under the same id".into());
    input.push(changed);
    let (kept, removed) = dedup(input, false);
    assert_eq!(ids(&kept), ids(&all[..5]));
    assert_eq!(kept[0], all[0], "the first record of an id is the one kept");
    let removed: Vec<(&str, DedupBy)> = removed.iter().map(|d| (d.id.as_str(), d.by)).collect();
    assert_eq!(
        removed,
        [
            (all[2].id.as_str(), DedupBy::Id),
            (all[0].id.as_str(), DedupBy::Id)
        ]
    );
}

#[test]
fn dedup_by_content_ignores_case_and_whitespace_only() {
    let a = Example {
        id: seal_core::ExampleId("a".into()),
        source: "s".into(),
        prompt: vec![ChatMessage::user("Name a  primary colour.")],
        response: Some("Red.".into()),
        label: Default::default(),
        category: None,
        split: None,
        novel: false,
    };
    let mut b = a.clone();
    b.id = seal_core::ExampleId("b".into());
    b.prompt = vec![ChatMessage::user("name a primary\ncolour.")];
    b.response = Some(" red. ".into());
    let mut c = a.clone();
    c.id = seal_core::ExampleId("c".into());
    c.response = Some("Blue.".into());
    let (kept, removed) = dedup(vec![a.clone(), b.clone(), c.clone()], true);
    assert_eq!(ids(&kept), ["a", "c"]);
    assert_eq!(removed.len(), 1);
    assert_eq!(
        (removed[0].id.as_str(), removed[0].duplicate_of.as_str()),
        ("b", "a")
    );
    assert_eq!(removed[0].by, DedupBy::Content);
    // Without content dedup all three stay.
    assert_eq!(dedup(vec![a, b, c], false).0.len(), 3);
}

#[test]
fn shuffle_depends_on_the_seed_and_the_ids_only() {
    let all = world_ft();
    let mut a = all.clone();
    let mut b = reversed(&all);
    shuffle(&mut a, 7);
    shuffle(&mut b, 7);
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&all), "a shuffle moves records");
    let mut c = all.clone();
    shuffle(&mut c, 8);
    assert_ne!(ids(&a), ids(&c), "another seed, another order");
}

#[test]
fn sample_is_stable_under_reordering_and_keeps_input_order() {
    let all = world_ft();
    let a = sample(all.clone(), 100, 3);
    let b = sample(reversed(&all), 100, 3);
    assert_eq!(a.len(), 100);
    let mut sorted_b = ids(&b);
    sorted_b.reverse();
    assert_eq!(ids(&a), sorted_b, "same records, each in its input's order");
    // A larger sample of the same seed contains the smaller one.
    let bigger = ids(&sample(all.clone(), 200, 3));
    assert!(ids(&a).iter().all(|id| bigger.contains(id)));
    assert_ne!(ids(&sample(all.clone(), 100, 4)), ids(&a));
    assert_eq!(sample(all.clone(), 10_000, 3).len(), all.len());
}

#[test]
fn splits_depend_on_seed_and_key_and_match_their_fractions() {
    let all = world_ft();
    let fractions = [("train".to_string(), 0.75), ("test".to_string(), 0.25)];
    let split_of = |examples: &[Example], seed| {
        let mut copy = examples.to_vec();
        assign_splits(&mut copy, seed, &fractions, SplitKey::Id).expect("valid fractions");
        copy.into_iter()
            .map(|e| (e.id.as_str().to_string(), e.split.expect("assigned")))
            .collect::<BTreeMap<_, _>>()
    };
    let a = split_of(&all, 11);
    assert_eq!(a, split_of(&reversed(&all), 11));
    assert_eq!(
        a,
        split_of(&all[..400], 11)
            .into_iter()
            .chain(split_of(&all[400..], 11))
            .collect()
    );
    assert_ne!(a, split_of(&all, 12));
    let test = a.values().filter(|s| *s == "test").count();
    // 800 records at 25%: the count is binomial, sd about 12.
    assert!((150..=250).contains(&test), "{test} of 800 in test");
}

#[test]
fn prompt_keyed_splits_keep_records_with_one_prompt_together() {
    let all = world_ft();
    let mut twins = Vec::new();
    for e in &all[..200] {
        let mut twin = e.clone();
        twin.id = seal_core::ExampleId(format!("{}-twin", e.id));
        twin.response = Some("another answer".into());
        twins.push(e.clone());
        twins.push(twin);
    }
    let fractions = [("a".to_string(), 0.5), ("b".to_string(), 0.5)];
    assign_splits(&mut twins, 5, &fractions, SplitKey::Prompt).expect("valid");
    assert!(twins.chunks(2).all(|pair| pair[0].split == pair[1].split));
    assert!(twins.iter().any(|e| e.split.as_deref() == Some("a")));
    assert!(twins.iter().any(|e| e.split.as_deref() == Some("b")));
}

#[test]
fn bad_split_fractions_are_named() {
    let mut all = world_ft();
    let sum = [("train".to_string(), 0.8), ("test".to_string(), 0.1)];
    let err = assign_splits(&mut all, 0, &sum, SplitKey::Id).expect_err("sum 0.9");
    assert!(err.to_string().contains("sum to 0.9"), "{err}");
    let negative = [("train".to_string(), 1.2), ("test".to_string(), -0.2)];
    let err = assign_splits(&mut all, 0, &negative, SplitKey::Id).expect_err("negative");
    assert!(err.to_string().contains("`train` = 1.2"), "{err}");
    assert!(assign_splits(&mut all, 0, &[], SplitKey::Id).is_err());
}
