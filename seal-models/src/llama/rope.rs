//! Rotary position embeddings in Hugging Face's rotate-half layout.
//!
//! Burn's `RotaryEncoding` rotates adjacent pairs (GPT-J style); HF Llama checkpoints are trained
//! with the two halves of each head rotated together, so RoPE is written here. The tables live
//! outside the module (they are not parameters) and are computed in f32 the way `transformers`
//! computes them, which the golden-logits tests pin.

use burn::tensor::{Tensor, TensorData, backend::Backend};

use super::config::{LlamaConfig, RopeScaling};

/// Inverse frequencies `1 / theta^(2i/d)`, rescaled as the config asks (f32, as HF computes them).
pub fn inverse_frequencies(config: &LlamaConfig) -> Vec<f32> {
    let dim = config.head_dim;
    let base = config.rope_theta as f32;
    let inv: Vec<f32> = (0..dim)
        .step_by(2)
        .map(|i| 1.0 / base.powf(i as f32 / dim as f32))
        .collect();
    match config.rope_scaling {
        RopeScaling::None => inv,
        RopeScaling::Linear { factor } => inv.iter().map(|f| f / factor as f32).collect(),
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        } => {
            // transformers `_compute_llama3_parameters`, term by term.
            let (factor, low, high) = (factor as f32, low_freq_factor as f32, high_freq_factor as f32);
            let old_len = original_max_position_embeddings as f32;
            let low_freq_wavelen = old_len / low;
            let high_freq_wavelen = old_len / high;
            inv.iter()
                .map(|&f| {
                    let wavelen = 2.0 * std::f32::consts::PI / f;
                    let scaled = if wavelen > low_freq_wavelen { f / factor } else { f };
                    // HF: ~(wavelen < high) * ~(wavelen > low); wavelengths are finite and positive.
                    let is_medium = wavelen >= high_freq_wavelen && wavelen <= low_freq_wavelen;
                    if is_medium {
                        let smooth = (old_len / wavelen - low) / (high - low);
                        (1.0 - smooth) * scaled / factor + smooth * scaled
                    } else {
                        scaled
                    }
                })
                .collect()
        }
    }
}

/// Cosine and sine tables for the given positions, each `[batch, 1, seq_len, head_dim]`, ready to
/// broadcast over heads.
///
/// # Shapes
/// - `positions`: `batch * seq_len` row-major position ids.
pub fn rope_tables<B: Backend>(
    inv_freq: &[f32],
    positions: &[usize],
    batch: usize,
    seq_len: usize,
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let half = inv_freq.len();
    let head_dim = 2 * half;
    let mut cos = Vec::with_capacity(positions.len() * head_dim);
    let mut sin = Vec::with_capacity(positions.len() * head_dim);
    for &p in positions {
        // The angle is computed once per frequency and duplicated over both halves (HF's
        // `torch.cat((freqs, freqs), dim=-1)`).
        let start = cos.len();
        for &f in inv_freq {
            let angle = p as f32 * f;
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
        cos.extend_from_within(start..start + half);
        sin.extend_from_within(start..start + half);
    }
    let shape = [batch, 1, seq_len, head_dim];
    (
        Tensor::from_data(TensorData::new(cos, shape), device),
        Tensor::from_data(TensorData::new(sin, shape), device),
    )
}

/// The angles of the fused RoPE (`crate::fused::rope`): per position, `cos` and `sin` of each
/// frequency, computed as [`rope_tables`] computes them.
pub fn rope_angles(inv_freq: &[f32], positions: &[usize]) -> crate::fused::RopeAngles {
    let mut cos = Vec::with_capacity(positions.len() * inv_freq.len());
    let mut sin = Vec::with_capacity(positions.len() * inv_freq.len());
    for &p in positions {
        for &f in inv_freq {
            let angle = p as f32 * f;
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    crate::fused::RopeAngles { cos, sin }
}

/// Applies RoPE to `x` (`[batch, heads, seq_len, head_dim]`): `x·cos + rotate_half(x)·sin`.
pub fn apply_rope<B: Backend>(x: Tensor<B, 4>, cos: Tensor<B, 4>, sin: Tensor<B, 4>) -> Tensor<B, 4> {
    let head_dim = x.dims()[3];
    let half = head_dim / 2;
    let x1 = x.clone().narrow(3, 0, half);
    let x2 = x.clone().narrow(3, half, half);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos + rotated * sin
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(scaling: RopeScaling) -> LlamaConfig {
        LlamaConfig {
            vocab_size: 10,
            hidden_size: 64,
            intermediate_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 4,
            num_key_value_heads: 4,
            head_dim: 16,
            max_position_embeddings: 128,
            rms_norm_eps: 1e-5,
            rope_theta: 500_000.0,
            rope_scaling: scaling,
            tie_word_embeddings: false,
            qkv_bias: false,
            o_bias: false,
            mlp_bias: false,
        }
    }

    #[test]
    fn llama3_scaling_keeps_high_and_scales_low_frequencies() {
        let plain = inverse_frequencies(&config(RopeScaling::None));
        let scaled = inverse_frequencies(&config(RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 32,
        }));
        assert_eq!(plain[0], scaled[0], "the highest frequency is kept");
        let last = plain.len() - 1;
        assert!(
            (plain[last] / 8.0 - scaled[last]).abs() < 1e-12,
            "the lowest is divided by factor"
        );
    }
}
