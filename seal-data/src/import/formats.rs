//! One reader per source format: a raw JSON object in, a [`Draft`] out.

use serde_json::{Map, Value};

use crate::error::Position;
use crate::import::rows::Row;
use crate::import::{FieldMapping, Format, HhSide, ImportOptions};
use crate::record::{Example, Label};
use crate::text::ChatMessage;

/// An example before its id and source are settled.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    /// An id given by the source (used instead of the content hash).
    pub id: Option<String>,
    /// A source name carried by the record itself (canonical records).
    pub source: Option<String>,
    pub prompt: Vec<ChatMessage>,
    pub response: Option<String>,
    pub label: Label,
    pub category: Option<String>,
    pub split: Option<String>,
    pub novel: bool,
}

impl Draft {
    fn prompt_only(prompt: String, label: Label, category: Option<String>) -> Draft {
        Draft {
            id: None,
            source: None,
            prompt: vec![ChatMessage::user(prompt)],
            response: None,
            label,
            category,
            split: None,
            novel: false,
        }
    }
}

/// What is wrong with one row: the field and the problem.
#[derive(Debug, Clone)]
pub(crate) struct FieldProblem {
    pub field: String,
    pub problem: String,
}

fn problem(field: &str, problem: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.to_string(),
        problem: problem.into(),
    }
}

type Read<T> = std::result::Result<T, FieldProblem>;

fn object(row: &Row) -> Read<&Map<String, Value>> {
    row.value
        .as_object()
        .ok_or_else(|| problem("record", "expected a json object"))
}

fn string<'a>(obj: &'a Map<String, Value>, field: &str) -> Read<&'a str> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(problem(field, "missing")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(problem(field, "expected a string")),
    }
}

fn nonempty<'a>(obj: &'a Map<String, Value>, field: &str) -> Read<&'a str> {
    let s = string(obj, field)?;
    if s.trim().is_empty() {
        Err(problem(field, "empty"))
    } else {
        Ok(s)
    }
}

fn optional_string(obj: &Map<String, Value>, field: &str) -> Read<Option<String>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // Ids and categories are sometimes numbers (MT-Bench's question_id).
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(problem(field, "expected a string")),
    }
}

/// Reads one row of a flat format (everything except CatQA and SafeInstr evaluation, whose
/// documents are flattened into rows first by [`flatten`]).
pub(crate) fn read_row(format: Format, row: &Row, options: &ImportOptions) -> Read<Draft> {
    let obj = object(row)?;
    match format {
        Format::Canonical => canonical(&row.value),
        Format::Alpaca => alpaca(obj),
        Format::HhRlhf => hh(obj, options.hh_side),
        Format::ShareGpt => turns_list(obj, "conversations", "from", "value"),
        Format::OpenAi => turns_list(obj, "messages", "role", "content"),
        Format::Pyrit => pyrit(obj),
        Format::AdvBench => Ok(Draft::prompt_only(
            nonempty(obj, "goal")?.to_string(),
            Label::Harmful,
            None,
        )),
        Format::StrongReject => Ok(Draft::prompt_only(
            nonempty(obj, "forbidden_prompt")?.to_string(),
            Label::Harmful,
            optional_string(obj, "category")?,
        )),
        Format::HarmBench => harmbench(obj),
        Format::XsTest => xstest(obj),
        Format::MtBench => mt_bench(obj),
        Format::CatQa => flat_prompt(obj).map(|d| Draft {
            label: Label::Harmful,
            ..d
        }),
        Format::SafeInstrEval => flat_prompt(obj),
        Format::Generic => generic(obj, &options.mapping),
    }
}

