//! Penalty (γ) schedules of the penalty reformulation (DESIGN sections 2 and 4).
//!
//! The model's loss is `λ·f + (1 − λ)·g` with `λ = 1/(1 + γ)`, so every schedule can be read as
//! γ or as λ (the reference code's `upperlevel_weight`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// The CLI spellings [`PenaltySchedule::from_str`] accepts, for error messages and `--help`.
pub const SCHEDULE_FORMS: &str =
    "reference, faster, constant:GAMMA, linear:START:STEP:MAX, ramp:START:END:STEPS";

/// Weight γ on the lower-level optimality gap, as a function of the epoch (or, for `ramp`, of the
/// optimizer step).
///
/// In TOML: `penalty = { kind = "linear", start = 0.0, step = 0.05, max = 0.5 }`. Deserializing
/// does not check ranges: call [`PenaltySchedule::validate`] once the number of epochs is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PenaltySchedule {
    /// λ_e = 1 − 0.03·e, γ = (1 − λ)/λ: the released Llama-3 script (the default).
    ///
    /// λ reaches 0 at e = 34, so at most 34 epochs validate.
    Reference {},
    /// γ fixed at `gamma` (≥ 0) for every epoch.
    Constant {
        /// The penalty γ, ≥ 0.
        gamma: f64,
    },
    /// λ_e = 1 − 0.1·e: the reference schedule, faster. At most 10 epochs validate.
    Faster {},
    /// γ_e = min(max, start + step·e).
    Linear {
        /// γ at epoch 0, ≥ 0.
        start: f64,
        /// Increase of γ per epoch (may be negative as long as γ stays ≥ 0 over the planned epochs).
        step: f64,
        /// Cap on γ; `inf` for none.
        max: f64,
    },
    /// Per optimizer step t: γ_t = min(end, start + (end − start)·t/steps), as in V-PBGD.
    Ramp {
        /// γ at step 0, ≥ 0.
        start: f64,
        /// γ from step `steps` on, ≥ `start`.
        end: f64,
        /// Number of optimizer steps the ramp takes, > 0.
        steps: u64,
    },
}

impl Default for PenaltySchedule {
    fn default() -> Self {
        Self::Reference {}
    }
}

impl PenaltySchedule {
    /// The penalty γ at `epoch` (0-based) and global optimizer `step` (0-based, counted across
    /// epochs). Only `ramp` reads `step`; the others read only `epoch`.
    ///
    /// Past the epochs [`validate`](Self::validate) accepts, `reference` and `faster` have
    /// λ ≤ 0; there γ is `+inf` (the limit as λ → 0⁺), so that [`lambda`](Self::lambda) is 0.
    pub fn gamma(&self, epoch: u64, step: u64) -> f64 {
        match *self {
            Self::Reference {} | Self::Faster {} => {
                let lambda = self.lambda(epoch, step);
                if lambda > 0.0 {
                    (1.0 - lambda) / lambda
                } else {
                    f64::INFINITY
                }
            }
            Self::Constant { gamma } => gamma,
            Self::Linear {
                start,
                step: slope,
                max,
            } => max.min(start + slope * epoch as f64),
            Self::Ramp { start, end, steps } => {
                // steps = 0 fails validation; read it as an instant jump rather than dividing by 0.
                let progress = if steps == 0 {
                    1.0
                } else {
                    step as f64 / steps as f64
                };
                end.min(start + (end - start) * progress)
            }
        }
    }

    /// The upper-level weight λ = 1/(1 + γ) at `epoch` and `step` (see [`gamma`](Self::gamma)).
    ///
    /// `reference` and `faster` define λ directly, so it is returned exactly, clamped at 0.
    pub fn lambda(&self, epoch: u64, step: u64) -> f64 {
        match self.lambda_rate() {
            Some(rate) => (1.0 - rate * epoch as f64).max(0.0),
            None => 1.0 / (1.0 + self.gamma(epoch, step)),
        }
    }

    /// Per-epoch decrease of λ for the schedules defined by λ.
    fn lambda_rate(&self) -> Option<f64> {
        match self {
            Self::Reference {} => Some(0.03),
            Self::Faster {} => Some(0.1),
            _ => None,
        }
    }

