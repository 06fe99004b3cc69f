//! seal-eval: generation runs, judges, win rates, reports and plots.
//!
//! It will be usable on its own: two JSONL files of model outputs and a judge give win rates
//! (DESIGN section 6). Filled by the seal-eval issue.