/// Flattens the document formats into one row per prompt: CatQA questions become
/// `{prompt, category}` objects, SafeInstr evaluation instructions `{prompt, category?, response?}`.
pub(crate) fn flatten(format: Format, document: &Value) -> Read<Vec<Row>> {
    let doc = document
        .as_object()
        .ok_or_else(|| problem("document", "expected a json object"))?;
    let mut rows = Vec::new();
    let mut push = |value: Value| {
        let pos = Position::Record(rows.len() + 1);
        rows.push(Row {
            pos,
            raw: value.to_string(),
            value,
        });
    };
    match format {
        Format::CatQa => {
            for (category, subs) in doc {
                let subs = subs
                    .as_object()
                    .ok_or_else(|| problem(category, "expected an object of subcategories"))?;
                for (sub, questions) in subs {
                    let questions = questions
                        .as_array()
                        .ok_or_else(|| problem(sub, "expected a list of questions"))?;
                    // Sub-category keys keep upstream's trailing colon (`"Drug:"`).
                    let sub = sub.trim().trim_end_matches(':').trim();
                    for q in questions {
                        push(serde_json::json!({ "prompt": q, "category": format!("{category}/{sub}") }));
                    }
                }
            }
        }
        Format::SafeInstrEval => {
            let items = doc
                .get("instructions")
                .and_then(Value::as_array)
                .ok_or_else(|| problem("instructions", "missing or not a list"))?;
            let tags = doc.get("tags").and_then(Value::as_array);
            for (i, item) in items.iter().enumerate() {
                let tag = tags.and_then(|t| t.get(i)).cloned().unwrap_or(Value::Null);
                match item {
                    // Objects carry `instruction` (+ `input`, `output`), as in the repo's
                    // generation outputs.
                    Value::Object(o) => {
                        let mut prompt = o.get("instruction").cloned().unwrap_or(Value::Null);
                        if let (Value::String(p), Some(Value::String(input))) = (&prompt, o.get("input"))
                            && !input.trim().is_empty()
                        {
                            prompt = Value::String(format!("{p}\n\n{input}"));
                        }
                        push(
                            serde_json::json!({ "prompt": prompt, "response": o.get("output"), "category": tag }),
                        );
                    }
                    other => push(serde_json::json!({ "prompt": other, "category": tag })),
                }
            }
        }
        _ => {
            return Err(problem(
                "document",
                format!("format {} is not a document format", format.name()),
            ));
        }
    }
    Ok(rows)
}

fn flat_prompt(obj: &Map<String, Value>) -> Read<Draft> {
    let mut draft = Draft::prompt_only(
        nonempty(obj, "prompt")?.to_string(),
        Label::Unknown,
        optional_string(obj, "category")?,
    );
    draft.response = optional_string(obj, "response")?;
    Ok(draft)
}

fn canonical(value: &Value) -> Read<Draft> {
    let ex: Example = serde_json::from_value(value.clone()).map_err(|e| {
        let message = e.to_string();
        // serde names the field in its message: "missing field `prompt`", "unknown field `x`".
        let field = message.split('`').nth(1).unwrap_or("record").to_string();
        FieldProblem {
            field,
            problem: message,
        }
    })?;
    if ex.prompt.is_empty() {
        return Err(problem("prompt", "empty"));
    }
    Ok(Draft {
        id: Some(ex.id.0),
        source: Some(ex.source),
        prompt: ex.prompt,
        response: ex.response,
        label: ex.label,
        category: ex.category,
        split: ex.split,
        novel: ex.novel,
    })
}

fn alpaca(obj: &Map<String, Value>) -> Read<Draft> {
    let instruction = nonempty(obj, "instruction")?;
    let input = match obj.get("input") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(problem("input", "expected a string")),
    };
    let prompt = if input.trim().is_empty() {
        instruction.to_string()
    } else {
        format!("{instruction}\n\n{input}")
    };
    let mut draft = Draft::prompt_only(prompt, Label::Unknown, None);
    draft.response = Some(string(obj, "output")?.to_string());
    Ok(draft)
}

/// Splits an HH-RLHF transcript (`\n\nHuman: ...\n\nAssistant: ...`) into turns.
pub(crate) fn hh_turns(text: &str) -> Option<Vec<ChatMessage>> {
    const HUMAN: &str = "\n\nHuman:";
    const ASSISTANT: &str = "\n\nAssistant:";
    let mut turns: Vec<ChatMessage> = Vec::new();
    let mut rest = text;
    // The next of either marker ends the current turn and starts the next one.
    let mut current: Option<&str> = None;
    loop {
        let h = rest.find(HUMAN);
        let a = rest.find(ASSISTANT);
        let next = match (h, a) {
            (Some(h), Some(a)) if h < a => Some(("user", h, HUMAN.len())),
            (Some(_), Some(a)) => Some(("assistant", a, ASSISTANT.len())),
            (Some(h), None) => Some(("user", h, HUMAN.len())),
            (None, Some(a)) => Some(("assistant", a, ASSISTANT.len())),
            (None, None) => None,
        };
        match (current, next) {
            (None, None) => return None,
            (None, Some((role, at, len))) => {
                // Text before the first marker would be lost: not a transcript.
                if !rest[..at].trim().is_empty() {
                    return None;
                }
                current = Some(role);
                rest = &rest[at + len..];
            }
            (Some(role), Some((next_role, at, len))) => {
                turns.push(ChatMessage {
                    role: role.to_string(),
                    content: rest[..at].trim().to_string(),
                });
                current = Some(next_role);
                rest = &rest[at + len..];
            }
            (Some(role), None) => {
                turns.push(ChatMessage {
                    role: role.to_string(),
                    content: rest.trim().to_string(),
                });
                return Some(turns);
            }
        }
    }
}