    /// Checks the parameters, and that γ is a number ≥ 0 and λ > 0 at every epoch of a run of
    /// `epochs` epochs (`epochs = 0` checks the parameters only).
    ///
    /// # Errors
    /// [`CoreError::ScheduleParam`] for a NaN/negative/infinite parameter, `end < start` or
    /// `steps = 0`; [`CoreError::ScheduleLambda`] for `reference` beyond 34 or `faster` beyond 10
    /// epochs, naming the first bad epoch; [`CoreError::ScheduleGamma`] when `linear` goes negative.
    pub fn validate(&self, epochs: u64) -> Result<()> {
        self.check_params()?;
        let Some(last) = epochs.checked_sub(1) else {
            return Ok(());
        };
        if let Some(rate) = self.lambda_rate()
            && self.lambda(last, 0) <= 0.0
        {
            // λ falls with e, so the first bad epoch is the first e with 1 − rate·e ≤ 0.
            let epoch = (0..=last)
                .find(|&e| 1.0 - rate * e as f64 <= 0.0)
                .expect("λ at the last epoch is ≤ 0");
            return Err(CoreError::ScheduleLambda {
                schedule: self.to_string(),
                epoch,
                lambda: 1.0 - rate * epoch as f64,
            });
        }
        // Every schedule is monotone in the epoch, so its extremes are at the ends.
        for epoch in [0, last] {
            let gamma = self.gamma(epoch, 0);
            if gamma.is_nan() || gamma < 0.0 {
                return Err(CoreError::ScheduleGamma {
                    schedule: self.to_string(),
                    epoch,
                    gamma,
                });
            }
        }
        Ok(())
    }

    fn check_params(&self) -> Result<()> {
        let bad = |field: &'static str, reason: &'static str| CoreError::ScheduleParam {
            schedule: self.to_string(),
            field,
            reason,
        };
        let non_negative = |field, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(bad(field, "must be finite and ≥ 0"))
            }
        };
        match *self {
            Self::Reference {} | Self::Faster {} => {}
            Self::Constant { gamma } => non_negative("gamma", gamma)?,
            Self::Linear { start, step, max } => {
                non_negative("start", start)?;
                if !step.is_finite() {
                    return Err(bad("step", "must be finite"));
                }
                // `inf` means no cap; NaN would be silently ignored by f64::min.
                if max.is_nan() || max < 0.0 {
                    return Err(bad("max", "must be ≥ 0 (inf for no cap)"));
                }
            }
            Self::Ramp { start, end, steps } => {
                non_negative("start", start)?;
                non_negative("end", end)?;
                // With end < start the min() in the definition would pin γ at `end` from step 0.
                if end < start {
                    return Err(bad("end", "must be ≥ start (the ramp only rises)"));
                }
                if steps == 0 {
                    return Err(bad("steps", "must be > 0"));
                }
            }
        }
        Ok(())
    }
}

/// Writes the CLI spelling, which [`PenaltySchedule::from_str`] reads back.
impl fmt::Display for PenaltySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reference {} => f.write_str("reference"),
            Self::Faster {} => f.write_str("faster"),
            Self::Constant { gamma } => write!(f, "constant:{gamma}"),
            Self::Linear { start, step, max } => write!(f, "linear:{start}:{step}:{max}"),
            Self::Ramp { start, end, steps } => write!(f, "ramp:{start}:{end}:{steps}"),
        }
    }
}

