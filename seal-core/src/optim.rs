//! Optimizers for the selector logits ω (DESIGN section 3): Adam (the reference's) or SGD, after
//! clipping the gradient by its global L2 norm.
//!
//! ω is a plain `[f32]`, so its optimizer is a few lines of arithmetic rather than a Burn module;
//! it follows PyTorch's `torch.optim.Adam`/`SGD` and `clip_grad_norm_` so runs compare with the
//! reference implementation.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

fn default_lr() -> f64 {
    5e-3
}
fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.95
}
fn default_eps() -> f64 {
    1e-8
}
fn default_clip_norm() -> f64 {
    10.0
}

/// The selector's optimizer and its settings. In TOML: `optimizer = { kind = "sgd", lr = 2.0 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SelectorOptimizer {
    /// Adam with PyTorch's semantics (bias-corrected moments, `eps` added after the square root);
    /// constant learning rate, no weight decay.
    Adam {
        /// Step size, > 0; default 5e-3.
        #[serde(default = "default_lr")]
        lr: f64,
        /// First-moment decay, in [0, 1); default 0.9.
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// Second-moment decay, in [0, 1); default 0.95.
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// Added to the bias-corrected √v, ≥ 0; default 1e-8.
        #[serde(default = "default_eps")]
        eps: f64,
        /// Maximum global L2 norm of the gradient, > 0 (`inf` disables clipping); default 10.
        #[serde(default = "default_clip_norm")]
        clip_norm: f64,
    },
    /// Plain gradient descent, ω ← ω − lr·g. `lr` has no default: unlike Adam's, its scale depends
    /// on the size of the losses and of the batch.
    Sgd {
        /// Step size, > 0.
        lr: f64,
        /// Maximum global L2 norm of the gradient, > 0 (`inf` disables clipping); default 10.
        #[serde(default = "default_clip_norm")]
        clip_norm: f64,
    },
}

impl Default for SelectorOptimizer {
    fn default() -> Self {
        Self::Adam {
            lr: default_lr(),
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            clip_norm: default_clip_norm(),
        }
    }
}

/// What an optimizer carries between steps; serialisable so a run can resume from a checkpoint.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Steps taken so far (Adam's bias correction reads it).
    pub step: u64,
    /// Adam's first moment, one per logit (empty for SGD).
    pub exp_avg: Vec<f32>,
    /// Adam's second moment, one per logit (empty for SGD).
    pub exp_avg_sq: Vec<f32>,
}

/// The CLI and plan spelling: `adam` (the defaults) or `sgd:LR` (clip norm 10).
impl std::str::FromStr for SelectorOptimizer {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.split_once(':') {
            None if text == "adam" => Ok(SelectorOptimizer::default()),
            Some(("sgd", lr)) => {
                let lr: f64 = lr
                    .parse()
                    .map_err(|_| format!("selector optimizer: `{lr}` is not a number"))?;
                Ok(SelectorOptimizer::Sgd { lr, clip_norm: 10.0 })
            }
            _ => Err(format!(
                "unknown selector optimizer `{text}`: expected `adam` or `sgd:LR` (e.g. sgd:2.0)"
            )),
        }
    }
}

