//! The seeded batch order of the bilevel loop (DESIGN section 3): a permutation of D_ft per epoch
//! and a stream of D_safe that cycles through one permutation after another.
//!
//! Both are pure functions of the seed and a position, so a run resumed at an epoch boundary draws
//! exactly the batches an uninterrupted run would. The generator is splitmix64, written out here
//! rather than taken from `rand`, so that the order a checkpoint was trained on can never change
//! under a dependency upgrade.

/// Stream tags, so D_ft's and D_safe's permutations are independent under one seed.
const FT_STREAM: u64 = 0x6674; // "ft"
const SAFE_STREAM: u64 = 0x7361_6665; // "safe"
const TRAIN_STREAM: u64 = 0x0074_7261_696e; // "train"

/// The splitmix64 finaliser: a bijective 64-bit mix.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// splitmix64 (Steele, Lea and Flood 2014).
struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator for (seed, stream, round), hashed so nearby seeds or rounds share nothing.
    fn new(seed: u64, stream: u64, round: u64) -> Self {
        Self(mix64(mix64(mix64(seed) ^ stream) ^ round))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// A draw in `0..bound` by Lemire's multiply-shift; its bias, under bound/2⁶⁴, is immaterial.
    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }
}

/// A uniformly shuffled `0..n` (Fisher–Yates) for (seed, stream, round).
fn permutation(seed: u64, stream: u64, round: u64, n: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed, stream, round);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// The order in which epoch `epoch` visits D_ft's `n` examples; its consecutive chunks of
/// `batch_size` are the epoch's effective batches.
pub(super) fn ft_order(seed: u64, epoch: u64, n: usize) -> Vec<usize> {
    permutation(seed, FT_STREAM, epoch, n)
}

/// The order in which epoch `epoch` of a plain training loop (fine-tuning, pre-training) visits
/// its `n` examples: the same generator as the bilevel loop's, on a stream of its own, so a
/// resumed run draws exactly the batches an uninterrupted one would.
pub fn epoch_order(seed: u64, epoch: u64, n: usize) -> Vec<usize> {
    permutation(seed, TRAIN_STREAM, epoch, n)
}

/// D_safe as an endless stream: permutation 0 of `0..m`, then permutation 1, and so on. Position
/// q of the stream is `perm(q / m)[q % m]`; the loop reads positions `epoch·N + k` for the k-th
/// fine-tuning example of the epoch, so every step pairs its F with an S of the same size.
pub(super) struct SafeStream {
    seed: u64,
    m: usize,
    /// The permutation last used, by cycle: consecutive batches mostly read the same one.
    cached: Option<(u64, Vec<usize>)>,
}

impl SafeStream {
    /// The stream over `m` safe examples (`m` > 0).
    pub(super) fn new(seed: u64, m: usize) -> Self {
        Self {
            seed,
            m,
            cached: None,
        }
    }

    /// `len` consecutive safe indices starting at stream position `start`.
    pub(super) fn take(&mut self, start: u64, len: usize) -> Vec<usize> {
        let m = self.m as u64;
        (start..start + len as u64)
            .map(|q| {
                let cycle = q / m;
                if self.cached.as_ref().is_none_or(|(c, _)| *c != cycle) {
                    self.cached = Some((cycle, permutation(self.seed, SAFE_STREAM, cycle, self.m)));
                }
                let (_, perm) = self.cached.as_ref().expect("cached just above");
                perm[(q % m) as usize]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ft_order_is_a_permutation_and_a_pure_function_of_seed_and_epoch() {
        let a = ft_order(7, 2, 100);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, ft_order(7, 2, 100));
        assert_ne!(a, ft_order(7, 3, 100), "epochs reshuffle");
        assert_ne!(a, ft_order(8, 2, 100), "seeds differ");
        assert_ne!(a, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn safe_stream_cycles_through_every_example_once_per_cycle() {
        let mut stream = SafeStream::new(3, 10);
        let first: Vec<usize> = stream.take(0, 25);
        for cycle in first.chunks(10).take(2) {
            let mut c = cycle.to_vec();
            c.sort_unstable();
            assert_eq!(c, (0..10).collect::<Vec<_>>());
        }
        // Random access gives the same values as reading in order, whatever was cached.
        assert_eq!(SafeStream::new(3, 10).take(13, 5), first[13..18]);
        assert_ne!(first[..10], first[10..20], "each cycle reshuffles");
    }

    #[test]
    fn draws_below_bound_cover_the_range() {
        let mut rng = SplitMix64::new(1, 2, 3);
        let mut seen = [0usize; 5];
        for _ in 0..1000 {
            seen[rng.below(5)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 150), "{seen:?}");
    }
}