/// Parses the CLI spellings in [`SCHEDULE_FORMS`], e.g. `constant:0.1` or `ramp:0:1:500`, and
/// checks the parameters (not the epochs: see [`PenaltySchedule::validate`]).
impl FromStr for PenaltySchedule {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self> {
        let parse_error = |reason: String| CoreError::ParseSchedule {
            text: text.to_owned(),
            reason,
            expected: SCHEDULE_FORMS,
        };
        let mut parts = text.trim().split(':');
        let name = parts.next().unwrap_or_default();
        let params: Vec<&str> = parts.collect();
        let arity = match name {
            "reference" | "faster" => 0,
            "constant" => 1,
            "linear" | "ramp" => 3,
            _ => return Err(parse_error(format!("unknown schedule `{name}`"))),
        };
        if params.len() != arity {
            return Err(parse_error(format!(
                "`{name}` takes {arity} parameter(s), found {}",
                params.len()
            )));
        }
        let num = |i: usize| -> Result<f64> {
            params[i]
                .trim()
                .parse()
                .map_err(|_| parse_error(format!("`{}` is not a number", params[i])))
        };
        let schedule = match name {
            "reference" => Self::Reference {},
            "faster" => Self::Faster {},
            "constant" => Self::Constant { gamma: num(0)? },
            "linear" => Self::Linear {
                start: num(0)?,
                step: num(1)?,
                max: num(2)?,
            },
            _ => Self::Ramp {
                start: num(0)?,
                end: num(1)?,
                steps: params[2]
                    .trim()
                    .parse()
                    .map_err(|_| parse_error(format!("`{}` is not a whole number of steps", params[2])))?,
            },
        };
        schedule.check_params()?;
        Ok(schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: f64 = 1e-12;

    fn gammas(schedule: &PenaltySchedule) -> [f64; 3] {
        [0, 1, 2].map(|e| schedule.gamma(e, 0))
    }

    fn assert_close(actual: [f64; 3], expected: [f64; 3]) {
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() < TOL, "{actual:?} != {expected:?}");
        }
    }

    #[test]
    fn reference_matches_design_table() {
        let s = PenaltySchedule::default();
        assert_close(gammas(&s), [0.0, 0.03 / 0.97, 0.06 / 0.94]);
        assert!((s.gamma(1, 0) - 0.0309).abs() < 1e-4 && (s.gamma(2, 0) - 0.0638).abs() < 1e-4);
        assert!((s.lambda(2, 0) - 0.94).abs() < TOL);
    }

    #[test]
    fn constant_matches_design_table() {
        assert_close(gammas(&PenaltySchedule::Constant { gamma: 0.1 }), [0.1; 3]);
    }

    #[test]
    fn faster_matches_design_table() {
        assert_close(gammas(&PenaltySchedule::Faster {}), [0.0, 0.1 / 0.9, 0.25]);
    }

    #[test]
    fn linear_grows_by_step_then_holds_max() {
        let s = PenaltySchedule::Linear {
            start: 0.1,
            step: 0.2,
            max: 0.4,
        };
        assert_close(gammas(&s), [0.1, 0.3, 0.4]);
        assert_eq!(s.gamma(50, 0), 0.4);
    }

    #[test]
    fn ramp_rises_per_step_and_holds_end_after_steps() {
        let s = PenaltySchedule::Ramp {
            start: 0.0,
            end: 1.0,
            steps: 100,
        };
        assert_eq!(s.gamma(0, 0), 0.0);
        assert_eq!(s.gamma(0, 50), 0.5);
        assert_eq!(s.gamma(7, 100), 1.0);
        assert_eq!(s.gamma(7, 10_000), 1.0);
        // Epoch is ignored: the ramp counts optimizer steps across epochs.
        assert_eq!(s.gamma(3, 25), s.gamma(0, 25));
    }

    #[test]
    fn lambda_is_one_over_one_plus_gamma() {
        let s = PenaltySchedule::Linear {
            start: 0.5,
            step: 0.5,
            max: 3.0,
        };
        assert!((s.lambda(1, 0) - 0.5).abs() < TOL);
        let r = PenaltySchedule::Reference {};
        assert!((r.lambda(5, 0) - 1.0 / (1.0 + r.gamma(5, 0))).abs() < TOL);
    }