fn hh(obj: &Map<String, Value>, side: HhSide) -> Read<Draft> {
    let field = side.field();
    let text = string(obj, field)?;
    let split = hh_turns(text)
        .ok_or_else(|| problem(field, "not a `\\n\\nHuman:` / `\\n\\nAssistant:` transcript"))?;
    // A few transcripts hold two turns of one role in a row (a marker missing its `\n\n`
    // hides the turn between them): join them so that roles alternate.
    let mut turns: Vec<ChatMessage> = Vec::with_capacity(split.len());
    for turn in split {
        match turns.last_mut() {
            Some(prev) if prev.role == turn.role => {
                prev.content.push_str("\n\n");
                prev.content.push_str(&turn.content);
            }
            _ => turns.push(turn),
        }
    }
    let last = turns.pop().ok_or_else(|| problem(field, "no turns"))?;
    if last.role != "assistant" {
        return Err(problem(field, "the dialogue does not end with an assistant turn"));
    }
    if turns.last().is_none_or(|t| t.role != "user") || turns.first().is_none_or(|t| t.role != "user") {
        return Err(problem(field, "the context must start and end with a human turn"));
    }
    Ok(Draft {
        id: None,
        source: None,
        prompt: turns,
        response: Some(last.content),
        label: Label::Unknown,
        category: None,
        split: None,
        novel: false,
    })
}

fn role_name(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "system" => Some("system"),
        "human" | "user" => Some("user"),
        "gpt" | "assistant" | "chatgpt" | "bing" | "bard" | "model" => Some("assistant"),
        _ => None,
    }
}

/// ShareGPT (`conversations`: `from`/`value`) and OpenAI (`messages`: `role`/`content`).
fn turns_list(obj: &Map<String, Value>, list: &str, role_key: &str, text_key: &str) -> Read<Draft> {
    let items = obj
        .get(list)
        .ok_or_else(|| problem(list, "missing"))?
        .as_array()
        .ok_or_else(|| problem(list, "expected a list of turns"))?;
    let mut turns = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let turn = item
            .as_object()
            .ok_or_else(|| problem(list, format!("turn {i}: expected an object")))?;
        let field = format!("{list}[{i}].{role_key}");
        let raw_role = turn
            .get(role_key)
            .and_then(Value::as_str)
            .ok_or_else(|| problem(&field, "missing"))?;
        let role =
            role_name(raw_role).ok_or_else(|| problem(&field, format!("unknown role `{raw_role}`")))?;
        let content = turn
            .get(text_key)
            .and_then(Value::as_str)
            .ok_or_else(|| problem(&format!("{list}[{i}].{text_key}"), "missing"))?;
        turns.push(ChatMessage {
            role: role.to_string(),
            content: content.to_string(),
        });
    }
    let response = match turns.last() {
        Some(t) if t.role == "assistant" => turns.pop().map(|t| t.content),
        _ => None,
    };
    if turns.last().is_none_or(|t| t.role != "user") {
        return Err(problem(list, "the prompt must end with a user turn"));
    }
    Ok(Draft {
        id: None,
        source: None,
        prompt: turns,
        response,
        label: Label::Unknown,
        category: None,
        split: None,
        novel: false,
    })
}

/// PyRIT's `category` is a judge's free-text verdict ("Harmful\n\nReason: ...",
/// "\"Harmful\"", "Answer: Harmful", "Not harmful."); its first word decides the label.
pub fn pyrit_verdict(category: &str) -> Label {
    let mut text = category
        .trim()
        .trim_start_matches(['"', '\'', '*', ' '])
        .to_ascii_lowercase();
    if let Some(rest) = text.strip_prefix("answer:") {
        text = rest
            .trim_start()
            .trim_start_matches(['"', '\'', '*', ' '])
            .to_string();
    }
    if text.starts_with("harmful") {
        Label::Harmful
    } else if text.starts_with("not harmful") {
        Label::Benign
    } else {
        Label::Unknown
    }
}

fn pyrit(obj: &Map<String, Value>) -> Read<Draft> {
    let category = optional_string(obj, "category")?;
    let label = category.as_deref().map_or(Label::Unknown, pyrit_verdict);
    let mut draft = Draft::prompt_only(
        nonempty(obj, "user")?.to_string(),
        label,
        category.map(|c| c.trim().to_string()),
    );
    draft.response = Some(string(obj, "assistant")?.to_string());
    Ok(draft)
}

