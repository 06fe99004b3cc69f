//! Tokenized tables: round trip, streaming in chunks, the dropped-rows sidecar, and the checks
//! that keep a bad table from being written or read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use seal_data::{
    ChatMessage, ChatTemplate, Example, Label, TextTokenizer, TokenizeOptions, TokenizedRow, TokenizedWriter,
    dropped_path, prompt_ids, read_jsonl, read_tokenized, tokenize_examples, tokenize_file, write_parquet,
    write_tokenized,
};

fn world() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/world")
}

fn tokenizer() -> TextTokenizer {
    TextTokenizer::from_dir(&world()).expect("the world's tokenizer loads")
}

fn options(max_len: usize) -> TokenizeOptions {
    TokenizeOptions {
        template: ChatTemplate::Reference,
        max_len,
        threads: 2,
    }
}

fn world_ft(n: usize) -> Vec<Example> {
    let mut all = read_jsonl(&world().join("ft.jsonl")).expect("world ft.jsonl");
    all.truncate(n);
    all
}

#[test]
fn tokenized_table_round_trips() {
    let examples = world_ft(40);
    let tokenized = tokenize_examples(&examples, &tokenizer(), &options(4096)).expect("tokenize");
    assert_eq!(tokenized.rows.len(), 40);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ft.tokens.parquet");
    write_tokenized(&path, &tokenized.rows).expect("write");
    let back = read_tokenized(&path).expect("read");
    assert_eq!(back, tokenized.rows);
    assert!(
        back.iter()
            .all(|r| r.prompt_len > 0 && r.prompt_len < r.tokens.input_ids.len())
    );
}

#[test]
fn tokenize_file_streams_and_reports_drops_by_id() {
    let examples = world_ft(60);
    let tok = tokenizer();
    let full = tokenize_examples(&examples, &tok, &options(4096)).expect("tokenize");
    let mut lengths: Vec<usize> = full.rows.iter().map(|r| r.tokens.input_ids.len()).collect();
    lengths.sort_unstable();
    // A limit at the median drops roughly half: enough rows on both sides to test the split.
    let max_len = lengths[lengths.len() / 2];
    let expect_dropped: Vec<_> = full
        .rows
        .iter()
        .filter(|r| r.tokens.input_ids.len() > max_len)
        .map(|r| r.id.clone())
        .collect();
    assert!(!expect_dropped.is_empty());

    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("ft.parquet");
    write_parquet(&input, &examples).expect("write input");
    let mut outputs = Vec::new();
    // Chunks of 7 cross row-group and thread boundaries; the result must not depend on them.
    for chunk in [7, 1000] {
        let out = dir.path().join(format!("ft-{chunk}.tokens.parquet"));
        let report = tokenize_file(&input, &tok, &options(max_len), &out, chunk).expect("tokenize_file");
        assert_eq!(report.records, 60);
        assert_eq!(report.kept + report.dropped.len(), 60);
        let dropped: Vec<_> = report.dropped.iter().map(|d| d.id.clone()).collect();
        assert_eq!(dropped, expect_dropped);
        assert!(
            report
                .dropped
                .iter()
                .all(|d| d.length > max_len && d.reason == format!("longer than {max_len} tokens"))
        );
        let sidecar = std::fs::read_to_string(dropped_path(&out)).expect("sidecar");
        let lines: Vec<serde_json::Value> = sidecar
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), expect_dropped.len());
        assert_eq!(lines[0]["id"], expect_dropped[0].as_str());
        assert!(
            lines[0]["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("longer than"))
        );
        outputs.push(read_tokenized(&out).expect("read back"));
    }
    assert_eq!(outputs[0], outputs[1]);
    // Kept rows are the unfiltered rows minus the dropped ones, in input order.
    let kept: Vec<&TokenizedRow> = full
        .rows
        .iter()
        .filter(|r| !expect_dropped.contains(&r.id))
        .collect();
    assert_eq!(outputs[0].iter().collect::<Vec<_>>(), kept);
}

#[test]
fn tokenize_file_refuses_prompt_only_records_and_leaves_nothing() {
    let mut examples = world_ft(5);
    examples[3].response = None;
    let bad_id = examples[3].id.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.parquet");
    write_parquet(&input, &examples).expect("write input");
    let out = dir.path().join("out.parquet");
    let err = tokenize_file(&input, &tokenizer(), &options(512), &out, 2).expect_err("no response");
    assert!(err.to_string().contains(bad_id.as_str()), "{err}");
    assert!(!out.exists());
    assert!(!dropped_path(&out).exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        1,
        "no temporary left"
    );
}

