//! The data selector: one logit ω_i per fine-tuning example and the weights p_i(ω) it induces
//! (DESIGN section 2), with the analytic gradient of the selector objective (section 3).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::ids::ExampleId;

/// How logits become example weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightKind {
    /// p(ω) = N·softmax(ω) (mean weight 1), logits start at 0.1: the reference's default.
    #[default]
    Softmax,
    /// p(ω) = 2·sigmoid(ω) (each weight in (0, 2)), logits start at 0.
    Sigmoid,
}

impl WeightKind {
    /// The logit every example starts from.
    pub fn init_logit(self) -> f32 {
        match self {
            Self::Softmax => 0.1,
            Self::Sigmoid => 0.0,
        }
    }
}

/// Over which examples the softmax normalises (ignored by [`WeightKind::Sigmoid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftmaxScope {
    /// Over all N examples: p_i = N·softmax(ω)_i, so a step on one batch moves every logit's weight.
    #[default]
    Global,
    /// Over the batch only: p_i = |batch|·softmax(ω_batch)_i, so a batch's weights sum to its
    /// size and logits outside it are untouched. The bilevel loop passes the optimizer step's
    /// effective batch (all its micro-batches), so micro-batching leaves the weights unchanged.
    Batch,
}

/// The selector objective J(ω) = mean_{i∈batch} p_i(ω)·c_i and its gradient in ω.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectorGrad {
    /// J(ω), accumulated in f64.
    pub objective: f64,
    /// ∂J/∂ω_j for every example j (dense: global softmax touches all, and Adam's moments decay
    /// for all logits every step, as with one PyTorch parameter of size N).
    pub grad: Vec<f32>,
}

/// One logit per fine-tuning example, keyed by [`ExampleId`], stored in fp32 (DESIGN section 3).
#[derive(Debug, Clone)]
pub struct Selector {
    ids: Vec<ExampleId>,
    index: HashMap<ExampleId, usize>,
    logits: Vec<f32>,
    kind: WeightKind,
    scope: SoftmaxScope,
}

impl Selector {
    /// A selector over `ids` with every logit at `kind`'s initial value.
    ///
    /// # Errors
    /// [`CoreError::DuplicateId`] naming the first repeated id.
    pub fn new(ids: Vec<ExampleId>, kind: WeightKind, scope: SoftmaxScope) -> Result<Self> {
        let logits = vec![kind.init_logit(); ids.len()];
        Self::from_logits(ids, logits, kind, scope)
    }

