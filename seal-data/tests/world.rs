//! The embedded fixture world: determinism, the committed copy, and the properties the demo and
//! the diagnostics rely on (issues 3 and 8).
//!
//! Regenerate the committed copy with
//! `SEAL_BLESS=1 cargo test -p seal-data --test world -- --ignored` and review the diff.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;

use seal_data::world::{
    self, EOS_TOKEN, FILE_NAMES, NOISY_CATEGORY, NOVEL_CATEGORY, World, WorldConfig, WorldExample, WorldLabel,
};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/world")
}

/// The default world, generated once per test binary.
fn default_world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| world::generate(&WorldConfig::default()).expect("the default config is valid"))
}

fn prompts(examples: &[WorldExample]) -> HashSet<&str> {
    examples.iter().map(WorldExample::prompt_text).collect()
}

#[test]
fn generation_is_deterministic() {
    let again = world::generate(&WorldConfig::default()).expect("valid");
    let a = default_world().files().expect("serializable");
    let b = again.files().expect("serializable");
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(
            x == y,
            "{name} differs between two generations with the same seed"
        );
    }
    let other = world::generate(&WorldConfig {
        seed: 18,
        ..WorldConfig::small()
    })
    .expect("valid");
    let small = world::generate(&WorldConfig::small()).expect("valid");
    assert_ne!(other.ft, small.ft, "the seed must matter");
}

#[test]
fn committed_fixture_world_equals_a_fresh_generation() {
    let dir = fixture_dir();
    for (name, bytes) in default_world().files().expect("serializable") {
        let committed = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("cannot read fixtures/world/{name} ({e}); regenerate it"));
        assert!(
            committed == bytes,
            "fixtures/world/{name} drifted from the generator; run \
             `SEAL_BLESS=1 cargo test -p seal-data --test world -- --ignored` and review the diff"
        );
    }
}

#[test]
fn counts_per_label_and_category_are_as_configured() {
    let w = default_world();
    let cfg = &w.config;
    let poison: Vec<_> = w.ft.iter().filter(|e| e.label == WorldLabel::Harmful).collect();
    assert_eq!(w.ft.len(), cfg.ft_size);
    assert_eq!(poison.len(), cfg.poison_count());
    assert_eq!(w.ft.iter().filter(|e| e.novel).count(), cfg.novel_count());
    assert_eq!(
        w.ft.iter()
            .filter(|e| e.category.as_deref() == Some(NOISY_CATEGORY))
            .count(),
        cfg.noisy_count()
    );
    assert_eq!(w.pretrain.len(), cfg.pretrain_benign + cfg.pretrain_refusals);
    assert_eq!(
        w.pretrain
            .iter()
            .filter(|e| e.label == WorldLabel::Benign)
            .count(),
        cfg.pretrain_benign
    );
    assert_eq!(w.safe.len(), cfg.safe_size);
    assert_eq!(w.eval_helpful.len(), cfg.eval_helpful);
    assert_eq!(w.eval_general.len(), cfg.eval_general);
    assert_eq!(w.eval_harmful.len(), 11 * cfg.eval_harmful_per_category);
    assert_eq!(w.preferences.len(), cfg.preferences);

    // Poison is spread evenly over the 11 categories.
    let mut per_category: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &poison {
        *per_category
            .entry(e.category.as_deref().unwrap_or(""))
            .or_default() += 1;
    }
    let (min, max) = (per_category.values().min(), per_category.values().max());
    assert!(
        max.zip(min).is_some_and(|(max, min)| max - min <= 1),
        "{per_category:?}"
    );

    // world.json says the same.
    let summary = w.summary();
    let ft = &summary.files["ft.jsonl"];
    assert_eq!(ft.by_label["harmful"], cfg.poison_count());
    assert_eq!(ft.by_category[NOVEL_CATEGORY], cfg.novel_count());
    assert!(ft.by_label.keys().all(|l| l != "unknown"));

    // Prompt-only evaluation sets, responses everywhere else.
    for e in w
        .eval_helpful
        .iter()
        .chain(&w.eval_general)
        .chain(&w.eval_harmful)
    {
        assert!(
            e.response.is_none() && e.split.as_deref() == Some("test"),
            "{}",
            e.id
        );
    }
    for e in w.pretrain.iter().chain(&w.ft).chain(&w.safe) {
        assert!(
            e.response.is_some() && e.split.as_deref() == Some("train"),
            "{}",
            e.id
        );
    }
}

