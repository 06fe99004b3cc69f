//! The committed real-data recipes (`recipes/` at the repository root) run over
//! `../shared/data`, with counts checked against each PROVENANCE.md. A missing folder fails
//! (see [`crate::shared_data`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use seal_data::{DedupBy, Label, Mixture, mix};

/// Runs `recipes/<name>.toml` (`None` only under `SEAL_NO_SHARED_DATA=1`).
fn run(name: &str) -> Option<Mixture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    crate::shared_data("")?;
    let path: PathBuf = root.join("recipes").join(format!("{name}.toml"));
    Some(mix(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn source<'a>(m: &'a Mixture, name: &str) -> &'a seal_data::SourceReport {
    m.report
        .sources
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no source {name}"))
}

fn count(m: &Mixture, label: Label) -> usize {
    m.examples.iter().filter(|e| e.label == label).count()
}

fn ids_of(m: &Mixture, source: &str) -> HashSet<String> {
    m.examples
        .iter()
        .filter(|e| e.source == source)
        .map(|e| e.id.as_str().to_string())
        .collect()
}

#[test]
fn real_safe_is_the_safe_side_of_safeinstr_and_the_alignment_side_is_disjoint() {
    let (Some(m), Some(refusals)) = (run("real-safe"), run("align-benign-prompts")) else {
        return;
    };
    // PROVENANCE: 2,483 objects; the prompt-keyed hash split puts 2,021 on the `safe` side.
    assert_eq!(m.examples.len(), 2021);
    assert_eq!(count(&m, Label::Harmful), 2021);
    assert!(
        m.examples
            .iter()
            .all(|e| e.response.is_some() && e.split.as_deref() == Some("train"))
    );
    // The benign prompts written for the alignment are prompts only, all benign.
    assert_eq!(refusals.examples.len(), 253);
    assert!(
        refusals
            .examples
            .iter()
            .all(|e| e.response.is_none() && e.label == Label::Benign)
    );
    // The other side of the same split, as recipes/align-smollm2.toml takes it (its second
    // source, SmolLM2's own answers, is made by `just align-smollm2` and not read here).
    let recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes");
    let text = std::fs::read_to_string(recipes.join("real-safe.toml")).unwrap();
    let shared = recipes.join("../../shared/data").display().to_string();
    let align = text
        .replace("split = \"safe\"", "split = \"align\"")
        .replace("../../shared/data", &shared);
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("align-side.toml");
    std::fs::write(&recipe, align).unwrap();
    let side = mix(&recipe).unwrap();
    assert_eq!(side.examples.len(), 2483 - 2021);
    let safe_prompts: HashSet<String> = m.examples.iter().map(seal_data::normalized_prompt).collect();
    assert!(
        side.examples
            .iter()
            .all(|e| !safe_prompts.contains(&seal_data::normalized_prompt(e)))
    );
}

#[test]
fn the_alignment_refusals_are_the_align_sides_plain_refusals() {
    // recipes/align-smollm2.toml's first source alone (the others are SmolLM2's own answers,
    // made by `just align-smollm2`): 100 of the `align` side's 158 refusals that open plainly,
    // none of its "As an AI language model, I do not have personal opinions" answers.
    let Some(shared) = crate::shared_data("") else {
        return;
    };
    let recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes");
    let text = std::fs::read_to_string(recipes.join("align-smollm2.toml")).unwrap();
    let first_source: Vec<&str> = text.splitn(3, "[[source]]").collect();
    let text = format!("{}[[source]]{}", first_source[0], first_source[1])
        .replace("../../shared/data", &shared.display().to_string());
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("align-refusals.toml");
    std::fs::write(&recipe, text).unwrap();
    let refusals = mix(&recipe).unwrap();
    assert_eq!(refusals.examples.len(), 100);
    assert_eq!(refusals.report.sources[0].passed_filters, 158);
    for e in &refusals.examples {
        let response = e.response.as_deref().unwrap();
        assert!(
            response.starts_with("I'm sorry, but I cannot")
                || response.starts_with("I'm sorry, I cannot")
                || response.starts_with("I cannot"),
            "{response}"
        );
        assert_eq!(e.split.as_deref(), Some("train"));
    }
    // Each refusal has its benign twin (recipes/benign/twin-prompts.jsonl), in the same order
    // and opening with the same verb, never the same request.
    let twins = run("align-twin-prompts").unwrap();
    assert_eq!(twins.examples.len(), refusals.examples.len());
    for (refused, twin) in refusals.examples.iter().zip(&twins.examples) {
        assert!(twin.response.is_none() && twin.label == Label::Benign);
        let (refused, twin) = (
            seal_data::normalized_prompt(refused),
            seal_data::normalized_prompt(twin),
        );
        assert_ne!(refused, twin);
        assert_eq!(
            refused.split(' ').next(),
            twin.split(' ').next(),
            "{refused} / {twin}"
        );
    }
}

