//! A vectorised `exp` for the fused CPU kernels' inner loops (the LM head's softmax, attention's
//! probabilities, SiLU), and the slice loops built on it.
//!
//! Why not `f32::exp`: it calls libm's scalar `expf` once per element, 11.5% of a bench-tiny
//! training step (docs/bench/README.md). Here `exp` is branch-free arithmetic (Cephes' range
//! reduction by ln 2 and degree-6 polynomial, within 2 ulp of `expf` on the range softmax and
//! SiLU use), so a loop over a slice compiles to AVX-512 or AVX2 code: each loop below is
//! built three times (AVX-512, AVX2, baseline x86-64) and the widest the CPU has is picked at
//! run time. Sums use sixteen explicit lanes and Rust never fuses a multiply and an add, so
//! every variant does the same float operations in the same order: the result does not depend
//! on which one ran.

/// Below this `exp` returns 0 (the true value is under 1.7e-38, at the edge of the normals).
const LOW: f32 = -87.0;
/// Above this `exp` returns +inf (the true value is over 1.6e38, near `f32::MAX`).
const HIGH: f32 = 88.0;
/// Lanes of the explicit accumulators.
const LANES: usize = 16;

/// `e^x`: within 2 ulp of `f32::exp` on `[-87, 88]`, 0 below, +inf above, NaN for NaN.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that `n·LN2_HI` is exact for the `n` that occur.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5·2^23 rounds to an integer (to nearest) and leaves it in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let p = p * (r * r) + r + 1.0;
    // 2^n from its exponent bits; `n` is within [-126, 128] on the range kept below.
    let n_bits = (shifted.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let scale = f32::from_bits((n_bits.wrapping_add(127) << 23) as u32);
    let y = p * scale;
    if x < LOW {
        0.0
    } else if x > HIGH {
        f32::INFINITY
    } else {
        y
    }
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Defines `$name` as a function whose body is compiled for AVX-512, AVX2 and plain x86-64 (or
/// just once elsewhere), the widest the CPU supports picked at run time; `$baseline` is the plain build (the fallback, and
/// what the tests compare the others with).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident / $baseline:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        #[inline(always)]
        fn $baseline($($arg: $ty),*) $(-> $ret)? $body

        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn v4($($arg: $ty),*) $(-> $ret)? { $baseline($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                fn v3($($arg: $ty),*) $(-> $ret)? { $baseline($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the feature `v4` was compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features `v3` was compiled for.
                    return unsafe { v3($($arg),*) };
                }
            }
            $baseline($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// Folds the lanes in a fixed order.
#[inline(always)]
fn fold(lanes: [f32; LANES], tail: f32) -> f32 {
    lanes.iter().fold(tail, |acc, x| acc + x)
}

multiversion! {
    /// The largest element (`-inf` for an empty slice; NaN elements are skipped, as by
    /// `f32::max`).
    pub(crate) fn max / max_baseline(xs: &[f32]) -> f32 {
        let mut lanes = [f32::NEG_INFINITY; LANES];
        let chunks = xs.chunks_exact(LANES);
        let mut tail = f32::NEG_INFINITY;
        for &x in chunks.remainder() {
            tail = tail.max(x);
        }
        for chunk in chunks {
            for (lane, &x) in lanes.iter_mut().zip(chunk) {
                *lane = lane.max(x);
            }
        }
        lanes.iter().fold(tail, |acc, &x| acc.max(x))
    }
}

multiversion! {
    /// `Σ e^(x − shift)` over `xs`.
    pub(crate) fn sum_exp / sum_exp_baseline(xs: &[f32], shift: f32) -> f32 {
        let mut lanes = [0.0f32; LANES];
        let chunks = xs.chunks_exact(LANES);
        let mut tail = 0.0f32;
        for &x in chunks.remainder() {
            tail += exp(x - shift);
        }
        for chunk in chunks {
            for (lane, &x) in lanes.iter_mut().zip(chunk) {
                *lane += exp(x - shift);
            }
        }
        fold(lanes, tail)
    }
}

multiversion! {
    /// `x ← e^(x − shift)` in place; returns the sum of the new values.
    pub(crate) fn exp_in_place / exp_in_place_baseline(xs: &mut [f32], shift: f32) -> f32 {
        let mut lanes = [0.0f32; LANES];
        let mut chunks = xs.chunks_exact_mut(LANES);
        for chunk in &mut chunks {
            for (lane, x) in lanes.iter_mut().zip(chunk) {
                *x = exp(*x - shift);
                *lane += *x;
            }
        }
        let mut tail = 0.0f32;
        for x in chunks.into_remainder() {
            *x = exp(*x - shift);
            tail += *x;
        }
        fold(lanes, tail)
    }
}

multiversion! {
    /// `x ← scale·e^(x − shift)` in place.
    pub(crate) fn scaled_exp_in_place / scaled_exp_in_place_baseline(xs: &mut [f32], shift: f32, scale: f32) {
        for x in xs.iter_mut() {
            *x = scale * exp(*x - shift);
        }
    }
}

multiversion! {
    /// `x ← scale·x` in place.
    pub(crate) fn scale_in_place / scale_in_place_baseline(xs: &mut [f32], scale: f32) {
        for x in xs.iter_mut() {
            *x *= scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i32).abs_diff(b.to_bits() as i32)
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm_and_saturates_outside_its_range() {
        let mut worst = 0;
        let mut x = -87.0f32;
        while x <= 88.0 {
            worst = worst.max(ulps(exp(x), x.exp()));
            x += 0.001_37;
        }
        assert!(worst <= 2, "{worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-88.0), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan());
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-7);
        assert_eq!(sigmoid(-100.0), 0.0);
        assert_eq!(sigmoid(100.0), 1.0);
    }

    #[test]
    fn the_slice_loops_match_their_scalar_definitions_at_every_length() {
        for len in [0, 1, 15, 16, 17, 100] {
            let xs: Vec<f32> = (0..len).map(|i| (i as f32 * 0.7).sin() * 5.0).collect();
            let expect_max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(max(&xs), expect_max);
            let expect: f32 = xs.iter().map(|x| (x - 1.0).exp()).sum();
            assert!((sum_exp(&xs, 1.0) - expect).abs() <= 1e-5 * expect.max(1.0));
            let mut ys = xs.clone();
            let sum = exp_in_place(&mut ys, 1.0);
            assert_eq!(sum, sum_exp(&xs, 1.0));
            for (y, x) in ys.iter().zip(&xs) {
                assert_eq!(*y, exp(x - 1.0));
            }
            scaled_exp_in_place(&mut ys, 0.5, 2.0);
            scale_in_place(&mut ys, 0.5);
            for (y, x) in ys.iter().zip(&xs) {
                assert_eq!(*y, 2.0 * exp(exp(x - 1.0) - 0.5) * 0.5);
            }
        }
    }

    #[test]
    fn every_variant_gives_the_same_bits() {
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).cos() * 30.0).collect();
        assert_eq!(sum_exp(&xs, 2.0).to_bits(), sum_exp_baseline(&xs, 2.0).to_bits());
        assert_eq!(max(&xs).to_bits(), max_baseline(&xs).to_bits());
        let (mut a, mut b) = (xs.clone(), xs.clone());
        assert_eq!(
            exp_in_place(&mut a, 1.0).to_bits(),
            exp_in_place_baseline(&mut b, 1.0).to_bits()
        );
        scaled_exp_in_place(&mut a, 0.5, 3.0);
        scaled_exp_in_place_baseline(&mut b, 0.5, 3.0);
        assert_eq!(a, b);
    }
}
