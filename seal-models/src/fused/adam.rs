//! Adam's update of one parameter as a single pass over host slices, split over the rayon
//! pool, for the CPU backend.
//!
//! Burn's Adam (burn-optim 0.21) runs about ten element-wise tensor ops per parameter, each a
//! pass over the whole tensor on one thread with a fresh allocation: for SmolLM2's 135M
//! parameters about a second of every step while the other core waited. Here each element
//! is read and written once, and the arithmetic is Burn's own, operation for operation (the
//! same products, sums, square root and division in the same order, no fused multiply-add),
//! so the parameters and moments are bit for bit the ones Burn's Adam gives. No backward: an
//! optimizer step is outside the graph.

use burn::optim::{AdamState, AdaptiveMomentumState};
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::{host_to_tensor as tensor, tensor_to_host as host};
use crate::backend::Cpu;
use crate::train::AdamSettings;

/// Elements per parallel block: large enough that a block's set-up is noise.
const BLOCK: usize = 1 << 15;

/// One Adam step of `param` with gradient `grad` (β, ε of `settings`; its `lr` is the schedule's
/// business, so `lr` is given): the updated parameter and moments. No weight decay, no AMSGrad,
/// as seal trains.
pub(crate) fn cpu_step<const D: usize>(
    settings: &AdamSettings,
    lr: f64,
    param: Tensor<Cpu, D>,
    grad: Tensor<Cpu, D>,
    state: Option<AdamState<Cpu, D>>,
) -> (Tensor<Cpu, D>, AdamState<Cpu, D>) {
    let (beta_1, beta_2, epsilon) = (settings.beta1, settings.beta2, settings.epsilon);
    let shape = param.dims();
    let mut param = host(param);
    let grad = host(grad);
    let (time, mut m, mut v, first) = match state {
        Some(state) => {
            let momentum = state.momentum;
            (
                momentum.time + 1,
                host(momentum.moment_1),
                host(momentum.moment_2),
                false,
            )
        }
        None => (1, vec![0.0; grad.len()], vec![0.0; grad.len()], true),
    };
    // As burn-optim's AdaptiveMomentum::transform computes them, in f32.
    let bias_correction2_sqrt = (1.0 - beta_2.powi(time as i32)).sqrt();
    let combined_factor = bias_correction2_sqrt / (1.0 - beta_1.powi(time as i32));
    let eps = epsilon * bias_correction2_sqrt;
    let lr = lr as f32;
    let (keep_1, keep_2) = (1.0 - beta_1, 1.0 - beta_2);
    param
        .par_chunks_mut(BLOCK)
        .zip(m.par_chunks_mut(BLOCK))
        .zip(v.par_chunks_mut(BLOCK))
        .zip(grad.par_chunks(BLOCK))
        .for_each(|(((p, m), v), g)| {
            let moments = m.iter_mut().zip(v.iter_mut());
            for ((p, (m, v)), &g) in p.iter_mut().zip(moments).zip(g) {
                // The first step starts the moments from the gradient (no `0·β + ...` term).
                if first {
                    *m = g * keep_1;
                    *v = (g * g) * keep_2;
                } else {
                    *m = *m * beta_1 + g * keep_1;
                    *v = *v * beta_2 + (g * g) * keep_2;
                }
                let update = (*m * combined_factor) / (v.sqrt() + eps);
                *p -= update * lr;
            }
        });
    let momentum = AdaptiveMomentumState::new(time, tensor(m, shape), tensor(v, shape));
    (tensor(param, shape), AdamState::new(momentum))
}