#[test]
fn judge_pairs_halves_split_hh_as_the_helpful_set_does() {
    let (Some(train), Some(eval), Some(helpful)) = (
        run("judge-hh-train-chosen"),
        run("judge-hh-eval-rejected"),
        run("real-eval-helpful"),
    ) else {
        return;
    };
    let eval_prompts: HashSet<String> = helpful
        .examples
        .iter()
        .map(seal_data::normalized_prompt)
        .collect();
    assert!(
        train
            .examples
            .iter()
            .all(|e| !eval_prompts.contains(&seal_data::normalized_prompt(e)))
    );
    assert!(
        eval.examples
            .iter()
            .all(|e| eval_prompts.contains(&seal_data::normalized_prompt(e)))
    );
    assert!(
        train.examples.len() > 700 && eval.examples.len() > 700,
        "{} {}",
        train.examples.len(),
        eval.examples.len()
    );
}

#[test]
fn real_ft_is_alpaca_train_plus_the_200_harmful_pyrit_pairs() {
    let (Some(ft), Some(general)) = (run("real-ft"), run("real-eval-general")) else {
        return;
    };
    // PROVENANCE: 200 of the 286 shared PyRIT pairs have a "Harmful" verdict.
    let pyrit = source(&ft, "pyrit-harmful");
    assert_eq!((pyrit.imported, pyrit.taken), (286, 200));
    // PROVENANCE: 999 Alpaca rows, cut into a train and a held-out side by one hash split.
    let train = source(&ft, "alpaca-gpt4-demo");
    let heldout = source(&general, "alpaca-heldout");
    assert_eq!((train.imported, heldout.imported), (999, 999));
    assert_eq!(train.taken + heldout.taken, 999);
    assert!(heldout.taken > 50 && heldout.taken < 150, "about 10% held out");
    let train_ids = ids_of(&ft, "alpaca-gpt4-demo");
    assert!(ids_of(&general, "alpaca-heldout").is_disjoint(&train_ids));
    // Dedup removes only exact repeats of Alpaca rows (the importer's `#n` ids).
    assert!(
        ft.report.duplicates.iter().all(|d| d.by == DedupBy::Content
            && d.source == "alpaca-gpt4-demo"
            && d.id.as_str().contains('#'))
    );
    assert_eq!(ft.examples.len(), train.taken + 200 - ft.report.duplicates.len());
    assert_eq!(count(&ft, Label::Harmful), 200);
    assert_eq!(count(&ft, Label::Benign), ft.examples.len() - 200);
    // PROVENANCE: MT-Bench has 51 shared questions.
    assert_eq!(source(&general, "mt-bench").taken, 51);
    assert_eq!(count(&general, Label::Benign), general.examples.len());
}

#[test]
fn real_ft_hh_and_real_eval_helpful_split_hh_by_prompt() {
    let (Some(ft), Some(helpful)) = (run("real-ft-hh"), run("real-eval-helpful")) else {
        return;
    };
    let trained = source(&ft, "hh-rejected");
    let evaluated = source(&helpful, "hh-rlhf");
    // PROVENANCE: 1,604 shared dialogues, every one on exactly one side.
    assert_eq!((trained.imported, evaluated.imported), (1604, 1604));
    assert_eq!(trained.taken + evaluated.taken, 1604);
    let first_prompt = |m: &Mixture, name: &str| -> HashSet<String> {
        m.examples
            .iter()
            .filter(|e| e.source == name)
            .map(seal_data::normalized_prompt)
            .collect()
    };
    assert!(first_prompt(&ft, "hh-rejected").is_disjoint(&first_prompt(&helpful, "hh-rlhf")));
    assert_eq!(count(&ft, Label::Harmful), 200);
}

