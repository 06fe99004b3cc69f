//! Autoregressive generation with a KV cache: greedy or sampled (temperature, top-p,
//! repetition penalty), batched over left-padded prompts, seeded, with stop tokens. The
//! logits processors follow `transformers`' order: repetition penalty, temperature, top-p.

use burn::tensor::{Tensor, backend::Backend};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::llama::model::{Llama, TokenBatch};

/// Decoding settings (DESIGN section 6 defaults: top-p 0.9, temperature 1.0, repetition
/// penalty 1.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingConfig {
    /// Take the most likely token instead of sampling.
    pub greedy: bool,
    /// Softmax temperature (> 0) when sampling.
    pub temperature: f32,
    /// Nucleus mass in (0, 1]: sample among the most likely tokens whose mass reaches it.
    pub top_p: f32,
    /// HF's repetition penalty (1.0 = off): seen tokens' logits divided (if positive) or
    /// multiplied (if negative) by it.
    pub repetition_penalty: f32,
    /// Most tokens generated per prompt.
    pub max_new_tokens: usize,
    /// Seed of the sampler.
    pub seed: u64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            greedy: false,
            temperature: 1.0,
            top_p: 0.9,
            repetition_penalty: 1.2,
            max_new_tokens: 256,
            seed: 0,
        }
    }
}

impl SamplingConfig {
    /// Greedy decoding without repetition penalty.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self {
            greedy: true,
            repetition_penalty: 1.0,
            max_new_tokens,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(ModelError::Setting(format!(
                "temperature {} must be positive",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ModelError::Setting(format!(
                "top_p {} must be in (0, 1]",
                self.top_p
            )));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return Err(ModelError::Setting(format!(
                "repetition_penalty {} must be positive",
                self.repetition_penalty
            )));
        }
        Ok(())
    }
}

/// Generates up to `max_new_tokens` after each prompt; a row stops after emitting a token in
/// `stop_ids` (which is kept in its output). Returns the new tokens of each prompt.
///
/// # Errors
/// Empty prompts, invalid settings, or a prompt that does not fit the model's positions.
pub fn generate<B: Backend>(
    model: &Llama<B>,
    prompts: &[Vec<u32>],
    config: &SamplingConfig,
    stop_ids: &[u32],
    pad_id: u32,
) -> Result<Vec<Vec<u32>>> {
    config.validate()?;
    if prompts.is_empty() || prompts.iter().any(Vec::is_empty) {
        return Err(ModelError::Batch("every prompt needs at least one token".into()));
    }
    let rows = prompts.len();
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut cache = model.new_cache(rows);
    let mut outputs: Vec<Vec<u32>> = vec![Vec::new(); rows];
    // Tokens each row has seen (for the repetition penalty): its prompt, then what it generated.
    let mut seen: Vec<Vec<u32>> = prompts.to_vec();
    // The prompt of each row still decoding, ascending. A row that stops leaves the batch and
    // its cache, so the later steps compute only the others (a batch's answers differ widely in
    // length). Rows are visited in prompt order either way, so sampling draws from `rng` in the
    // same order as if every row stayed.
    let mut active: Vec<usize> = (0..rows).collect();

    let mut step_batch = TokenBatch::left_padded(prompts, pad_id);
    for _ in 0..config.max_new_tokens {
        let logits = model.forward_cached_last(&step_batch, &mut cache)?; // [active, 1, vocab]
        let vocab = logits.dims()[2];
        let mut host = logits_to_host(logits.reshape([active.len(), vocab]));
        let mut next = Vec::with_capacity(active.len());
        let mut keep = Vec::with_capacity(active.len());
        for (i, &row) in active.iter().enumerate() {
            let row_logits = &mut host[i * vocab..(i + 1) * vocab];
            let token = pick_token(row_logits, &seen[row], config, &mut rng);
            outputs[row].push(token);
            seen[row].push(token);
            if !stop_ids.contains(&token) {
                keep.push(i);
                next.push(token);
            }
        }
        if keep.is_empty() {
            break;
        }
        if keep.len() < active.len() {
            cache.retain_rows(&keep);
            active = keep.iter().map(|&i| active[i]).collect();
        }
        step_batch = TokenBatch {
            input_ids: next,
            attention_mask: vec![1; active.len()],
            batch: active.len(),
            seq_len: 1,
        };
    }
    Ok(outputs)
}

fn logits_to_host<B: Backend>(t: Tensor<B, 2>) -> Vec<f32> {
    // The sync point of every decoding step: the sampler runs on the host.
    crate::backend::host_f32(t)
}

