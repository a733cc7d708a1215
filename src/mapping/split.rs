//! The initial split of a run: DLB's consecutive blocks, one per rank.

use std::ops::Range;

/// DLB's consecutive block split: rank `k` of `p` gets `q*k + min(r, k)`
/// onwards, `q + (k < r)` items, with `q = n div p`, `r = n mod p`.
pub(crate) fn block(n: u64, p: u64, k: u64) -> Range<u64> {
    let (q, r) = (n / p, n % p);
    let start = q * k + r.min(k);
    start..start + q + u64::from(k < r)
}

/// The rank whose block contains `pos` (`pos < n`).
pub(crate) fn block_of(n: u64, p: u64, pos: u64) -> u64 {
    let (q, r) = (n / p, n % p);
    let long = (q + 1) * r; // positions in the r longer blocks
    if pos < long {
        pos / (q + 1)
    } else {
        r + (pos - long) / q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_follow_dlb_and_cover_everything() {
        for n in 0..60u64 {
            for p in 1..9u64 {
                let mut next = 0;
                for k in 0..p {
                    let b = block(n, p, k);
                    assert_eq!(b.start, next);
                    assert_eq!(b.start, (n / p) * k + (n % p).min(k));
                    for pos in b.clone() {
                        assert_eq!(block_of(n, p, pos), k, "n={n} p={p} pos={pos}");
                    }
                    next = b.end;
                }
                assert_eq!(next, n);
            }
        }
        let big = i64::MAX as u64;
        assert_eq!(block(big, 64, 63).end, big);
        assert_eq!(block_of(big, 64, big - 1), 63);
    }
}