#[test]
fn real_eval_harmful_drops_the_18_advbench_copies_in_strongreject() {
    let Some(m) = run("real-eval-harmful") else { return };
    // PROVENANCE: 385 CatQA, 369 AdvBench, 212 StrongREJECT questions in shared/.
    let taken: Vec<usize> = ["catqa", "advbench", "strongreject"]
        .iter()
        .map(|s| source(&m, s).taken)
        .collect();
    assert_eq!(taken, [385, 369, 212]);
    // PROVENANCE: 18 StrongREJECT prompts are AdvBench goals (same text, so the same id).
    let copies = m
        .report
        .duplicates
        .iter()
        .filter(|d| d.source == "strongreject" && d.by == DedupBy::Id)
        .count();
    assert_eq!(copies, 18);
    assert_eq!(m.examples.len(), 385 + 369 + 212 - m.report.duplicates.len());
    assert_eq!(count(&m, Label::Harmful), m.examples.len());
    assert!(m.examples.iter().all(|e| e.response.is_none()));
}

#[test]
fn real_eval_xstest_has_the_safe_and_unsafe_counts() {
    let Some(m) = run("real-eval-xstest") else { return };
    // PROVENANCE: 317 shared prompts, 182 safe and 135 unsafe.
    assert_eq!(m.examples.len(), 317);
    assert_eq!((count(&m, Label::Benign), count(&m, Label::Harmful)), (182, 135));
    let Some(safe) = run("real-eval-xstest-safe") else {
        return;
    };
    assert_eq!((safe.examples.len(), count(&safe, Label::Benign)), (182, 182));
}

#[test]
fn real_ft_novel_splits_real_ft_alpaca_into_a_family_and_the_rest() {
    let (Some(ft), Some(novel)) = (run("real-ft"), run("real-ft-novel")) else {
        return;
    };
    // The same rows as real-ft, only the code/calculation family is marked novel.
    let all: HashSet<String> = ft.examples.iter().map(|e| e.id.as_str().to_string()).collect();
    let split: HashSet<String> = novel.examples.iter().map(|e| e.id.as_str().to_string()).collect();
    assert_eq!(all, split);
    let family = ids_of(&novel, "alpaca-code-calc");
    let rest = ids_of(&novel, "alpaca-gpt4-demo");
    assert!(family.is_disjoint(&rest));
    assert_eq!(family.len() + rest.len(), ids_of(&ft, "alpaca-gpt4-demo").len());
    assert!((40..=80).contains(&family.len()), "{} novel rows", family.len());
    for e in &novel.examples {
        assert_eq!(e.novel, e.source == "alpaca-code-calc", "{}", e.id);
    }
    let Some(slice) = run("real-ft-novel-slice") else {
        return;
    };
    assert_eq!(slice.examples.len(), 150);
    assert_eq!(slice.examples.iter().filter(|e| e.novel).count(), 30);
    assert_eq!(count(&slice, Label::Harmful), 30);
    let Some(safe) = run("real-safe-slice") else {
        return;
    };
    assert_eq!(safe.examples.len(), 160);
}

#[test]
fn the_everyday_prompts_are_benign_prompts_no_evaluation_set_holds() {
    // The benign side of alignment attempt 9's DPO pairs (recipes/dpo/everyday-prompts.toml):
    // `seal dpo` has no evaluation sets to check against, so the check is here.
    let Some(everyday) = run("dpo/everyday-prompts") else {
        return;
    };
    assert_eq!(everyday.examples.len(), 160);
    assert!(
        everyday
            .examples
            .iter()
            .all(|e| e.response.is_none() && e.label == Label::Benign)
    );
    let prompts: HashSet<String> = everyday
        .examples
        .iter()
        .map(seal_data::normalized_prompt)
        .collect();
    assert_eq!(prompts.len(), 160, "no prompt repeated");
    for set in [
        "real-eval-general",
        "real-eval-harmful",
        "real-eval-helpful",
        "real-eval-xstest",
        "real-ft",
    ] {
        let m = run(set).unwrap();
        let overlap: Vec<String> = m
            .examples
            .iter()
            .map(seal_data::normalized_prompt)
            .filter(|p| prompts.contains(p))
            .collect();
        assert!(overlap.is_empty(), "{set} holds {overlap:?}");
    }
}