    /// A selector with given logits (e.g. read back from `selector.safetensors`).
    ///
    /// # Errors
    /// [`CoreError::LengthMismatch`] if `logits` and `ids` differ in length,
    /// [`CoreError::DuplicateId`] naming the first repeated id.
    pub fn from_logits(
        ids: Vec<ExampleId>,
        logits: Vec<f32>,
        kind: WeightKind,
        scope: SoftmaxScope,
    ) -> Result<Self> {
        crate::selection::check_len("logits", ids.len(), logits.len())?;
        let mut index = HashMap::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if index.insert(id.clone(), i).is_some() {
                return Err(CoreError::DuplicateId { id: id.clone() });
            }
        }
        Ok(Self {
            ids,
            index,
            logits,
            kind,
            scope,
        })
    }

    /// Number of examples N.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the selector has no examples.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The example ids, in index order.
    pub fn ids(&self) -> &[ExampleId] {
        &self.ids
    }

    /// The logits ω, in index order.
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// The logits ω, for an optimizer step.
    pub fn logits_mut(&mut self) -> &mut [f32] {
        &mut self.logits
    }

    /// The weight kind.
    pub fn kind(&self) -> WeightKind {
        self.kind
    }

    /// The softmax scope.
    pub fn scope(&self) -> SoftmaxScope {
        self.scope
    }

    /// The index of `id`, if the selector has it.
    pub fn index_of(&self, id: &ExampleId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The indices of `ids`, in order.
    ///
    /// # Errors
    /// [`CoreError::UnknownId`] naming the first id the selector lacks.
    pub fn indices_of(&self, ids: &[ExampleId]) -> Result<Vec<usize>> {
        ids.iter()
            .map(|id| {
                self.index_of(id)
                    .ok_or_else(|| CoreError::UnknownId { id: id.clone() })
            })
            .collect()
    }

    /// The weights p_i of the examples at `batch` (indices, repeats allowed), detached, in order.
    /// With [`SoftmaxScope::Batch`] they sum to `batch.len()`.
    ///
    /// # Errors
    /// [`CoreError::IndexOutOfRange`] for an index ≥ N.
    pub fn weights_for(&self, batch: &[usize]) -> Result<Vec<f32>> {
        self.check_batch(batch)?;
        Ok(weights(self.kind, self.scope, &self.logits, batch)
            .into_iter()
            .map(|p| p as f32)
            .collect())
    }

    /// `J(ω) = mean_k p_{batch[k]}(ω)·coeffs[k]` and its gradient in ω, for detached per-example
    /// coefficients: `ℓ_F[i]` for Algorithm 2, `ℓ_F[i] − ℓ̂_F[i]` for Algorithm 1 (DESIGN section 3).
    ///
    /// # Errors
    /// [`CoreError::EmptyBatch`], [`CoreError::IndexOutOfRange`],
    /// [`CoreError::LengthMismatch`] if `coeffs` and `batch` differ in length, and
    /// [`CoreError::NonFiniteCoefficient`] naming the example of a NaN or infinite coefficient.
    pub fn objective_grad(&self, batch: &[usize], coeffs: &[f32]) -> Result<SelectorGrad> {
        if batch.is_empty() {
            return Err(CoreError::EmptyBatch);
        }
        self.check_batch(batch)?;
        if coeffs.len() != batch.len() {
            return Err(CoreError::LengthMismatch {
                what: "coefficients",
                expected: batch.len(),
                found: coeffs.len(),
            });
        }
        if let Some(k) = coeffs.iter().position(|c| !c.is_finite()) {
            return Err(CoreError::NonFiniteCoefficient {
                id: self.ids[batch[k]].clone(),
            });
        }
        let coeffs: Vec<f64> = coeffs.iter().map(|&c| f64::from(c)).collect();
        let (objective, grad) = objective_grad(self.kind, self.scope, &self.logits, batch, &coeffs);
        Ok(SelectorGrad {
            objective,
            grad: grad.into_iter().map(|g| g as f32).collect(),
        })
    }

    fn check_batch(&self, batch: &[usize]) -> Result<()> {
        match batch.iter().find(|&&i| i >= self.len()) {
            Some(&index) => Err(CoreError::IndexOutOfRange {
                index,
                len: self.len(),
            }),
            None => Ok(()),
        }
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The softmax normaliser (max logit, Σ exp(ω − max), count) over all logits (Global scope) or
/// the batch's (Batch scope); subtracting the max keeps large logits from overflowing.
struct Normaliser {
    max: f64,
    z: f64,
    n: f64,
}

impl Normaliser {
    fn new<L: Copy + Into<f64>>(scope: SoftmaxScope, logits: &[L], batch: &[usize]) -> Self {
        fn over(values: impl Iterator<Item = f64> + Clone, n: usize) -> Normaliser {
            let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
            Normaliser {
                max,
                z: values.map(|w| (w - max).exp()).sum(),
                n: n as f64,
            }
        }
        match scope {
            SoftmaxScope::Global => over(logits.iter().map(|&w| w.into()), logits.len()),
            SoftmaxScope::Batch => over(batch.iter().map(|&i| logits[i].into()), batch.len()),
        }
    }

    /// softmax(ω)_i for a logit ω_i in the normalised set.
    fn prob(&self, logit: f64) -> f64 {
        (logit - self.max).exp() / self.z
    }
}

/// p_{batch[k]} for every k, in f64.
fn weights<L: Copy + Into<f64>>(
    kind: WeightKind,
    scope: SoftmaxScope,
    logits: &[L],
    batch: &[usize],
) -> Vec<f64> {
    if batch.is_empty() {
        return Vec::new();
    }
    match kind {
        WeightKind::Sigmoid => batch.iter().map(|&i| 2.0 * sigmoid(logits[i].into())).collect(),
        WeightKind::Softmax => {
            let norm = Normaliser::new(scope, logits, batch);
            batch
                .iter()
                .map(|&i| norm.n * norm.prob(logits[i].into()))
                .collect()
        }
    }
}

/// J and ∂J/∂ω in f64. With s the softmax, n its normaliser count, B = |batch| and
/// A = Σ_k c_k·s_{b_k}: global gives ∂J/∂ω_j = (n/B)·s_j·(C_j − A) with C_j = Σ_{k: b_k=j} c_k
/// (every j, from ∂p_i/∂ω_j = n·s_i(δ_ij − s_j)); batch scope (n = B) gives Σ_{k: b_k=j} s_k(c_k − A)
/// for batch members only; sigmoid gives (1/B)·Σ_{k: b_k=j} c_k·2σ(ω_j)(1 − σ(ω_j)).
/// Repeated indices accumulate, so a batch drawn with replacement stays exact.
fn objective_grad<L: Copy + Into<f64>>(
    kind: WeightKind,
    scope: SoftmaxScope,
    logits: &[L],
    batch: &[usize],
    coeffs: &[f64],
) -> (f64, Vec<f64>) {
    let b = batch.len() as f64;
    let p = weights(kind, scope, logits, batch);
    let objective = p.iter().zip(coeffs).map(|(p, c)| p * c).sum::<f64>() / b;
    let mut grad = vec![0.0; logits.len()];
    match kind {
        WeightKind::Sigmoid => {
            for (&i, &c) in batch.iter().zip(coeffs) {
                let s = sigmoid(logits[i].into());
                grad[i] += c * 2.0 * s * (1.0 - s) / b;
            }
        }
        WeightKind::Softmax => {
            let norm = Normaliser::new(scope, logits, batch);
            let probs: Vec<f64> = batch.iter().map(|&i| norm.prob(logits[i].into())).collect();
            let a: f64 = probs.iter().zip(coeffs).map(|(s, c)| s * c).sum();
            let n = norm.n;
            match scope {
                SoftmaxScope::Global => {
                    for (g, &w) in grad.iter_mut().zip(logits) {
                        *g = -(n / b) * norm.prob(w.into()) * a;
                    }
                    for ((&i, &c), &s) in batch.iter().zip(coeffs).zip(&probs) {
                        grad[i] += (n / b) * s * c;
                    }
                }
                SoftmaxScope::Batch => {
                    for ((&i, &c), &s) in batch.iter().zip(coeffs).zip(&probs) {
                        grad[i] += s * (c - a);
                    }
                }
            }
        }
    }
    (objective, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a seeded stream without a rand dependency.
    struct Rng(u64);

    impl Rng {
        fn next_f64(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }

        fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * self.next_f64()
        }
    }

    fn ids(n: usize) -> Vec<ExampleId> {
        (0..n).map(|i| ExampleId(format!("ex{i}"))).collect()
    }

    /// Central finite differences of J against the analytic gradient, as max-abs relative error.
    fn check_gradient(kind: WeightKind, scope: SoftmaxScope, seed: u64) {
        let mut rng = Rng(seed);
        let n = 9;
        let logits: Vec<f64> = (0..n).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let batch = [4, 1, 7, 1]; // index 1 repeats, as a sampler with replacement may produce
        let coeffs: Vec<f64> = batch.iter().map(|_| rng.uniform(0.0, 3.0)).collect();
        let (_, grad) = objective_grad(kind, scope, &logits, &batch, &coeffs);
        let j = |w: &[f64]| objective_grad(kind, scope, w, &batch, &coeffs).0;
        let h = 1e-5;
        let fd: Vec<f64> = (0..n)
            .map(|i| {
                let (mut up, mut down) = (logits.clone(), logits.clone());
                up[i] += h;
                down[i] -= h;
                (j(&up) - j(&down)) / (2.0 * h)
            })
            .collect();
        let scale = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        let err = grad
            .iter()
            .zip(&fd)
            .fold(0.0f64, |m, (g, f)| m.max((g - f).abs()));
        assert!(
            err / scale < 1e-4,
            "{kind:?}/{scope:?}: analytic {grad:?} vs fd {fd:?}"
        );
        if kind == WeightKind::Sigmoid || scope == SoftmaxScope::Batch {
            for i in [0, 2, 3, 5, 6, 8] {
                assert_eq!(
                    grad[i], 0.0,
                    "{kind:?}/{scope:?} touched index {i} outside the batch"
                );
            }
        } else {
            assert!(
                grad.iter().all(|&g| g != 0.0),
                "global softmax touches every logit"
            );
        }
    }

    #[test]
    fn global_softmax_gradient_matches_finite_differences() {
        check_gradient(WeightKind::Softmax, SoftmaxScope::Global, 1);
    }

    #[test]
    fn batch_softmax_gradient_matches_finite_differences() {
        check_gradient(WeightKind::Softmax, SoftmaxScope::Batch, 2);
    }

    #[test]
    fn sigmoid_gradient_matches_finite_differences() {
        check_gradient(WeightKind::Sigmoid, SoftmaxScope::Global, 3);
    }

    fn random_selector(kind: WeightKind, scope: SoftmaxScope, n: usize) -> Selector {
        let mut rng = Rng(11);
        let logits = (0..n).map(|_| rng.uniform(-4.0, 4.0) as f32).collect();
        Selector::from_logits(ids(n), logits, kind, scope).unwrap()
    }

    #[test]
    fn global_softmax_weights_have_mean_one() {
        let s = random_selector(WeightKind::Softmax, SoftmaxScope::Global, 50);
        let all: Vec<usize> = (0..50).collect();
        let w = s.weights_for(&all).unwrap();
        let mean = w.iter().map(|&p| f64::from(p)).sum::<f64>() / 50.0;
        assert!((mean - 1.0).abs() < 1e-6, "{mean}");
        // A sub-batch reads the same global weights.
        assert_eq!(s.weights_for(&[3, 7]).unwrap(), vec![w[3], w[7]]);
    }

    #[test]
    fn batch_softmax_weights_sum_to_batch_size() {
        let s = random_selector(WeightKind::Softmax, SoftmaxScope::Batch, 50);
        let w = s.weights_for(&[0, 5, 9, 33, 49]).unwrap();
        let sum: f64 = w.iter().map(|&p| f64::from(p)).sum();
        assert!((sum - 5.0).abs() < 1e-5, "{sum}");
    }

    #[test]
    fn sigmoid_weights_lie_in_zero_two() {
        let mut s = random_selector(WeightKind::Sigmoid, SoftmaxScope::Global, 50);
        s.logits_mut()[0] = 30.0;
        s.logits_mut()[1] = -30.0;
        let w = s.weights_for(&(0..50).collect::<Vec<_>>()).unwrap();
        assert!(w.iter().all(|&p| p > 0.0 && p <= 2.0), "{w:?}");
        let fresh = Selector::new(ids(3), WeightKind::Sigmoid, SoftmaxScope::Global).unwrap();
        assert_eq!(fresh.weights_for(&[0, 1, 2]).unwrap(), vec![1.0; 3]);
    }

    #[test]
    fn softmax_selector_starts_at_logit_point_one_with_unit_weights() {
        let s = Selector::new(ids(4), WeightKind::Softmax, SoftmaxScope::Global).unwrap();
        assert_eq!(s.logits(), &[0.1; 4]);
        for p in s.weights_for(&[0, 3]).unwrap() {
            assert!((p - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn large_logits_do_not_overflow_softmax() {
        let s = Selector::from_logits(
            ids(2),
            vec![1000.0, 999.0],
            WeightKind::Softmax,
            SoftmaxScope::Global,
        )
        .unwrap();
        let w = s.weights_for(&[0, 1]).unwrap();
        assert!(
            w.iter().all(|p| p.is_finite()) && (w[0] + w[1] - 2.0).abs() < 1e-6,
            "{w:?}"
        );
    }

    #[test]
    fn public_gradient_matches_f64_core_and_reports_objective() {
        let s = random_selector(WeightKind::Softmax, SoftmaxScope::Global, 6);
        let g = s.objective_grad(&[2, 4], &[1.5, 0.5]).unwrap();
        let w = s.weights_for(&[2, 4]).unwrap();
        let expected = (f64::from(w[0]) * 1.5 + f64::from(w[1]) * 0.5) / 2.0;
        assert!((g.objective - expected).abs() < 1e-6);
        assert_eq!(g.grad.len(), 6);
        // The gradient of a softmax objective sums to 0 (shift invariance).
        assert!(g.grad.iter().map(|&x| f64::from(x)).sum::<f64>().abs() < 1e-6);
    }

    #[test]
    fn duplicate_ids_are_rejected_by_name() {
        let err = Selector::new(
            ["a", "b", "a"].map(ExampleId::from).to_vec(),
            WeightKind::Softmax,
            SoftmaxScope::Global,
        )
        .unwrap_err();
        assert!(
            matches!(&err, CoreError::DuplicateId { id } if id.as_str() == "a"),
            "{err:?}"
        );
        assert!(err.to_string().contains("`a`"));
    }

    #[test]
    fn ids_map_to_indices_and_unknown_ids_are_errors() {
        let s = Selector::new(ids(3), WeightKind::Softmax, SoftmaxScope::Global).unwrap();
        assert_eq!(s.indices_of(&["ex2".into(), "ex0".into()]).unwrap(), vec![2, 0]);
        assert!(matches!(
            s.indices_of(&["nope".into()]),
            Err(CoreError::UnknownId { .. })
        ));
    }

    #[test]
    fn bad_batches_and_coefficients_are_errors() {
        let s = Selector::new(ids(3), WeightKind::Softmax, SoftmaxScope::Batch).unwrap();
        assert!(matches!(
            s.weights_for(&[3]),
            Err(CoreError::IndexOutOfRange { index: 3, len: 3 })
        ));
        assert!(matches!(s.objective_grad(&[], &[]), Err(CoreError::EmptyBatch)));
        assert!(matches!(
            s.objective_grad(&[0, 1], &[1.0]),
            Err(CoreError::LengthMismatch { .. })
        ));
        let err = s.objective_grad(&[0, 1], &[1.0, f32::NAN]).unwrap_err();
        assert!(
            matches!(&err, CoreError::NonFiniteCoefficient { id } if id.as_str() == "ex1"),
            "{err:?}"
        );
    }
}
