//! Summaries of a record set: counts by source, label, category and split, and token-length
//! histograms.

use std::collections::BTreeMap;

use crate::error::{DataError, Result};
use crate::record::Example;
use crate::text::{ChatTemplate, TextTokenizer};

/// Record counts, each map sorted by key (absent categories and splits count as `-`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Number of records.
    pub total: usize,
    /// Records with a response.
    pub with_response: usize,
    /// Records marked novel.
    pub novel: usize,
    /// By source.
    pub by_source: BTreeMap<String, usize>,
    /// By label name.
    pub by_label: BTreeMap<String, usize>,
    /// By category.
    pub by_category: BTreeMap<String, usize>,
    /// By split.
    pub by_split: BTreeMap<String, usize>,
}

/// Counts `examples` by source, label, category and split.
pub fn summarize(examples: &[Example]) -> Summary {
    let mut s = Summary {
        total: examples.len(),
        ..Default::default()
    };
    for e in examples {
        s.with_response += usize::from(e.response.is_some());
        s.novel += usize::from(e.novel);
        *s.by_source.entry(e.source.clone()).or_default() += 1;
        *s.by_label.entry(e.label.as_str().to_string()).or_default() += 1;
        *s.by_category
            .entry(e.category.clone().unwrap_or_else(|| "-".into()))
            .or_default() += 1;
        *s.by_split
            .entry(e.split.clone().unwrap_or_else(|| "-".into()))
            .or_default() += 1;
    }
    s
}

/// Token count of each example: the prompt rendered with `template` (ending where the answer
/// starts) plus the response, as the model would be trained on it.
///
/// # Errors
/// [`DataError::Tokenize`] naming the example if rendering or encoding fails.
pub fn token_lengths(
    examples: &[Example],
    tokenizer: &TextTokenizer,
    template: &ChatTemplate,
) -> Result<Vec<usize>> {
    examples
        .iter()
        .map(|e| {
            let wrap = |source| DataError::Tokenize {
                id: e.id.clone(),
                source,
            };
            let prompt = template.render(&e.prompt, true).map_err(wrap)?;
            let mut n = tokenizer.encode(&prompt, true).map_err(wrap)?.len();
            if let Some(response) = &e.response {
                n += tokenizer.encode(response, false).map_err(wrap)?.len();
            }
            Ok(n)
        })
        .collect()
}

/// Power-of-two histogram of `lengths`: `(upper bound, count)` for bins `<= 16, <= 32, ...`,
/// up to the bin holding the longest; empty for no lengths.
pub fn length_histogram(lengths: &[usize]) -> Vec<(usize, usize)> {
    let Some(&max) = lengths.iter().max() else {
        return Vec::new();
    };
    let mut bins = Vec::new();
    let mut upper = 16;
    loop {
        bins.push((upper, 0));
        if upper >= max {
            break;
        }
        upper *= 2;
    }
    for &len in lengths {
        let index = bins
            .iter()
            .position(|&(u, _)| len <= u)
            .expect("the last bin holds the maximum");
        bins[index].1 += 1;
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_are_powers_of_two_up_to_the_max() {
        assert_eq!(
            length_histogram(&[1, 16, 17, 100]),
            vec![(16, 2), (32, 1), (64, 0), (128, 1)]
        );
        assert!(length_histogram(&[]).is_empty());
    }
}