impl SelectorOptimizer {
    /// Checks every setting's range.
    ///
    /// # Errors
    /// [`CoreError::OptimizerParam`] naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let check = |field: &'static str, value: f64, ok: bool, reason: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(CoreError::OptimizerParam { field, value, reason })
            }
        };
        let (lr, clip_norm) = match *self {
            Self::Adam { lr, clip_norm, .. } | Self::Sgd { lr, clip_norm } => (lr, clip_norm),
        };
        check("lr", lr, lr.is_finite() && lr > 0.0, "must be finite and > 0")?;
        check(
            "clip_norm",
            clip_norm,
            clip_norm > 0.0,
            "must be > 0 (inf disables clipping)",
        )?;
        if let Self::Adam {
            beta1, beta2, eps, ..
        } = *self
        {
            check("beta1", beta1, (0.0..1.0).contains(&beta1), "must be in [0, 1)")?;
            check("beta2", beta2, (0.0..1.0).contains(&beta2), "must be in [0, 1)")?;
            check(
                "eps",
                eps,
                eps.is_finite() && eps >= 0.0,
                "must be finite and ≥ 0",
            )?;
        }
        Ok(())
    }

    /// The state before the first step, for `n` logits.
    pub fn init_state(&self, n: usize) -> OptimizerState {
        match self {
            Self::Adam { .. } => OptimizerState {
                step: 0,
                exp_avg: vec![0.0; n],
                exp_avg_sq: vec![0.0; n],
            },
            Self::Sgd { .. } => OptimizerState::default(),
        }
    }

    /// Clips `grad` to norm `clip_norm`, then takes one step on `logits`, updating `state`.
    /// Returns the gradient's norm before clipping (what `clip_grad_norm_` returns), for logging.
    ///
    /// # Errors
    /// [`CoreError::LengthMismatch`] if `grad` or the state's moments differ in length from
    /// `logits` (e.g. a state resumed for another dataset), and [`CoreError::NonFiniteGradient`]
    /// for a NaN or infinite gradient; nothing is changed in either case.
    pub fn step(&self, state: &mut OptimizerState, logits: &mut [f32], grad: &[f32]) -> Result<f64> {
        let n = logits.len();
        if grad.len() != n {
            return Err(CoreError::LengthMismatch {
                what: "gradient values",
                expected: n,
                found: grad.len(),
            });
        }
        if let Some(index) = grad.iter().position(|g| !g.is_finite()) {
            return Err(CoreError::NonFiniteGradient { index });
        }
        let (norm, scale) = clip_scale(grad, self.clip_norm());
        match *self {
            Self::Sgd { lr, .. } => {
                for (w, &g) in logits.iter_mut().zip(grad) {
                    *w = (f64::from(*w) - lr * f64::from(g) * scale) as f32;
                }
            }
            Self::Adam {
                lr,
                beta1,
                beta2,
                eps,
                ..
            } => {
                for (what, found) in [
                    ("exp_avg values", state.exp_avg.len()),
                    ("exp_avg_sq values", state.exp_avg_sq.len()),
                ] {
                    if found != n {
                        return Err(CoreError::LengthMismatch {
                            what,
                            expected: n,
                            found,
                        });
                    }
                }
                let t = state.step + 1;
                // Bias corrections as in torch.optim.Adam (the scalars are f64 there too).
                let step_size = lr / (1.0 - beta1.powf(t as f64));
                let correction2_sqrt = (1.0 - beta2.powf(t as f64)).sqrt();
                let moments = state.exp_avg.iter_mut().zip(state.exp_avg_sq.iter_mut());
                for ((w, &g), (m, v)) in logits.iter_mut().zip(grad).zip(moments) {
                    let g = f64::from(g) * scale;
                    let m_new = beta1 * f64::from(*m) + (1.0 - beta1) * g;
                    let v_new = beta2 * f64::from(*v) + (1.0 - beta2) * g * g;
                    // Moments are stored in f32 (PyTorch keeps them in the parameter's dtype), so a
                    // resumed run reads exactly what an uninterrupted one carries.
                    *m = m_new as f32;
                    *v = v_new as f32;
                    let denom = f64::from(*v).sqrt() / correction2_sqrt + eps;
                    *w = (f64::from(*w) - step_size * f64::from(*m) / denom) as f32;
                }
            }
        }
        state.step += 1;
        Ok(norm)
    }

    fn clip_norm(&self) -> f64 {
        match *self {
            Self::Adam { clip_norm, .. } | Self::Sgd { clip_norm, .. } => clip_norm,
        }
    }
}