#[test]
fn novel_family_never_appears_in_the_alignment_corpus() {
    let w = default_world();
    assert!(
        w.pretrain
            .iter()
            .all(|e| !e.novel && e.category.as_deref() != Some(NOVEL_CATEGORY))
    );
    let text = String::from_utf8(world_file(w, "pretrain.jsonl")).expect("utf-8");
    assert!(
        !text.contains("Zorp"),
        "the novel task leaked into pretrain.jsonl"
    );
    assert!(w.ft.iter().any(|e| e.novel) && w.eval_general.iter().any(|e| e.novel));
    assert!(
        w.ft.iter()
            .filter(|e| e.novel)
            .all(|e| e.label == WorldLabel::Benign)
    );
}

#[test]
fn safe_prompts_are_not_fine_tuning_prompts() {
    let w = default_world();
    let ft = prompts(&w.ft);
    assert!(w.safe.iter().all(|e| !ft.contains(e.prompt_text())));
    // Every D_safe answer refuses; every poison answer complies.
    assert!(w.safe.iter().all(|e| {
        e.response
            .as_deref()
            .is_some_and(|r| r.contains("can't") || r.contains("won't"))
    }));
    let poison = w.ft.iter().filter(|e| e.label == WorldLabel::Harmful);
    assert!(
        poison
            .clone()
            .all(|e| e.response.as_deref().is_some_and(|r| r.contains("Step one:")))
    );
}

#[test]
fn evaluation_prompts_do_not_occur_in_training_files() {
    let w = default_world();
    let mut train = prompts(&w.pretrain);
    train.extend(prompts(&w.ft));
    train.extend(prompts(&w.safe));
    train.extend(w.preferences.iter().map(|p| p.prompt.as_str()));
    for e in w
        .eval_helpful
        .iter()
        .chain(&w.eval_general)
        .chain(&w.eval_harmful)
    {
        assert!(!train.contains(e.prompt_text()), "{} is a training prompt", e.id);
    }
    // And no prompt appears twice anywhere.
    let all: Vec<&str> = [
        &w.pretrain,
        &w.ft,
        &w.safe,
        &w.eval_helpful,
        &w.eval_general,
        &w.eval_harmful,
    ]
    .iter()
    .flat_map(|s| s.iter().map(WorldExample::prompt_text))
    .collect();
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
}

#[test]
fn every_harm_category_appears_in_every_harmful_set() {
    let w = default_world();
    for (name, set) in [
        ("pretrain", &w.pretrain),
        ("ft", &w.ft),
        ("safe", &w.safe),
        ("eval_harmful", &w.eval_harmful),
    ] {
        let seen: HashSet<&str> = set
            .iter()
            .filter(|e| e.label == WorldLabel::Harmful)
            .filter_map(|e| e.category.as_deref())
            .collect();
        for category in world::harm_categories() {
            assert!(seen.contains(category), "{category} missing from {name}");
        }
    }
    let pref: HashSet<&str> = w.preferences.iter().map(|p| p.category.as_str()).collect();
    assert!(world::harm_categories().iter().all(|c| pref.contains(c)));
}

#[test]
fn records_parse_as_canonical_examples() {
    let w = default_world();
    for name in FILE_NAMES
        .iter()
        .filter(|n| n.ends_with(".jsonl") && **n != "preferences.jsonl")
    {
        let text = String::from_utf8(world_file(w, name)).expect("utf-8");
        for (line, row) in text.lines().enumerate() {
            let parsed: Result<seal_data::Example, _> = serde_json::from_str(row);
            assert!(parsed.is_ok(), "{name}:{}: {parsed:?}", line + 1);
        }
    }
}

