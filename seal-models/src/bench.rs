//! Throughput measurements behind `seal bench`: a training step of the bench model
//! (`../shared/bench/bench-tiny.config.json`, batch 8 x seq 256, fp32) and generation.
//! Both mirror `../shared/bench/torch_reference.py`: random tokens, the first quarter of each
//! sequence masked as prompt, the median of several steps after a warm-up step.

use std::time::Instant;

use burn::tensor::backend::{AutodiffBackend, Backend};
use rand::{Rng, SeedableRng, rngs::StdRng};
use seal_core::{
    Algorithm, AuxLoss, Bilevel, BilevelConfig, ExampleId, Observer, PenaltySchedule, StepReport,
    TokenizedExample,
};
use serde::Serialize;

use crate::error::Result;
use crate::generate::{SamplingConfig, generate};
use crate::llama::config::LlamaConfig;
use crate::llama::model::{Llama, TokenBatch, init_random};
use crate::train::{AdamSettings, GradientStep, LlamaObjective, ObjectiveSettings, TrainBatch, sft_step};

/// What a benchmark reports.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Median seconds per step.
    pub median_step_s: f64,
    /// Tokens per second at the median step.
    pub tokens_per_s: f64,
    /// Every timed step, in seconds.
    pub step_s: Vec<f64>,
    /// Peak resident memory of the process (bytes), where known.
    pub peak_bytes: Option<u64>,
}

impl BenchReport {
    /// The report of timed steps that each process `tokens_per_step` tokens; the process's peak
    /// RSS so far.
    fn from_times(step_s: Vec<f64>, tokens_per_step: usize) -> Self {
        let mut sorted = step_s.clone();
        sorted.sort_by(f64::total_cmp);
        let median_step_s = sorted[sorted.len() / 2];
        Self {
            median_step_s,
            tokens_per_s: tokens_per_step as f64 / median_step_s,
            step_s,
            peak_bytes: crate::backend::peak_rss_bytes(),
        }
    }
}

/// A random batch like the reference's: uniform token ids, prompt = first quarter.
pub fn random_batch(vocab: usize, batch: usize, seq_len: usize, rng: &mut StdRng) -> TrainBatch {
    let input_ids = (0..batch * seq_len)
        .map(|_| rng.random_range(0..vocab as u32))
        .collect();
    let loss_mask = (0..batch * seq_len)
        .map(|i| u8::from(i % seq_len >= seq_len / 4))
        .collect();
    TrainBatch {
        tokens: TokenBatch {
            input_ids,
            attention_mask: vec![1; batch * seq_len],
            batch,
            seq_len,
        },
        loss_mask,
    }
}

/// Times `steps` SFT steps (forward + backward + Adam) after one warm-up step.
///
/// # Errors
/// Only if the config cannot hold a sequence of `seq_len` tokens.
pub fn bench_train_step<B: AutodiffBackend>(
    config: &LlamaConfig,
    batch: usize,
    seq_len: usize,
    steps: usize,
    device: &B::Device,
) -> Result<BenchReport> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut model: Llama<B> = init_random(config, 0.02, device);
    let settings = AdamSettings::default();
    let mut trainer = GradientStep::<Llama<B>, B>::new(settings.clone(), None);
    let mut times = Vec::with_capacity(steps);
    for step in 0..=steps {
        let data = random_batch(config.vocab_size, batch, seq_len, &mut rng);
        let start = Instant::now();
        let (next, _loss) = sft_step(model, &mut trainer, &data, settings.lr)?;
        model = next;
        // `into_scalar` inside sft_step already synchronised; sync again for lazy backends.
        let _ = B::sync(device);
        if step > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    Ok(BenchReport::from_times(times, batch * seq_len))
}

/// Times batched greedy generation of `new_tokens` after prompts of `prompt_len` tokens, one
/// warm-up run then `runs` timed ones; tokens/s counts generated tokens.
///
/// # Errors
/// Only on invalid sizes.
pub fn bench_generate<B: Backend>(
    model: &Llama<B>,
    batch: usize,
    prompt_len: usize,
    new_tokens: usize,
    runs: usize,
) -> Result<BenchReport> {
    let mut rng = StdRng::seed_from_u64(0);
    let vocab = model.vocab_size() as u32;
    let prompts: Vec<Vec<u32>> = (0..batch)
        .map(|_| (0..prompt_len).map(|_| rng.random_range(0..vocab)).collect())
        .collect();
    let config = SamplingConfig::greedy(new_tokens);
    let mut times = Vec::with_capacity(runs);
    for run in 0..=runs {
        let start = Instant::now();
        generate(model, &prompts, &config, &[], 0)?;
        if run > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    Ok(BenchReport::from_times(times, batch * new_tokens))
}

/// Which loop `bench_select` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectMode {
    /// Plain SFT: one forward/backward on the fine-tuning batch.
    Sft,
    /// Algorithm 2: safe + fine-tuning forward/backward, selector step.
    Alg2,
    /// Algorithm 1: Algorithm 2 plus θ̂'s forward/backward and Adam state.
    Alg1,
}

