//! seal-core: the bilevel data selector of SEAL (Shen et al., ICLR 2025).
//!
//! It owns the selector weights (`N·softmax(ω)` over the dataset or the batch, `2·sigmoid(ω)`)
//! with their analytic gradient, the selector's optimizer, the penalty (γ) schedules, top-p%
//! selection with its diagnostics (DESIGN sections 2-6), the model-free selection baselines
//! ([`baselines`]: `random`, `dsir`, `loss-rank` and the safety demonstrations of section 5), and
//! the bilevel training loop ([`Bilevel`]: Algorithms 1 and 2 of section 3) over any model that
//! implements [`BilevelModel`], reporting through an [`Observer`]. It knows nothing of Llama or
//! polars: plain Rust, serde and thiserror.
//!
//! ```
//! use seal_core::{ExampleId, PenaltySchedule, Selector, SelectorOptimizer, SoftmaxScope, WeightKind};
//!
//! let schedule: PenaltySchedule = "reference".parse().unwrap();
//! schedule.validate(3).unwrap();
//! assert!((schedule.gamma(1, 0) - 0.03 / 0.97).abs() < 1e-12);
//!
//! let ids: Vec<ExampleId> = ["a", "b", "c", "d"].map(ExampleId::from).to_vec();
//! let mut selector = Selector::new(ids.clone(), WeightKind::Softmax, SoftmaxScope::Global).unwrap();
//! let optimizer = SelectorOptimizer::default();
//! let mut state = optimizer.init_state(selector.len());
//! // Algorithm 2's ω step: the batch's per-example losses are the coefficients, so the
//! // high-loss example "b" loses weight.
//! let grad = selector.objective_grad(&[0, 1], &[0.5, 3.0]).unwrap().grad;
//! optimizer.step(&mut state, selector.logits_mut(), &grad).unwrap();
//!
//! let ranked = seal_core::select_top_p(&ids, selector.logits(), 0.75).unwrap();
//! assert_eq!(ranked[1].rank, 3);
//! assert!(!ranked[1].kept);
//! ```

pub mod baselines;
pub mod bilevel;
pub mod error;
pub mod ids;
pub mod objective;
pub mod observe;
pub mod optim;
pub mod schedule;
pub mod selection;
pub mod selector;
#[cfg(test)]
mod testing;
pub mod tokens;

pub use baselines::{
    DSIR_BUCKETS, dsir_selection, full_selection, loss_rank_selection, random_selection, with_safety_demos,
    word_tokens,
};
pub use bilevel::{Algorithm, AuxLoss, Bilevel, BilevelConfig, BilevelState, SelectorOutcome, epoch_order};
pub use error::{CoreError, Result};
pub use ids::ExampleId;
pub use objective::{BilevelModel, MicroBatch, MicroLosses};
pub use observe::{EpochReport, NoopObserver, Observer, StepReport};
pub use optim::{OptimizerState, SelectorOptimizer, clip_grad_norm};
pub use schedule::{PenaltySchedule, SCHEDULE_FORMS};
pub use selection::{
    Candidate, METHOD_NAMES, Ranked, Selection, SelectionMethod, auroc, dropped_share, keep_count,
    keep_fraction, select_top_p,
};
pub use selector::{Selector, SelectorGrad, SoftmaxScope, WeightKind};
pub use tokens::TokenizedExample;
