//! seal-eval: judges, win rates, judge-free diagnostics and their reports (DESIGN section 6).
//!
//! It is usable on its own: two JSONL files of model outputs ([`GenerationRecord`]) and a
//! [`Judge`] give win rates per set and harm category, each pair judged in both orders, with
//! bootstrap intervals ([`judge_files`], [`write_reports`]). Judges are real models: a reward
//! model read from a HF `LlamaForSequenceClassification` folder or trained here on preference
//! pairs ([`train_reward_judge`]), and an instruct model comparing two answers
//! ([`GenerativeJudge`]).
//!
//! ```
//! use seal_eval::{BootstrapSettings, Order, Verdict, win_rates};
//!
//! let verdict = |order, preference| Verdict {
//!     set: "hh".into(), prompt_id: "1".into(), category: None, order, preference,
//! };
//! // Preferred when shown first, not when shown second: a tie, which counts 1/2.
//! let verdicts = [verdict(Order::CandidateFirst, 1.0), verdict(Order::ReferenceFirst, 0.0)];
//! let rates = win_rates(&verdicts, &BootstrapSettings::default()).unwrap();
//! assert_eq!((rates[0].win_rate, rates[0].ties), (0.5, 1));
//! ```

pub mod compare;
pub mod diagnostics;
pub mod error;
pub mod generations;
pub mod jsonl;
pub mod judge;
pub mod plot;
pub mod refusal;
pub mod report;
pub mod winrate;

pub use compare::{
    JudgeRun, JudgeRunSettings, judge_files, judge_files_with, judge_generations, judge_generations_with,
    pair_records,
};
pub use diagnostics::label_diagnostics;
pub use error::{EvalError, Result};
pub use generations::{GenerationRecord, read_generations, write_generations};
pub use judge::{
    GenerativeJudge, GenerativeSettings, HttpJudge, HttpSettings, Judge, JudgeSpec, PairItem, PreferencePair,
    RewardArch, RewardEpochReport, RewardInit, RewardJudge, RewardTrainReport, RewardTrainSettings,
    load_judge, load_judge_cached, pair_accuracy, read_preferences, train_reward_judge,
    train_reward_judge_with,
};
pub use refusal::{
    DetectorCheck, RefusalRate, is_refusal, over_refusal_rate, refusal_rate, refusal_rates, wilson_interval,
};
pub use report::write_reports;
pub use winrate::{BootstrapSettings, Order, Verdict, WinRate, win_rates};
