//! A ranking of D_ft, `scores.parquet` (DESIGN section 1): one row per fine-tuning example with
//! its id, the method's score (higher = more trusted: the selector's final logit for SEAL, each
//! baseline's own score), the selector's weight where there is one, its rank (0 = most trusted)
//! and whether it is kept at the chosen share, plus its ground-truth label when the data carries
//! one. The selector writes one; so does every fine-tuning or ranking stage, for its own method.
//!
//! Later stages (fine-tuning on the selection, a selector transferred to another model, the
//! report's diagnostics) match rows by id, never by position.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;
use seal_core::ExampleId;

use crate::error::{DataError, Result};
use crate::io::write_atomic;

/// One row of a scores table.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    /// The example's id.
    pub id: ExampleId,
    /// The method's score, higher kept first: the final selector logit ω for SEAL, else the
    /// baseline's score (see `seal_core::Candidate::score`).
    pub score: f64,
    /// Final selector weight p(ω); none for a baseline's ranking.
    pub weight: Option<f32>,
    /// Rank by logit, 0 = highest (ties broken by id).
    pub rank: u32,
    /// Kept at the share the selection was made with.
    pub kept: bool,
    /// Ground-truth label name (`benign`, `harmful`, `unknown`).
    pub label: String,
}

const COLUMNS: [&str; 6] = ["id", "score", "weight", "rank", "kept", "label"];

/// Writes `rows` to `path` as Parquet, atomically.
///
/// # Errors
/// [`DataError::Write`] / [`DataError::Parquet`] naming the file.
pub fn write_scores(path: &Path, rows: &[ScoreRow]) -> Result<()> {
    let columns = vec![
        Column::new(
            COLUMNS[0].into(),
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            COLUMNS[1].into(),
            rows.iter().map(|r| r.score).collect::<Vec<_>>(),
        ),
        Column::new(
            COLUMNS[2].into(),
            rows.iter().map(|r| r.weight).collect::<Vec<_>>(),
        ),
        Column::new(COLUMNS[3].into(), rows.iter().map(|r| r.rank).collect::<Vec<_>>()),
        Column::new(COLUMNS[4].into(), rows.iter().map(|r| r.kept).collect::<Vec<_>>()),
        Column::new(
            COLUMNS[5].into(),
            rows.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(),
        ),
    ];
    let parquet = |source| DataError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let mut df = DataFrame::new(rows.len(), columns).map_err(parquet)?;
    write_atomic(path, |file| {
        ParquetWriter::new(file)
            .finish(&mut df)
            .map(|_| ())
            .map_err(parquet)
    })
}

/// Reads a scores table written by [`write_scores`].
///
/// # Errors
/// [`DataError::Read`] / [`DataError::Parquet`] if the file cannot be read, and
/// [`DataError::Column`] naming a missing column or a null / duplicate id.
pub fn read_scores(path: &Path) -> Result<Vec<ScoreRow>> {
    let file = File::open(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|source| DataError::Parquet {
            path: path.to_path_buf(),
            source,
        })?;
    let bad = |row: usize, column: &'static str, problem: String| DataError::Column {
        path: path.to_path_buf(),
        row,
        column,
        problem,
    };
    let col = |i: usize| {
        df.column(COLUMNS[i])
            .map_err(|e| bad(0, COLUMNS[i], e.to_string()))
    };
    let ids = col(0)?
        .str()
        .map_err(|e| bad(0, COLUMNS[0], e.to_string()))?
        .clone();
    let scores = col(1)?
        .f64()
        .map_err(|e| bad(0, COLUMNS[1], e.to_string()))?
        .clone();
    let weights = col(2)?
        .f32()
        .map_err(|e| bad(0, COLUMNS[2], e.to_string()))?
        .clone();
    let ranks = col(3)?
        .u32()
        .map_err(|e| bad(0, COLUMNS[3], e.to_string()))?
        .clone();
    let kept = col(4)?
        .bool()
        .map_err(|e| bad(0, COLUMNS[4], e.to_string()))?
        .clone();
    let labels = col(5)?
        .str()
        .map_err(|e| bad(0, COLUMNS[5], e.to_string()))?
        .clone();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let null = |i: usize| bad(row, COLUMNS[i], "null".to_string());
        let id = ids.get(row).ok_or_else(|| null(0))?;
        if !seen.insert(id.to_string()) {
            return Err(bad(row, COLUMNS[0], format!("duplicate id `{id}`")));
        }
        out.push(ScoreRow {
            id: ExampleId(id.to_string()),
            score: scores.get(row).ok_or_else(|| null(1))?,
            weight: weights.get(row),
            rank: ranks.get(row).ok_or_else(|| null(3))?,
            kept: kept.get(row).ok_or_else(|| null(4))?,
            label: labels.get(row).unwrap_or("unknown").to_string(),
        });
    }
    Ok(out)
}
