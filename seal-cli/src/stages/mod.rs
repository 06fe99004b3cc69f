//! The pipeline's stages as library calls (each command and the ablation runner call these):
//! typed specs in, files in a run folder out.

pub mod choose;
pub mod common;
pub mod dpo;
pub mod finetune;
pub mod generate;
pub mod refusals;
pub mod reward;
pub mod select;