impl SelectMode {
    /// All modes, in report order.
    pub const ALL: [SelectMode; 3] = [SelectMode::Sft, SelectMode::Alg2, SelectMode::Alg1];

    /// `sft`, `alg2`, `alg1`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sft => "sft",
            Self::Alg2 => "alg2",
            Self::Alg1 => "alg1",
        }
    }
}

/// The upper-level weight λ of the PyTorch reference step (`torch_step.py`: `lam = 0.97`).
const BENCH_LAMBDA: f64 = 0.97;

fn random_examples(vocab: usize, count: usize, seq_len: usize, rng: &mut StdRng) -> Vec<TokenizedExample> {
    (0..count)
        .map(|_| TokenizedExample {
            input_ids: (0..seq_len).map(|_| rng.random_range(0..vocab as u32)).collect(),
            loss_mask: (0..seq_len).map(|t| u8::from(t >= seq_len / 4)).collect(),
        })
        .collect()
}

/// Times `steps` optimizer steps of one mode of the selector loop (after one warm-up step) on
/// random tokens, batch `batch` x `seq_len` for the fine-tuning batch and as many safe rows,
/// like `../shared/bench/torch_reference.py`. Peak memory is the process's, so run each mode
/// in its own process to compare them.
///
/// # Errors
/// Model and loop errors.
pub fn bench_select<B: AutodiffBackend>(
    config: &LlamaConfig,
    mode: SelectMode,
    batch: usize,
    seq_len: usize,
    steps: usize,
    device: &B::Device,
) -> std::result::Result<BenchReport, Box<dyn std::error::Error + Send + Sync>> {
    if mode == SelectMode::Sft {
        return Ok(bench_train_step::<B>(config, batch, seq_len, steps, device)?);
    }
    let mut rng = StdRng::seed_from_u64(0);
    let model: Llama<B> = init_random(config, 0.02, device);
    // One epoch of exactly `steps + 1` batches: the first is the warm-up.
    let n_ft = batch * (steps + 1);
    let safe = random_examples(config.vocab_size, batch * 8, seq_len, &mut rng);
    let ft = random_examples(config.vocab_size, n_ft, seq_len, &mut rng);
    let objective = LlamaObjective::new(model, safe, ft, ObjectiveSettings::default());
    let algorithm = match mode {
        SelectMode::Alg1 => Algorithm::Alg1 {
            inner_steps: 1,
            keep_penalty_factor: false,
            aux_loss: AuxLoss::Before,
        },
        _ => Algorithm::Alg2 {},
    };
    let loop_config = BilevelConfig {
        algorithm,
        batch_size: batch,
        micro_batch_size: batch,
        epochs: 1,
        // λ = 0.97 as `torch_step.py` uses, so both terms are trained and the work matches
        // (the `reference` schedule's epoch 0 has λ = 1, where seal skips the fine-tuning
        // backward).
        penalty: PenaltySchedule::Constant {
            gamma: (1.0 - BENCH_LAMBDA) / BENCH_LAMBDA,
        },
        ..BilevelConfig::default()
    };
    let ids = (0..n_ft).map(|i| ExampleId::from(format!("bench-{i}"))).collect();
    let mut bilevel = Bilevel::new(loop_config, ids, objective)?;
    struct Clock {
        last: Instant,
        times: Vec<f64>,
    }
    impl Observer for Clock {
        fn on_step(&mut self, _report: &StepReport) {
            let now = Instant::now();
            self.times.push((now - self.last).as_secs_f64());
            self.last = now;
        }
    }
    let mut clock = Clock {
        last: Instant::now(),
        times: Vec::new(),
    };
    bilevel.run(&mut clock)?;
    let times: Vec<f64> = clock.times.into_iter().skip(1).collect();
    Ok(BenchReport::from_times(times, batch * seq_len))
}
