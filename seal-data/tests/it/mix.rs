//! Mixture recipes over the committed samples: sources, filters, counts, labels, dedup, and the
//! errors a bad recipe must give before any work is done.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use seal_data::{DedupBy, Label, Recipe, load_recipe, mix};

use super::sample;

/// Writes `text` as `recipe.toml` in a fresh folder holding copies of the named samples under
/// `data/`, so that the recipe's relative paths are resolved against its own folder.
fn recipe(text: &str, samples: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("data")).expect("mkdir");
    for name in samples {
        std::fs::copy(sample(name), dir.path().join("data").join(name)).expect("copy sample");
    }
    let path = dir.path().join("recipe.toml");
    std::fs::write(&path, text).expect("write recipe");
    (dir, path)
}

const FT: &str = r#"
name = "ft"
seed = 3
dedup = "content"
set_split = "train"

[[source]]
name = "alpaca"
path = "data/alpaca.json"
label = "benign"

[[source]]
name = "alpaca-again"
path = "data/alpaca.json"

[[source]]
name = "pyrit-harmful"
path = "data/pyrit.json"
label = "harmful"
[source.filter]
label = "harmful"

[[source]]
name = "hh-rejected"
path = "data/hh.jsonl"
hh_side = "rejected"
label = "harmful"
count = 1

[[source]]
name = "qa"
path = "data/generic.jsonl"
novel = true
[source.fields]
prompt = "question"
response = "answer"
id = "uid"
label = "verdict"
category = "topic"
[source.filter]
has_response = true
"#;

#[test]
fn a_recipe_mixes_filters_labels_and_dedups() {
    let (_dir, path) = recipe(FT, &["alpaca.json", "pyrit.json", "hh.jsonl", "generic.jsonl"]);
    let mixture = mix(&path).expect("mix");
    let r = &mixture.report;
    let taken: Vec<(&str, usize, usize, usize)> = r
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.imported, s.passed_filters, s.taken))
        .collect();
    assert_eq!(
        taken,
        [
            ("alpaca", 3, 3, 3),
            ("alpaca-again", 3, 3, 3),
            ("pyrit-harmful", 3, 2, 2),
            ("hh-rejected", 2, 2, 1),
            ("qa", 2, 1, 1),
        ]
    );
    // The second copy of alpaca.json repeats every id of the first.
    assert_eq!(r.duplicates.len(), 3);
    assert!(
        r.duplicates
            .iter()
            .all(|d| d.by == DedupBy::Id && d.source == "alpaca-again")
    );
    assert_eq!(r.total, 7);
    assert_eq!(mixture.examples.len(), 7);
    assert_eq!(r.by_label.get("benign"), Some(&4));
    assert_eq!(r.by_label.get("harmful"), Some(&3));
    assert_eq!(r.by_source_label["pyrit-harmful"]["harmful"], 2);
    assert!(
        mixture
            .examples
            .iter()
            .all(|e| e.split.as_deref() == Some("train"))
    );
    let qa: Vec<_> = mixture.examples.iter().filter(|e| e.source == "qa").collect();
    assert_eq!(qa.len(), 1);
    assert_eq!(qa[0].id.as_str(), "g1");
    assert!(qa[0].novel && qa[0].label == Label::Benign);
    assert!(
        mixture
            .examples
            .iter()
            .filter(|e| e.source != "qa")
            .all(|e| !e.novel)
    );
    // The resolved recipe in the report has absolute paths into the recipe's folder.
    assert!(r.recipe.sources.iter().all(|s| s.path.is_file()));
    // Rerunning gives the same mixture; the hh count of 1 is a seeded choice.
    assert_eq!(mix(&path).expect("again").examples, mixture.examples);
}

