//! The one small random-number generator of the crate: xorshift64*, cheap
//! and good enough to spread victims over ranks and to draw benchmark
//! workloads and test cases. Deterministic for a seed, so every rank that
//! seeds it alike draws alike. Not for anything that needs unpredictability.
//!
//! Public but hidden: the `dlbcheck` binary and the benchmarks use it too.

/// xorshift64* (Marsaglia's xorshift with a multiplicative output step).
///
/// ```
/// use dlb::rng::Rng;
/// let (mut a, mut b) = (Rng::new(7), Rng::new(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// let u = a.unit();
/// assert!((0.0..1.0).contains(&u));
/// ```
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value: it is scrambled, and the state
    /// is never zero).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniformly random number below `n`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniformly random number in `[0, 1)` (53 random bits).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut rng = Rng::new(1);
        assert_eq!(rng.below(0), 0);
        let mut hits = [0u32; 7];
        for _ in 0..7000 {
            hits[rng.below(7) as usize] += 1;
        }
        assert!(hits.iter().all(|&h| h.abs_diff(1000) < 150), "{hits:?}");
    }

    #[test]
    fn seeds_differ_and_zero_is_fine() {
        let draws = |seed| {
            let mut r = Rng::new(seed);
            (0..4).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_ne!(draws(0), draws(1));
        assert!(draws(0).iter().all(|&x| x != 0));
    }
}