    #[test]
    fn reference_validates_34_epochs_and_names_epoch_34_beyond() {
        let s = PenaltySchedule::Reference {};
        s.validate(34).unwrap();
        let err = s.validate(40).unwrap_err();
        assert!(
            matches!(err, CoreError::ScheduleLambda { epoch: 34, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("reference") && msg.contains("epoch 34"), "{msg}");
    }

    #[test]
    fn faster_rejects_epoch_where_lambda_reaches_zero() {
        let s = PenaltySchedule::Faster {};
        s.validate(10).unwrap();
        let err = s.validate(11).unwrap_err();
        assert!(
            matches!(err, CoreError::ScheduleLambda { epoch: 10, .. }),
            "{err:?}"
        );
        assert_eq!(s.gamma(10, 0), f64::INFINITY);
        assert_eq!(s.lambda(12, 0), 0.0);
    }

    #[test]
    fn validate_rejects_negative_nan_and_zero_steps() {
        let bad = [
            PenaltySchedule::Constant { gamma: -0.1 },
            PenaltySchedule::Constant { gamma: f64::NAN },
            PenaltySchedule::Linear {
                start: 0.0,
                step: 0.1,
                max: f64::NAN,
            },
            PenaltySchedule::Ramp {
                start: 0.0,
                end: 1.0,
                steps: 0,
            },
            PenaltySchedule::Ramp {
                start: 1.0,
                end: 0.5,
                steps: 10,
            },
        ];
        for s in bad {
            assert!(
                matches!(s.validate(3), Err(CoreError::ScheduleParam { .. })),
                "{s}"
            );
        }
    }

    #[test]
    fn linear_going_negative_within_planned_epochs_is_an_error() {
        let s = PenaltySchedule::Linear {
            start: 0.2,
            step: -0.1,
            max: f64::INFINITY,
        };
        s.validate(3).unwrap();
        let err = s.validate(4).unwrap_err();
        assert!(
            matches!(err, CoreError::ScheduleGamma { epoch: 3, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn cli_spellings_round_trip() {
        for text in [
            "reference",
            "faster",
            "constant:0.1",
            "linear:0:0.05:0.5",
            "ramp:0:1:500",
            "linear:0:0.1:inf",
        ] {
            let s: PenaltySchedule = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
            assert_eq!(s.to_string().parse::<PenaltySchedule>().unwrap(), s);
        }
        assert_eq!(
            "ramp:0.5:2:10".parse::<PenaltySchedule>().unwrap(),
            PenaltySchedule::Ramp {
                start: 0.5,
                end: 2.0,
                steps: 10
            }
        );
    }

    #[test]
    fn unknown_schedule_names_the_text_and_lists_forms() {
        let msg = "cosine:1".parse::<PenaltySchedule>().unwrap_err().to_string();
        assert!(
            msg.contains("`cosine:1`") && msg.contains("unknown schedule `cosine`"),
            "{msg}"
        );
        assert!(msg.contains(SCHEDULE_FORMS), "{msg}");
    }

    #[test]
    fn malformed_parameters_are_parse_errors() {
        for text in [
            "constant",
            "constant:x",
            "linear:0:1",
            "ramp:0:1:2.5",
            "reference:1",
        ] {
            let err = text.parse::<PenaltySchedule>().unwrap_err();
            assert!(matches!(err, CoreError::ParseSchedule { .. }), "{text}: {err:?}");
        }
        let err = "constant:-1".parse::<PenaltySchedule>().unwrap_err();
        assert!(
            matches!(err, CoreError::ScheduleParam { field: "gamma", .. }),
            "{err:?}"
        );
    }

    #[test]
    fn serde_uses_kind_tag_and_rejects_unknown_fields() {
        let s: PenaltySchedule = serde_json::from_str(r#"{"kind": "constant", "gamma": 0.5}"#).unwrap();
        assert_eq!(s, PenaltySchedule::Constant { gamma: 0.5 });
        let r: PenaltySchedule = serde_json::from_str(r#"{"kind": "reference"}"#).unwrap();
        assert_eq!(r, PenaltySchedule::Reference {});
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"kind":"reference"}"#);
        assert!(serde_json::from_str::<PenaltySchedule>(r#"{"kind": "reference", "gamma": 1}"#).is_err());
        assert!(serde_json::from_str::<PenaltySchedule>(r#"{"kind": "constant", "gama": 1}"#).is_err());
    }
}
