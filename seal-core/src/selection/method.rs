//! The vocabulary of fine-tuning selection methods: how plans, the CLI and reports spell them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// The spellings of [`SelectionMethod`], for error messages and help text.
pub const METHOD_NAMES: &str = "full, seal, random, dsir, safeinstr, seal+safeinstr, loss-rank";

/// A fine-tuning selection method of DESIGN section 5, spelled as on the CLI and in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SelectionMethod {
    /// The top p% by final selector logit.
    #[serde(rename = "seal")]
    Seal,
    /// All of D_ft: the reference every win rate is measured against.
    #[serde(rename = "full")]
    Full,
    /// A seeded random p% ([`random_selection`]).
    #[serde(rename = "random")]
    Random,
    /// The top p% by DSIR importance weight, D_safe as target ([`dsir_selection`]).
    #[serde(rename = "dsir")]
    Dsir,
    /// All of D_ft plus the safety demonstrations ([`with_safety_demos`]).
    #[serde(rename = "safeinstr")]
    SafeInstr,
    /// SEAL's selection plus the safety demonstrations.
    #[serde(rename = "seal+safeinstr")]
    SealSafeInstr,
    /// The p% with the lowest loss under the initial aligned model ([`loss_rank_selection`]).
    #[serde(rename = "loss-rank")]
    LossRank,
}

impl SelectionMethod {
    /// Every method, in the order reports list them.
    pub const ALL: [Self; 7] = [
        Self::Full,
        Self::Seal,
        Self::Random,
        Self::Dsir,
        Self::SafeInstr,
        Self::SealSafeInstr,
        Self::LossRank,
    ];

    /// The method's CLI and TOML spelling, e.g. `"seal+safeinstr"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Seal => "seal",
            Self::Full => "full",
            Self::Random => "random",
            Self::Dsir => "dsir",
            Self::SafeInstr => "safeinstr",
            Self::SealSafeInstr => "seal+safeinstr",
            Self::LossRank => "loss-rank",
        }
    }

    /// Whether the method trains on the safety demonstrations too.
    pub fn adds_safety_demos(self) -> bool {
        matches!(self, Self::SafeInstr | Self::SealSafeInstr)
    }

    /// Whether the method keeps all of D_ft, so the keep fraction p does not apply.
    pub fn keeps_all(self) -> bool {
        matches!(self, Self::Full | Self::SafeInstr)
    }
}

impl fmt::Display for SelectionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SelectionMethod {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == text)
            .ok_or_else(|| CoreError::UnknownMethod {
                text: text.to_owned(),
                expected: METHOD_NAMES,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip_through_text_and_serde() {
        for method in SelectionMethod::ALL {
            assert_eq!(method.name().parse::<SelectionMethod>().unwrap(), method);
            let json = serde_json::to_string(&method).unwrap();
            assert_eq!(json, format!("\"{method}\""));
            assert_eq!(serde_json::from_str::<SelectionMethod>(&json).unwrap(), method);
        }
        let names: Vec<&str> = SelectionMethod::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.join(", "), METHOD_NAMES);
        let err = "seal+dsir".parse::<SelectionMethod>().unwrap_err();
        assert!(err.to_string().contains("seal+dsir"), "{err}");
        assert!(err.to_string().contains("loss-rank"), "lists the choices: {err}");
        assert!(SelectionMethod::SealSafeInstr.adds_safety_demos());
        assert!(!SelectionMethod::Seal.adds_safety_demos());
        assert!(SelectionMethod::SafeInstr.keeps_all() && !SelectionMethod::LossRank.keeps_all());
    }
}