/// Applies the logits processors and picks one token.
pub fn pick_token(logits: &mut [f32], seen: &[u32], config: &SamplingConfig, rng: &mut StdRng) -> u32 {
    if config.repetition_penalty != 1.0 {
        let mut uniq = seen.to_vec();
        uniq.sort_unstable();
        uniq.dedup();
        for &t in &uniq {
            if let Some(l) = logits.get_mut(t as usize) {
                *l = if *l < 0.0 {
                    *l * config.repetition_penalty
                } else {
                    *l / config.repetition_penalty
                };
            }
        }
    }
    if config.greedy {
        return argmax(logits);
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as u32, ((l - max) / config.temperature).exp()))
        .collect();
    let total: f32 = probs.iter().map(|p| p.1).sum();
    probs.iter_mut().for_each(|p| p.1 /= total);
    // Nucleus: the smallest most-likely set whose mass reaches top_p (at least one token). Ties
    // are broken by token id so the draw is reproducible.
    probs.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut keep = probs.len();
    if config.top_p < 1.0 {
        let mut mass = 0.0;
        for (i, p) in probs.iter().enumerate() {
            mass += p.1;
            if mass >= config.top_p {
                keep = i + 1;
                break;
            }
        }
    }
    let kept = &probs[..keep];
    let kept_mass: f32 = kept.iter().map(|p| p.1).sum();
    let mut r = rng.random::<f32>() * kept_mass;
    for p in kept {
        r -= p.1;
        if r <= 0.0 {
            return p.0;
        }
    }
    kept[kept.len() - 1].0
}

fn argmax(logits: &[f32]) -> u32 {
    // First maximum, as torch.argmax.
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetition_penalty_divides_positive_and_multiplies_negative_logits() {
        let mut logits = vec![2.0, -2.0, 1.9];
        let cfg = SamplingConfig {
            repetition_penalty: 2.0,
            ..SamplingConfig::greedy(1)
        };
        let mut rng = StdRng::seed_from_u64(0);
        assert_eq!(pick_token(&mut logits, &[0, 1], &cfg, &mut rng), 2);
        assert_eq!(logits, vec![1.0, -4.0, 1.9]);
    }

    #[test]
    fn top_p_samples_the_whole_nucleus_and_never_the_tail() {
        // Probabilities 0.05, 0.30, 0.40, 0.05, 0.20 (ids 0..5, the likeliest not first, so an
        // unsorted cumulative sum picks a different set). Sorted: 0.40, 0.70, 0.90, 0.95, 1.0,
        // so top_p 0.85 keeps ids 2, 1 and 4 (the one that crosses 0.85 included) and never 0
        // or 3. Argmax would draw only id 2; stopping before the crossing token only 2 and 1;
        // ignoring top_p would draw 0 and 3 about a tenth of the time.
        let probs = [0.05f32, 0.30, 0.40, 0.05, 0.20];
        let cfg = SamplingConfig {
            top_p: 0.85,
            repetition_penalty: 1.0,
            ..SamplingConfig::default()
        };
        let mut rng = StdRng::seed_from_u64(7);
        let draws = 4000;
        let mut counts = [0usize; 5];
        for _ in 0..draws {
            let mut logits: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
            counts[pick_token(&mut logits, &[], &cfg, &mut rng) as usize] += 1;
        }
        assert_eq!((counts[0], counts[3]), (0, 0), "tail sampled: {counts:?}");
        // Inside the nucleus, draws follow the renormalised mass 0.40/0.90, 0.30/0.90, 0.20/0.90
        // (binomial standard deviation under 32 draws at 4000; the bounds allow over 4 of it).
        for (id, p) in [(2, 0.40f64), (1, 0.30), (4, 0.20)] {
            let want = p / 0.90 * draws as f64;
            let got = counts[id] as f64;
            assert!(
                (got - want).abs() < 130.0,
                "id {id}: {got} draws, expected about {want:.0}; {counts:?}"
            );
        }
        // top_p 1 is plain sampling: the tail is drawn then.
        let all = SamplingConfig { top_p: 1.0, ..cfg };
        let mut tail = 0;
        for _ in 0..draws {
            let mut logits: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
            tail += usize::from(matches!(pick_token(&mut logits, &[], &all, &mut rng), 0 | 3));
        }
        assert!(
            tail > draws / 20,
            "tail drawn {tail} times of {draws} without top-p"
        );
    }

    #[test]
    fn sampling_is_seeded() {
        let cfg = SamplingConfig {
            top_p: 1.0,
            repetition_penalty: 1.0,
            ..SamplingConfig::default()
        };
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..50)
                .map(|_| pick_token(&mut [0.0; 16], &[], &cfg, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }
}