fn harmbench(obj: &Map<String, Value>) -> Read<Draft> {
    let behavior = nonempty(obj, "Behavior")?;
    // HarmBench's own prompt for contextual behaviours puts the context first.
    let prompt = match optional_string(obj, "ContextString")? {
        Some(context) => format!("{context}\n\n---\n\n{behavior}"),
        None => behavior.to_string(),
    };
    let mut draft = Draft::prompt_only(prompt, Label::Harmful, optional_string(obj, "SemanticCategory")?);
    draft.id = optional_string(obj, "BehaviorID")?.map(|id| format!("harmbench:{id}"));
    Ok(draft)
}

fn xstest(obj: &Map<String, Value>) -> Read<Draft> {
    let label = match string(obj, "label")?.trim() {
        "safe" => Label::Benign,
        "unsafe" => Label::Harmful,
        other => {
            return Err(problem(
                "label",
                format!("expected safe or unsafe, got `{other}`"),
            ));
        }
    };
    let mut draft = Draft::prompt_only(
        nonempty(obj, "prompt")?.to_string(),
        label,
        optional_string(obj, "type")?,
    );
    draft.id = optional_string(obj, "id")?.map(|id| format!("xstest:{id}"));
    Ok(draft)
}

fn mt_bench(obj: &Map<String, Value>) -> Read<Draft> {
    let first = obj
        .get("turns")
        .ok_or_else(|| problem("turns", "missing"))?
        .as_array()
        .and_then(|t| t.first())
        .and_then(Value::as_str)
        .ok_or_else(|| problem("turns", "expected a non-empty list of strings"))?;
    let mut draft = Draft::prompt_only(
        first.to_string(),
        Label::Benign,
        optional_string(obj, "category")?,
    );
    draft.id = optional_string(obj, "question_id")?.map(|id| format!("mt-bench:{id}"));
    Ok(draft)
}

fn generic(obj: &Map<String, Value>, mapping: &FieldMapping) -> Read<Draft> {
    let prompt = match obj.get(&mapping.prompt) {
        None | Some(Value::Null) => return Err(problem(&mapping.prompt, "missing")),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(problem(&mapping.prompt, "empty")),
        Some(Value::String(s)) => vec![ChatMessage::user(s.clone())],
        // A list of {role, content} turns is accepted as the prompt as it is.
        Some(v @ Value::Array(_)) => serde_json::from_value::<Vec<ChatMessage>>(v.clone()).map_err(|e| {
            problem(
                &mapping.prompt,
                format!("expected a string or a list of messages: {e}"),
            )
        })?,
        Some(_) => {
            return Err(problem(
                &mapping.prompt,
                "expected a string or a list of messages",
            ));
        }
    };
    let get = |field: &Option<String>| -> Read<Option<String>> {
        match field {
            Some(f) => optional_string(obj, f),
            None => Ok(None),
        }
    };
    let label = match (&mapping.label, get(&mapping.label)?) {
        (Some(field), Some(value)) => match value.trim().to_ascii_lowercase().as_str() {
            "benign" | "safe" => Label::Benign,
            "harmful" | "unsafe" => Label::Harmful,
            "unknown" => Label::Unknown,
            other => {
                return Err(problem(
                    field,
                    format!("expected benign/harmful/unknown (or safe/unsafe), got `{other}`"),
                ));
            }
        },
        _ => Label::Unknown,
    };
    Ok(Draft {
        id: get(&mapping.id)?,
        source: None,
        prompt,
        response: get(&mapping.response)?,
        label,
        category: get(&mapping.category)?,
        split: None,
        novel: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hh_transcript_splits_into_turns() {
        let t = hh_turns("\n\nHuman: hi\n\nAssistant: hello\n\nHuman: more\n\nAssistant: ok")
            .expect("transcript");
        let roles: Vec<&str> = t.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
        assert_eq!(t[3].content, "ok");
        assert!(hh_turns("no markers").is_none());
        assert!(hh_turns("junk\n\nHuman: hi").is_none());
    }

    #[test]
    fn pyrit_verdict_reads_variants() {
        assert_eq!(pyrit_verdict("Harmful\n\nReason: x"), Label::Harmful);
        assert_eq!(pyrit_verdict("\"Harmful\""), Label::Harmful);
        assert_eq!(pyrit_verdict("Answer: Harmful."), Label::Harmful);
        assert_eq!(pyrit_verdict("Not harmful.\n\nReason"), Label::Benign);
        assert_eq!(pyrit_verdict("unclear"), Label::Unknown);
    }
}