/// The global L2 norm of `grad` and the factor `clip_grad_norm_` multiplies it by:
/// `min(1, max_norm / (norm + 1e-6))` (the 1e-6 is PyTorch's, against division by zero).
fn clip_scale(grad: &[f32], max_norm: f64) -> (f64, f64) {
    let norm = grad
        .iter()
        .map(|&g| f64::from(g) * f64::from(g))
        .sum::<f64>()
        .sqrt();
    (norm, (max_norm / (norm + 1e-6)).min(1.0))
}

/// Scales `grad` in place so its global L2 norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_` does; returns the norm before clipping.
pub fn clip_grad_norm(grad: &mut [f32], max_norm: f64) -> f64 {
    let (norm, scale) = clip_scale(grad, max_norm);
    if scale < 1.0 {
        for g in grad.iter_mut() {
            *g = (f64::from(*g) * scale) as f32;
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: f32 = 1e-7;

    fn assert_close(actual: &[f32], expected: &[f32], tol: f32) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() <= tol, "{actual:?} != {expected:?}");
        }
    }

    const INIT: [f32; 4] = [0.1, -0.3, 0.7, 0.0];
    const GRADS: [[f32; 4]; 3] = [
        [0.5, -2.0, 0.0, 1e-3],
        [12.0, 16.0, 0.0, 0.0],
        [-0.25, 0.5, 3.0, -1.0],
    ];

    #[test]
    fn first_adam_step_moves_each_logit_by_lr_against_its_gradient_sign() {
        let opt = SelectorOptimizer::default();
        let mut w = INIT;
        let mut state = opt.init_state(4);
        let norm = opt.step(&mut state, &mut w, &GRADS[0]).unwrap();
        assert!((norm - 2.0615528).abs() < 1e-6);
        // m̂ = g and v̂ = g² after one step, so Δ = −lr·g/(|g| + eps): −lr·sign(g), 0 where g = 0.
        let expected = [0.1 - 5e-3, -0.3 + 5e-3, 0.7, -5e-3 * 1e-3 / (1e-3 + 1e-8)];
        assert_close(&w, &expected, TOL);
    }

    #[test]
    fn adam_with_clipping_matches_pytorch_over_three_steps() {
        // torch 2.15: Adam([p], lr=5e-3, betas=(0.9, 0.95), eps=1e-8) after clip_grad_norm_(10),
        // float32, on INIT and GRADS (the second gradient has norm 20 and is halved).
        let expected = [
            [
                0.094_999_998_807_907_1,
                -0.295_000_016_689_300_54,
                0.699_999_988_079_071,
                -0.004_999_950_062_483_549,
            ],
            [
                0.091_062_553_226_947_78,
                -0.297_767_013_311_386_1,
                0.699_999_988_079_071,
                -0.008_393_140_509_724_617,
            ],
            [
                0.088_114_991_784_095_76,
                -0.300_123_155_117_034_9,
                0.696_883_857_250_213_6,
                -0.005_279_550_328_850_746,
            ],
        ];
        let opt = SelectorOptimizer::default();
        let mut w = INIT;
        let mut state = opt.init_state(4);
        for (g, e) in GRADS.iter().zip(expected) {
            opt.step(&mut state, &mut w, g).unwrap();
            assert_close(&w, &e.map(|x| x as f32), 2e-7);
        }
        assert_eq!(state.step, 3);
    }

    #[test]
    fn sgd_moves_by_lr_times_gradient() {
        let opt = SelectorOptimizer::Sgd {
            lr: 0.5,
            clip_norm: 10.0,
        };
        let mut w = [0.1, -0.3];
        let mut state = opt.init_state(2);
        opt.step(&mut state, &mut w, &[0.2, -0.4]).unwrap();
        assert_close(&w, &[0.0, -0.1], TOL);
    }

    #[test]
    fn clipping_scales_norm_20_to_10() {
        let mut g = [12.0, 16.0, 0.0];
        let norm = clip_grad_norm(&mut g, 10.0);
        assert_eq!(norm, 20.0);
        assert_close(&g, &[6.0, 8.0, 0.0], 1e-5);
        let mut small = [0.3, 0.4];
        clip_grad_norm(&mut small, 10.0);
        assert_eq!(small, [0.3, 0.4]);
    }

    #[test]
    fn sgd_step_uses_the_clipped_gradient() {
        let opt = SelectorOptimizer::Sgd {
            lr: 1.0,
            clip_norm: 10.0,
        };
        let mut w = [0.0, 0.0];
        opt.step(&mut opt.init_state(2), &mut w, &[12.0, 16.0]).unwrap();
        assert_close(&w, &[-6.0, -8.0], 1e-5);
    }

    #[test]
    fn resuming_from_serialized_state_equals_uninterrupted_run() {
        let opt = SelectorOptimizer::default();
        let (mut w_full, mut s_full) = (INIT, opt.init_state(4));
        for g in &GRADS {
            opt.step(&mut s_full, &mut w_full, g).unwrap();
        }

        let (mut w, mut s) = (INIT, opt.init_state(4));
        opt.step(&mut s, &mut w, &GRADS[0]).unwrap();
        let saved = (
            serde_json::to_string(&s).unwrap(),
            serde_json::to_string(&w).unwrap(),
        );
        let mut s: OptimizerState = serde_json::from_str(&saved.0).unwrap();
        let mut w: [f32; 4] = serde_json::from_str(&saved.1).unwrap();
        for g in &GRADS[1..] {
            opt.step(&mut s, &mut w, g).unwrap();
        }
        assert_eq!(w, w_full);
        assert_eq!(s, s_full);
    }

    #[test]
    fn adam_defaults_fill_omitted_keys_and_unknown_keys_are_rejected() {
        let opt: SelectorOptimizer = serde_json::from_str(r#"{"kind": "adam"}"#).unwrap();
        assert_eq!(opt, SelectorOptimizer::default());
        let sgd: SelectorOptimizer = serde_json::from_str(r#"{"kind": "sgd", "lr": 2.0}"#).unwrap();
        assert_eq!(
            sgd,
            SelectorOptimizer::Sgd {
                lr: 2.0,
                clip_norm: 10.0
            }
        );
        assert!(serde_json::from_str::<SelectorOptimizer>(r#"{"kind": "sgd"}"#).is_err());
        assert!(serde_json::from_str::<SelectorOptimizer>(r#"{"kind": "adam", "momentum": 0.9}"#).is_err());
    }

    #[test]
    fn validate_names_the_bad_setting() {
        SelectorOptimizer::default().validate().unwrap();
        let bad = SelectorOptimizer::Adam {
            lr: 5e-3,
            beta1: 1.0,
            beta2: 0.95,
            eps: 1e-8,
            clip_norm: 10.0,
        };
        assert!(matches!(
            bad.validate(),
            Err(CoreError::OptimizerParam { field: "beta1", .. })
        ));
        let bad = SelectorOptimizer::Sgd {
            lr: 0.0,
            clip_norm: 10.0,
        };
        assert!(matches!(
            bad.validate(),
            Err(CoreError::OptimizerParam { field: "lr", .. })
        ));
    }

    #[test]
    fn non_finite_gradient_or_mismatched_state_is_an_error_and_changes_nothing() {
        let opt = SelectorOptimizer::default();
        let mut w = INIT;
        let mut state = opt.init_state(4);
        let err = opt
            .step(&mut state, &mut w, &[0.0, f32::NAN, 0.0, 0.0])
            .unwrap_err();
        assert!(matches!(err, CoreError::NonFiniteGradient { index: 1 }));
        let mut short = opt.init_state(3);
        assert!(matches!(
            opt.step(&mut short, &mut w, &GRADS[0]),
            Err(CoreError::LengthMismatch { .. })
        ));
        assert_eq!((w, state), (INIT, opt.init_state(4)));
    }
}
