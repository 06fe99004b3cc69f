//! The refusal detector measured on labelled outputs (`seal judge refusals` and the report's
//! `refusal_check`): how far its refusal rates can be trusted.

use std::path::Path;

use anyhow::{Context, bail};
use seal_eval::DetectorCheck;

/// Measures [`seal_eval::is_refusal`] on the responses of two canonical datasets: `refusals`
/// (each response refuses) and `compliances` (each answers). A record without a response is an
/// error naming the file and the record.
pub fn check_refusal_detector(refusals: &Path, compliances: &Path) -> anyhow::Result<DetectorCheck> {
    let read = |path: &Path| -> anyhow::Result<Vec<(String, String)>> {
        let examples =
            seal_data::read_examples(path).with_context(|| format!("reading {}", path.display()))?;
        if examples.is_empty() {
            bail!("{}: no records", path.display());
        }
        examples
            .into_iter()
            .map(|e| match e.response {
                Some(response) => Ok((e.id.to_string(), response)),
                None => bail!("{}: record `{}` has no response to check", path.display(), e.id),
            })
            .collect()
    };
    let (refusing, answering) = (read(refusals)?, read(compliances)?);
    Ok(DetectorCheck::measure(pairs(&refusing), pairs(&answering)))
}

fn pairs(rows: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    rows.iter().map(|(id, output)| (id.as_str(), output.as_str()))
}
