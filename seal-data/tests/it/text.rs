//! Tokenizer and chat-template parity with `transformers` on the fixture tokenizer.

use seal_data::{ChatMessage, TextError, TextTokenizer};
use serde::Deserialize;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
}

#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    messages: Option<Vec<ChatMessage>>,
    #[serde(default)]
    add_generation_prompt: bool,
    ids: Vec<u32>,
    decoded: String,
}

#[derive(Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[test]
fn encodes_decodes_and_renders_chatml_like_transformers() {
    let tok = TextTokenizer::from_dir(&fixture("tiny-llama")).unwrap();
    let text = std::fs::read_to_string(fixture("tokenizer_expected.json")).unwrap();
    let cases: Cases = serde_json::from_str(&text).unwrap();
    let template = tok.model_template().unwrap();
    for case in cases.cases {
        let text = match &case.messages {
            Some(messages) => {
                let rendered = template.render(messages, case.add_generation_prompt).unwrap();
                assert_eq!(rendered, case.text, "{}: rendered chat", case.name);
                rendered
            }
            None => case.text.clone(),
        };
        assert_eq!(tok.encode(&text, false).unwrap(), case.ids, "{}: ids", case.name);
        assert_eq!(
            tok.decode(&case.ids, false).unwrap(),
            case.decoded,
            "{}: decoded",
            case.name
        );
    }
    assert_eq!(tok.eos_ids.first(), Some(&0));
}

#[test]
fn missing_tokenizer_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = TextTokenizer::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, TextError::MissingFile { .. }));
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

#[test]
fn corrupt_tokenizer_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), "{ not json").unwrap();
    let err = TextTokenizer::from_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}