#[test]
fn writer_refuses_a_repeated_id_and_an_unfinished_writer_leaves_no_file() {
    let examples = world_ft(3);
    let rows = tokenize_examples(&examples, &tokenizer(), &options(4096))
        .expect("tokenize")
        .rows;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.parquet");
    let mut writer = TokenizedWriter::create(&path).expect("create");
    writer.write(&rows).expect("first batch");
    let err = writer.write(&rows[1..2]).expect_err("repeated id");
    assert!(err.to_string().contains("duplicate id"), "{err}");
    drop(writer);
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
}

#[test]
fn reading_a_canonical_table_as_tokenized_names_the_missing_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("canonical.parquet");
    write_parquet(&path, &world_ft(2)).expect("write");
    let err = read_tokenized(&path).expect_err("not a tokenized table");
    let text = err.to_string();
    assert!(
        text.contains("canonical.parquet") && text.contains("input_ids"),
        "{text}"
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A committed tokenizer read as plain JSON, without the tokenizers crate: the vocabulary (and
/// added tokens) by id, and the id of the eos token `tokenizer_config.json` names.
struct Vocab {
    tokens: HashMap<u32, String>,
    special: HashMap<u32, String>,
    eos_id: u32,
}

impl Vocab {
    fn of(dir: &Path) -> Self {
        let json = read_json(&dir.join("tokenizer.json"));
        let id_of = |v: &serde_json::Value| u32::try_from(v.as_u64().expect("an id")).expect("a u32 id");
        let mut tokens = HashMap::new();
        for (token, id) in json["model"]["vocab"].as_object().expect("a BPE vocab") {
            assert!(tokens.insert(id_of(id), token.clone()).is_none(), "id {id} twice");
        }
        let special: HashMap<u32, String> = json["added_tokens"]
            .as_array()
            .expect("added_tokens")
            .iter()
            .map(|t| {
                (
                    id_of(&t["id"]),
                    t["content"].as_str().expect("content").to_string(),
                )
            })
            .collect();
        let config = read_json(&dir.join("tokenizer_config.json"));
        let eos = config["eos_token"].as_str().expect("an eos_token");
        let eos_id = *special
            .iter()
            .find(|(_, content)| *content == eos)
            .expect("the eos token is an added token")
            .0;
        Self {
            tokens,
            special,
            eos_id,
        }
    }

    /// The text of `ids`: special tokens as they are, the rest through the inverse of GPT-2's
    /// byte-level alphabet (`Ġ` a space, `Ċ` a newline, ...).
    fn spell(&self, ids: &[u32]) -> String {
        // GPT-2's bytes_to_unicode: the printable Latin-1 bytes stand for themselves, the
        // others, in byte order, for U+0100, U+0101, ...
        let printable =
            |b: u32| (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        let mut byte_of: HashMap<char, u8> = HashMap::new();
        let mut next = 0x100;
        for b in 0..=255u8 {
            let c = if printable(u32::from(b)) {
                u32::from(b)
            } else {
                next += 1;
                next - 1
            };
            byte_of.insert(char::from_u32(c).expect("a char"), b);
        }
        let mut bytes = Vec::new();
        for id in ids {
            if let Some(special) = self.special.get(id) {
                bytes.extend_from_slice(special.as_bytes());
                continue;
            }
            let token = self
                .tokens
                .get(id)
                .unwrap_or_else(|| panic!("id {id} is not in the vocabulary"));
            bytes.extend(token.chars().map(|c| byte_of[&c]));
        }
        String::from_utf8(bytes).expect("the ids spell UTF-8")
    }
}

/// The loss mask of a row with `prompt` prompt tokens and `answer` response-and-eos tokens.
fn mask(prompt: usize, answer: usize) -> Vec<u8> {
    [vec![0; prompt], vec![1; answer]].concat()
}

#[test]
fn reference_template_rows_are_prompt_then_response_then_eos_with_loss_from_the_response() {
    let example = world_ft(1).remove(0);
    assert_eq!(example.id.as_str(), "world:ft:0000");
    let (prompt_text, response) = (
        "Human: Quick question: What is 7 times 8? Thanks.\nAssistant: ",
        "7 times 8 is 56.",
    );
    assert_eq!(
        ChatTemplate::Reference
            .render(&example.prompt, true)
            .expect("render"),
        prompt_text
    );
    assert_eq!(example.response.as_deref(), Some(response));

    // Ids from transformers (PreTrainedTokenizerFast on fixtures/world/tokenizer.json: prompt
    // and response encoded as one text with add_special_tokens, which adds nothing here), and
    // spelled back through the committed vocabulary read as JSON. The space that closes
    // `Assistant: ` belongs to the answer's first token `Ġ7` (encoded apart, the prompt would
    // end on a lone `Ġ`, id 221, and the answer start with `7`, id 23).
    let prompt: [u32; 16] = [
        278, 26, 428, 429, 26, 342, 299, 714, 578, 615, 31, 380, 14, 199, 279, 26,
    ];
    let answer: [u32; 6] = [714, 578, 615, 299, 1522, 14];
    let vocab = Vocab::of(&world());
    assert_eq!(vocab.spell(&prompt), prompt_text.trim_end());
    assert_eq!(vocab.spell(&answer), format!(" {response}"));
    // The eos tokenizer_config.json names (`<|endoftext|>`) is id 0 of tokenizer.json.
    assert_eq!((vocab.eos_id, vocab.special[&0].as_str()), (0, "<|endoftext|>"));

    let tok = tokenizer();
    let rows = tokenize_examples(std::slice::from_ref(&example), &tok, &options(4096))
        .expect("tokenize")
        .rows;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.id, example.id);
    assert_eq!(
        row.tokens.input_ids,
        [&prompt[..], &answer[..], &[vocab.eos_id]].concat()
    );
    assert_eq!(row.prompt_len, prompt.len());
    // No loss on any prompt token; loss on every response token and on the eos.
    assert_eq!(row.tokens.loss_mask, mask(prompt.len(), answer.len() + 1));
    // Generation is prompted with exactly the training prompt (the closing space is the
    // model's to generate, as in training).
    assert_eq!(
        prompt_ids(&example, &tok, &ChatTemplate::Reference).expect("prompt ids"),
        prompt
    );

    // The world's tokenizer has no chat template, so the `model` template is refused.
    assert!(
        read_json(&world().join("tokenizer_config.json"))
            .get("chat_template")
            .is_none()
    );
    let err = tok.model_template().expect_err("no chat template").to_string();
    assert!(err.contains("chat_template"), "{err}");
}

#[test]
fn model_template_rows_are_the_transformers_prompt_then_response_then_eos() {
    // The world has no chat template; the tiny Llama fixture has a ChatML one, and
    // fixtures/tokenizer_expected.json holds transformers' ids for it (apply_chat_template with
    // add_generation_prompt, then encode without special tokens) and for plain texts.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tiny-llama");
    let golden = read_json(&dir.join("../tokenizer_expected.json"));
    let case = |name: &str| -> (String, Vec<u32>) {
        let case = golden["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}"));
        let ids = serde_json::from_value(case["ids"].clone()).expect("ids");
        (case["text"].as_str().expect("text").to_string(), ids)
    };
    let (prompt_text, prompt) = case("chatml_one_turn");
    let (response, answer) = case("plain");
    let vocab = Vocab::of(&dir);
    assert_eq!(vocab.spell(&prompt), prompt_text);
    assert_eq!(vocab.spell(&answer), response);
    // The eos is `<|endoftext|>` (id 0), not the template's end of turn `<|im_end|>` (id 2).
    assert_eq!(golden["special_tokens"]["<|endoftext|>"], 0);
    assert_eq!(vocab.eos_id, 0);

    let tok = TextTokenizer::from_dir(&dir).expect("tiny-llama tokenizer");
    let example = Example {
        id: seal_core::ExampleId("layout:chatml".into()),
        source: "layout".into(),
        prompt: vec![ChatMessage::user("What is the capital of France?")],
        response: Some(response.clone()),
        label: Label::Benign,
        category: None,
        split: None,
        novel: false,
    };
    let template = tok.model_template().expect("a chat template");
    assert_eq!(
        template.render(&example.prompt, true).expect("render"),
        prompt_text
    );
    let options = TokenizeOptions {
        template: template.clone(),
        max_len: 4096,
        threads: 1,
    };
    let row = tokenize_examples(std::slice::from_ref(&example), &tok, &options)
        .expect("tokenize")
        .rows
        .remove(0);
    assert_eq!(row.tokens.input_ids, [&prompt[..], &answer[..], &[0]].concat());
    assert_eq!(row.prompt_len, prompt.len());
    assert_eq!(row.tokens.loss_mask, mask(prompt.len(), answer.len() + 1));
    assert_eq!(prompt_ids(&example, &tok, &template).expect("prompt ids"), prompt);
}

#[test]
fn an_empty_response_is_dropped_not_trained_on_its_eos_alone() {
    let mut examples = world_ft(2);
    examples[1].response = Some(String::new());
    let tokenized = tokenize_examples(&examples, &tokenizer(), &options(4096)).expect("tokenize");
    assert_eq!(tokenized.rows.len(), 1);
    assert_eq!(tokenized.dropped.len(), 1);
    assert_eq!(tokenized.dropped[0].id, examples[1].id);
    assert_eq!(tokenized.dropped[0].reason, "empty response");
}
