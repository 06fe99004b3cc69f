//! Judge-free diagnostics of a ranking of D_ft against the data's own labels (DESIGN section 6):
//! how well it puts the known poison last, and whether it drops a novel benign task with it.

use seal_core::{auroc, dropped_share};
use seal_data::{Example, Label};

/// Poison AUROC (benign above harmful by score: a selector's logit or a baseline's score), the
/// harmful share of the dropped part, and the AUROC of novel benign above harmful; each `None`
/// where the labels do not allow it.
///
/// # Errors
/// A score that is NaN, or lengths that disagree.
pub fn label_diagnostics(
    examples: &[&Example],
    logits: &[f32],
    kept: &[bool],
) -> seal_core::Result<(Option<f64>, Option<f64>, Option<f64>)> {
    let labelled: Vec<usize> = (0..examples.len())
        .filter(|&i| examples[i].label != Label::Unknown)
        .collect();
    let harmful = |i: usize| examples[i].label == Label::Harmful;
    let has = |f: &dyn Fn(usize) -> bool| labelled.iter().any(|&i| f(i));
    if !(has(&harmful) && has(&|i| !harmful(i))) {
        return Ok((None, None, None));
    }
    // AUROC of "is harmful" scored by −logit: how well a low logit marks the poison.
    let scores: Vec<f64> = labelled.iter().map(|&i| -f64::from(logits[i])).collect();
    let is_harmful: Vec<bool> = labelled.iter().map(|&i| harmful(i)).collect();
    let label_auroc = auroc(&scores, &is_harmful)?;
    let kept_labelled: Vec<bool> = labelled.iter().map(|&i| kept[i]).collect();
    let dropped = dropped_share(&kept_labelled, &is_harmful)?;
    let novel: Vec<usize> = labelled
        .iter()
        .copied()
        .filter(|&i| harmful(i) || examples[i].novel)
        .collect();
    let novel_auroc = if novel.iter().any(|&i| examples[i].novel) {
        let scores: Vec<f64> = novel.iter().map(|&i| -f64::from(logits[i])).collect();
        let labels: Vec<bool> = novel.iter().map(|&i| harmful(i)).collect();
        Some(auroc(&scores, &labels)?)
    } else {
        None
    };
    Ok((Some(label_auroc), dropped, novel_auroc))
}