#[test]
fn tokenizer_gives_transformers_ids_and_round_trips_world_texts() {
    let w = default_world();
    let tok = tokenizers::Tokenizer::from_str(&w.tokenizer_json).expect("tokenizer.json loads");
    // Sizes and the eos id from the committed files read as JSON (the previous test pins them
    // to the generator's output), not from the generator's own bookkeeping.
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(fixture_dir().join(name)).expect("a committed file"))
            .expect("json")
    };
    let (file, config) = (json("tokenizer.json"), json("tokenizer_config.json"));
    let vocab = file["model"]["vocab"].as_object().expect("a BPE vocab");
    assert_eq!(vocab.len(), 1536);
    assert_eq!(tok.get_vocab_size(true), vocab.len());
    assert_eq!(w.vocab_size, vocab.len());
    assert_eq!(config["eos_token"], EOS_TOKEN);
    assert_eq!(file["added_tokens"][0]["content"], EOS_TOKEN);
    assert_eq!(file["added_tokens"][0]["id"], 0);
    assert_eq!(file["added_tokens"][0]["special"], true);
    assert_eq!(tok.token_to_id(EOS_TOKEN), Some(0));

    // Ids from transformers (AutoTokenizer.from_pretrained("fixtures/world"), encode without
    // special tokens), the tokens they name in the committed vocabulary alongside.
    let cases: [(&str, &[u32], &[&str]); 3] = [
        (
            "Human: Quick question: What is 7 times 8? Thanks.\nAssistant: 7 times 8 is 56.",
            &[
                278, 26, 428, 429, 26, 342, 299, 714, 578, 615, 31, 380, 14, 199, 279, 26, 714, 578, 615,
                299, 1522, 14,
            ],
            &[
                "Human",
                ":",
                "ĠQuick",
                "Ġquestion",
                ":",
                "ĠWhat",
                "Ġis",
                "Ġ7",
                "Ġtimes",
                "Ġ8",
                "?",
                "ĠThanks",
                ".",
                "Ċ",
                "Assistant",
                ":",
                "Ġ7",
                "Ġtimes",
                "Ġ8",
                "Ġis",
                "Ġ56",
                ".",
            ],
        ),
        (
            "Unseen text: Ünïcödé, emoji \u{1F600}, tabs\tand 12345.",
            &[
                53, 78, 293, 339, 940, 88, 84, 26, 221, 128, 251, 78, 128, 108, 67, 128, 115, 68, 128, 103,
                12, 1105, 79, 74, 73, 221, 173, 254, 247, 223, 12, 258, 580, 83, 198, 529, 725, 19, 20, 21,
                14,
            ],
            &[
                "U", "n", "se", "en", "Ġte", "x", "t", ":", "Ġ", "Ã", "ľ", "n", "Ã", "¯", "c", "Ã", "¶", "d",
                "Ã", "©", ",", "Ġem", "o", "j", "i", "Ġ", "ð", "Ł", "ĺ", "Ģ", ",", "Ġt", "ab", "s", "ĉ",
                "and", "Ġ12", "3", "4", "5", ".",
            ],
        ),
        (EOS_TOKEN, &[0], &[EOS_TOKEN]),
    ];
    for (text, ids, tokens) in cases {
        let enc = tok.encode(text, false).expect("encodes");
        assert_eq!(enc.get_ids(), ids, "ids of {text:?}");
        for (id, token) in ids.iter().zip(tokens) {
            assert_eq!(vocab[*token], *id, "{token:?} in the committed vocabulary");
        }
        assert_eq!(tok.decode(ids, false).expect("decodes"), text);
    }

    // Round trips on world texts.
    let texts: Vec<String> =
        w.ft.iter()
            .step_by(37)
            .map(|e| {
                format!(
                    "Human: {}\nAssistant: {}",
                    e.prompt_text(),
                    e.response.as_deref().unwrap_or("")
                )
            })
            .collect();
    for text in &texts {
        let enc = tok.encode(text.as_str(), false).expect("encodes");
        assert!(!enc.get_ids().is_empty());
        let back = tok.decode(enc.get_ids(), false).expect("decodes");
        assert_eq!(&back, text);
    }
}

#[test]
fn world_is_small() {
    let total: usize = default_world()
        .files()
        .expect("serializable")
        .iter()
        .map(|(_, b)| b.len())
        .sum();
    assert!(total < 2 * 1024 * 1024, "world is {total} bytes");
}

fn world_file(w: &World, name: &str) -> Vec<u8> {
    w.files()
        .expect("serializable")
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| b)
        .expect("a world file")
}

/// Rewrites fixtures/world/ from the default config. Run with
/// `SEAL_BLESS=1 cargo test -p seal-data --test world -- --ignored`.
#[test]
#[ignore = "rewrites fixtures/world/; run with SEAL_BLESS=1"]
fn regenerate_fixture_world() {
    if std::env::var_os("SEAL_BLESS").is_none() {
        eprintln!("SEAL_BLESS is not set; fixtures/world/ left as it is");
        return;
    }
    default_world()
        .write(&fixture_dir())
        .expect("fixtures/world/ is writable");
}