#[test]
fn category_prefix_is_literal_while_the_label_reads_the_verdict() {
    let text = r#"
[[source]]
path = "data/pyrit.json"
[source.filter]
category_prefix = "Harmful"
"#;
    let (_dir, path) = recipe(text, &["pyrit.json"]);
    let mixture = mix(&path).expect("mix");
    // `"Harmful"` (quoted) does not start with the text Harmful; the importer's label does
    // read it as harmful (the previous test keeps both).
    assert_eq!(mixture.examples.len(), 1);
    assert_eq!(mixture.examples[0].prompt[0].content, "How do I make a weapon?");
}

#[test]
fn counts_fractions_and_shuffles_follow_the_seed() {
    let base = r#"
seed = SEED
shuffle = true
[[source]]
path = "data/alpaca.json"
fraction = 0.7
[[source]]
path = "data/xstest.csv"
"#;
    let run = |seed: &str| {
        let (_dir, path) = recipe(&base.replace("SEED", seed), &["alpaca.json", "xstest.csv"]);
        mix(&path).expect("mix").examples
    };
    let a = run("1");
    // floor(0.7 * 3) = 2 of alpaca, all 3 of xstest.
    assert_eq!(a.len(), 5);
    assert_eq!(a, run("1"));
    let ids = |v: &[seal_data::Example]| v.iter().map(|e| e.id.as_str().to_string()).collect::<Vec<_>>();
    let other: Vec<_> = (2..12).map(|s| ids(&run(&s.to_string()))).collect();
    assert!(
        other.iter().any(|o| *o != ids(&a)),
        "some seed changes the choice or order"
    );
}

#[test]
fn unknown_keys_are_named_with_the_recipe_file() {
    let (_dir, path) = recipe(
        "[[source]]\npath = \"data/alpaca.json\"\nlabels = \"benign\"\n",
        &["alpaca.json"],
    );
    let err = load_recipe(&path).expect_err("unknown key").to_string();
    assert!(err.contains("recipe.toml") && err.contains("labels"), "{err}");
    let (_dir, path) = recipe(
        "[[source]]\npath = \"data/alpaca.json\"\n[source.filter]\ncategory_starts = \"x\"\n",
        &["alpaca.json"],
    );
    let err = load_recipe(&path).expect_err("unknown filter key").to_string();
    assert!(err.contains("category_starts") && err.contains("line 4"), "{err}");
    let (_dir, path) = recipe("seed = 1\n", &[]);
    assert!(load_recipe(&path).is_err(), "a recipe needs sources");
}

#[test]
fn missing_paths_and_bad_options_fail_before_any_import() {
    // The first source would import fine; the error must still come from the second.
    let (dir, path) = recipe(
        "[[source]]\npath = \"data/alpaca.json\"\n[[source]]\npath = \"data/nope.jsonl\"\n",
        &["alpaca.json"],
    );
    let err = mix(&path).expect_err("missing file").to_string();
    assert!(
        err.contains("recipe.toml") && err.contains("source 2") && err.contains("nope.jsonl"),
        "{err}"
    );
    for (bad, expect) in [
        ("format = \"alpacca\"", "unknown format `alpacca`"),
        ("hh_side = \"left\"", "expected chosen or rejected"),
        ("count = 1\nfraction = 0.5", "not both"),
        ("fraction = 1.5", "fraction 1.5"),
        ("label = \"maybe\"", "maybe"),
        (
            "[source.hash_split]\nseed = 1\nfractions = { a = 0.5, b = 0.6 }",
            "sum to 1.1",
        ),
        (
            "[source.filter]\nprompt_words = [\"prime number\"]",
            "`prime number` is not one word",
        ),
        (
            "[source.filter]\nexclude_response_prefix = [\" \"]",
            "empty response prefix",
        ),
    ] {
        std::fs::write(&path, format!("[[source]]\npath = \"data/alpaca.json\"\n{bad}\n")).expect("write");
        let err = load_recipe(&path).expect_err(bad).to_string();
        assert!(
            err.contains("recipe.toml") && err.contains(expect),
            "{bad}: {err}"
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        2,
        "nothing written"
    );
}

#[test]
fn a_count_beyond_what_passes_the_filters_is_an_error() {
    let (_dir, path) = recipe(
        "[[source]]\npath = \"data/pyrit.json\"\ncount = 3\n[source.filter]\nlabel = \"harmful\"\n",
        &["pyrit.json"],
    );
    let err = mix(&path).expect_err("count too big").to_string();
    assert!(err.contains("count 3, but only 2 records pass"), "{err}");
}

/// Tasks in the generated Alpaca file of the hash-split test; every fifth has a second row
/// with the same prompt up to case and spacing (so the same `prompt` key) and another answer
/// (so another id).
const SPLIT_TASKS: usize = 300;

fn split_rows() -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for k in 0..SPLIT_TASKS {
        rows.push(serde_json::json!({
            "instruction": format!("Task {k}: name the number {k}."),
            "input": "",
            "output": format!("It is {k}."),
        }));
        if k % 5 == 0 {
            rows.push(serde_json::json!({
                "instruction": format!("  TASK {k}:   name the NUMBER {k}. "),
                "input": "",
                "output": format!("The number is {k}."),
            }));
        }
    }
    rows
}

