//! The real files in `../shared/data` (never copied into the repo): counts must match each
//! PROVENANCE.md. A missing file fails (see [`shared_data`]).

use seal_data::{Format, HhSide, ImportOptions, Label, import_file};

use crate::shared_data as shared;

fn check(rel: &str, format: Format, rows: usize) -> Vec<seal_data::Example> {
    let Some(path) = shared(rel) else {
        return Vec::new();
    };
    let imported = import_file(&path, &ImportOptions::default()).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(imported.formats[0].1, format, "{rel}");
    assert_eq!(imported.examples.len(), rows, "{rel}");
    assert!(
        imported
            .examples
            .iter()
            .all(|e| !e.prompt.is_empty() && e.prompt.last().is_some_and(|m| m.role == "user"))
    );
    imported.examples
}

fn count(examples: &[seal_data::Example], label: Label) -> usize {
    examples.iter().filter(|e| e.label == label).count()
}

#[test]
fn real_alpaca_gpt4_demo() {
    let ex = check("alpaca-gpt4-demo/alpaca_en_demo.json", Format::Alpaca, 999);
    if !ex.is_empty() {
        assert!(ex.iter().filter(|e| e.prompt[0].content.contains("\n\n")).count() >= 412);
    }
}

#[test]
fn real_hh_rlhf_both_sides() {
    check("anthropic-hh-rlhf/harmless-base/test.jsonl", Format::HhRlhf, 1604);
    if let Some(path) = shared("anthropic-hh-rlhf/harmless-base/test.jsonl") {
        let options = ImportOptions {
            hh_side: HhSide::Rejected,
            ..Default::default()
        };
        assert_eq!(
            import_file(&path, &options)
                .expect("rejected side")
                .examples
                .len(),
            1604
        );
    }
}

#[test]
fn real_pyrit_many_shot() {
    let ex = check("pyrit-many-shot/many_shot_examples.json", Format::Pyrit, 286);
    if !ex.is_empty() {
        assert_eq!(count(&ex, Label::Harmful), 200);
        assert_eq!(count(&ex, Label::Benign), 86);
    }
}

#[test]
fn real_prompt_only_sets() {
    check("advbench/harmful_behaviors.csv", Format::AdvBench, 369);
    let catqa = check("catqa/catqa_english.json", Format::CatQa, 385);
    assert!(
        catqa
            .iter()
            .all(|e| e.category.as_deref().is_some_and(|c| !c.ends_with(':')))
    );
    check(
        "harmbench/harmbench_behaviors_text_all.csv",
        Format::HarmBench,
        287,
    );
    check("strongreject/strongreject_dataset.csv", Format::StrongReject, 212);
    check("mt-bench/question.jsonl", Format::MtBench, 51);
    let xstest = check("xstest/xstest_prompts.csv", Format::XsTest, 317);
    if !xstest.is_empty() {
        assert_eq!(
            (count(&xstest, Label::Benign), count(&xstest, Label::Harmful)),
            (182, 135)
        );
    }
}

#[test]
fn real_safety_tuned_llamas() {
    check(
        "safety-tuned-llamas/training/safety_only_data_Instructions.json",
        Format::Alpaca,
        2483,
    );
    for (name, rows) in [
        ("I-Alpaca", 38),
        ("I-CoNa", 126),
        ("I-Controversial", 25),
        ("I-MaliciousInstructions", 71),
        ("I-PhysicalSafetySafe", 65),
        ("I-PhysicalSafetyUnsafe", 68),
        ("Q-Harm", 78),
    ] {
        check(
            &format!("safety-tuned-llamas/evaluation/{name}.json"),
            Format::SafeInstrEval,
            rows,
        );
    }
}

#[test]
fn real_ids_are_stable_across_reimport() {
    let Some(path) = shared("pyrit-many-shot/many_shot_examples.json") else {
        return;
    };
    let a = import_file(&path, &ImportOptions::default()).expect("import");
    let b = import_file(&path, &ImportOptions::default()).expect("import");
    assert_eq!(a.examples, b.examples);
}
