//! seal-data: every dataset the pipeline reads and writes.
//!
//! It owns the canonical record ([`Example`]: stable id, source, prompt turns, response,
//! label, category, split), the importers that turn every supported source format into it
//! (Alpaca, HH-RLHF, ShareGPT, OpenAI messages, PyRIT pairs, and the prompt-only evaluation
//! sets AdvBench, CatQA, StrongREJECT, HarmBench, XSTest, MT-Bench, SafeInstr), canonical
//! Parquet / JSONL files, and the way text becomes token ids ([`text`]: a model's tokenizer and
//! chat templates; [`tokenize_examples`]: records into [`seal_core::TokenizedExample`]s). polars
//! is a dependency of this crate only; public signatures use our own types. It knows nothing of
//! Burn: the model crate is its sibling, and only ever sees token ids.
//!
//! ```
//! use seal_data::{Example, Label, content_id, read_parquet, write_parquet};
//! use seal_data::ChatMessage;
//!
//! let prompt = vec![ChatMessage::user("Name a primary colour.")];
//! let example = Example {
//!     id: content_id(&prompt, Some("Red.")),
//!     source: "demo".to_string(),
//!     prompt,
//!     response: Some("Red.".to_string()),
//!     label: Label::Benign,
//!     category: None,
//!     split: None,
//!     novel: false,
//! };
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("demo.parquet");
//! write_parquet(&path, std::slice::from_ref(&example))?;
//! assert_eq!(read_parquet(&path)?, vec![example]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
pub mod import;
mod inspect;
mod io;
mod mix;
mod ops;
mod pairs;
mod record;
pub mod schema;
mod scores;
pub mod text;
mod tokenize;
mod tokenized;
pub mod world;

pub use error::{DataError, Position, Result};
pub use import::{
    DEFAULT_MAX_RECORD_BYTES, FieldMapping, Format, HhSide, ImportOptions, Imported, Reject, StreamReport,
    detect_format, import_file, import_files, import_files_with, import_jsonl_chunks, read_examples,
    read_jsonl, write_rejects,
};
pub use inspect::{Summary, length_histogram, summarize, token_lengths};
pub use io::{
    ExampleWriter, ROW_GROUP_ROWS, read_parquet, read_parquet_chunks, write_examples, write_jsonl,
    write_parquet,
};
pub use mix::{
    DedupMode, FieldsSpec, FilterSpec, HashSplitSpec, MixReport, Mixture, Recipe, SourceReport, SourceSpec,
    load_recipe, mix, mix_report_path, write_mix_report,
};
pub use ops::{
    DedupBy, Duplicate, SplitKey, assign_splits, dedup, normalized_content, normalized_prompt, sample,
    seeded_hash, shuffle,
};
pub use pairs::{PairReport, PreferenceRow, flatten_prompt, join_preferences};
pub use record::{Example, Label, content_id};
pub use scores::{ScoreRow, read_scores, write_scores};
pub use text::{ChatMessage, ChatTemplate, TEMPLATE_FUEL, TextError, TextTokenizer};
pub use tokenize::{DroppedRow, TokenizeOptions, Tokenized, TokenizedRow, prompt_ids, tokenize_examples};
pub use tokenized::{
    TOKENIZED_COLUMNS, TokenizeReport, TokenizedWriter, dropped_path, read_tokenized, tokenize_file,
    tokenize_file_with, write_dropped, write_tokenized,
};