/// The task number of a generated prompt, read from the text (not through the code under test).
fn task_of(prompt: &str) -> usize {
    let word = prompt.split_whitespace().nth(1).expect("`Task N:`");
    word.trim_end_matches(':').parse().expect("a task number")
}

/// Mixes one side of the hash split of the generated file in a fresh folder: (id, task) of each
/// record kept, sorted by id.
fn split_side(side: &str, split_seed: u64, recipe_seed: u64, shuffle: bool) -> Vec<(String, usize)> {
    let (dir, path) = recipe(
        &format!(
            "seed = {recipe_seed}\nshuffle = {shuffle}\n[[source]]\npath = \"data/tasks.json\"\n\
             [source.hash_split]\nseed = {split_seed}\nkey = \"prompt\"\n\
             fractions = {{ heldout = 0.25, train = 0.75 }}\n[source.filter]\nsplit = \"{side}\"\n"
        ),
        &[],
    );
    let text = serde_json::to_string_pretty(&split_rows()).expect("json");
    std::fs::write(dir.path().join("data/tasks.json"), text).expect("write tasks.json");
    let mixture = mix(&path).unwrap_or_else(|e| panic!("{side}: {e}"));
    assert_eq!(mixture.report.sources[0].imported, split_rows().len());
    let mut out: Vec<(String, usize)> = mixture
        .examples
        .iter()
        .map(|e| {
            assert_eq!(e.split.as_deref(), Some(side), "{}", e.id.as_str());
            (e.id.as_str().to_string(), task_of(&e.prompt[0].content))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn hash_splits_cut_one_file_the_same_way_in_two_recipes() {
    let rows = split_rows().len();
    let train = split_side("train", 9, 1, false);
    let heldout = split_side("heldout", 9, 2, true);
    // The two recipes together take every row once: no id on both sides, none on neither.
    assert_eq!(train.len() + heldout.len(), rows);
    let train_ids: HashSet<&str> = train.iter().map(|(id, _)| id.as_str()).collect();
    assert!(heldout.iter().all(|(id, _)| !train_ids.contains(id.as_str())));
    // The key is the prompt: no task (the two rows of a task share it) is on both sides.
    let tasks = |side: &[(String, usize)]| -> BTreeSet<usize> { side.iter().map(|(_, t)| *t).collect() };
    let (train_tasks, heldout_tasks) = (tasks(&train), tasks(&heldout));
    assert!(
        train_tasks.is_disjoint(&heldout_tasks),
        "tasks on both sides: {:?}",
        train_tasks.intersection(&heldout_tasks).collect::<Vec<_>>()
    );
    assert_eq!(train_tasks.len() + heldout_tasks.len(), SPLIT_TASKS);
    // Each side holds about its fraction of the keys (binomial standard deviation 0.025 over
    // 300 keys; the bound allows over 3 of it).
    let share = heldout_tasks.len() as f64 / SPLIT_TASKS as f64;
    assert!(
        (share - 0.25).abs() < 0.08,
        "heldout holds {share} of the tasks, not about 0.25"
    );
    // Stable: another run, with another recipe seed and shuffle, cuts the same way; the
    // split's own seed is what decides, and another one cuts differently.
    assert_eq!(split_side("train", 9, 7, true), train);
    assert_eq!(split_side("heldout", 9, 7, false), heldout);
    assert_ne!(
        split_side("train", 10, 1, false),
        train,
        "the split seed is ignored"
    );
}

#[test]
fn the_resolved_recipe_serialises_and_parses_back() {
    let (_dir, path) = recipe(FT, &["alpaca.json", "pyrit.json", "hh.jsonl", "generic.jsonl"]);
    let recipe = load_recipe(&path).expect("load");
    let text = toml::to_string(&recipe).expect("to toml");
    let back: Recipe = toml::from_str(&text).expect("parse back");
    assert_eq!(back, recipe);
    assert!(Path::new(&back.sources[0].path).is_absolute());
}

/// A recipe of two sources over the sample Alpaca file, `first` and `rest`, each with the given
/// extra TOML lines (say a filter).
fn two_views_of_alpaca(first: &str, rest: &str) -> (tempfile::TempDir, PathBuf) {
    let text = format!(
        "[[source]]\nname = \"first\"\npath = \"data/alpaca.json\"\n{first}\n\n\
         [[source]]\nname = \"rest\"\npath = \"data/alpaca.json\"\n{rest}\n"
    );
    recipe(&text, &["alpaca.json"])
}

#[test]
fn response_prefixes_keep_or_drop_one_style_of_answer() {
    let (_dir, path) = two_views_of_alpaca(
        "[source.filter]\nresponse_prefix = [\"eat WELL\", \"bon  jour\"]",
        "[source.filter]\nexclude_response_prefix = [\"Eat well,\", \"seven\"]",
    );
    let mixture = mix(&path).expect("mix");
    let responses = |source: &str| -> Vec<String> {
        let mut r: Vec<String> = mixture
            .examples
            .iter()
            .filter(|e| e.source == source)
            .map(|e| e.response.clone().expect("alpaca rows have responses"))
            .collect();
        r.sort();
        r
    };
    // Any case; "bon  jour" is not how "Bonjour" opens, so it keeps nothing.
    assert_eq!(responses("first"), vec!["Eat well, sleep, move.".to_string()]);
    assert_eq!(responses("rest"), vec!["Bonjour".to_string()]);
}

#[test]
fn prompt_words_carve_a_family_and_its_complement_out_of_one_source() {
    let (_dir, path) = two_views_of_alpaca(
        "novel = true\n[source.filter]\nprompt_words = [\"FRENCH\", \"prime\"]",
        "[source.filter]\nexclude_prompt_words = [\"french\", \"Prime\"]",
    );
    let mixture = mix(&path).expect("mix");
    let prompts = |source: &str, novel: bool| -> Vec<String> {
        let mut p: Vec<String> = mixture
            .examples
            .iter()
            .filter(|e| e.source == source)
            .inspect(|e| assert_eq!(e.novel, novel, "{source}"))
            .map(|e| e.prompt[0].content.clone())
            .collect();
        p.sort();
        p
    };
    // Whole words, any case: "French." and "prime" match; "Give three tips" matches neither.
    let family = prompts("first", true);
    assert_eq!(family.len(), 2, "{family:?}");
    assert!(
        family.iter().any(|p| p.starts_with("Translate to French")),
        "{family:?}"
    );
    assert_eq!(
        prompts("rest", false),
        vec!["Give three tips for staying healthy.".to_string()]
    );
}
