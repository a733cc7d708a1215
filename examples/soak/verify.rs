//! The two properties every soak run must have, checked from what the ranks
//! were handed: **exactly once**, the pieces of all ranks cover the job IDs
//! `0..N` with no gap and no overlap (by sorting pieces, never by a table
//! of N entries, so it also checks runs of 2^40 jobs); **no early end**, no
//! rank was told "no more" before every rank had finished its last piece
//! (wall-clock times, comparable because a soak runs on one machine).

/// A piece a rank was handed: job IDs `start, start + stride, ...` below
/// `end`, in the run's global ID space (colors offset by the counts of the
/// colors before them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub start: u64,
    pub end: u64,
    pub stride: u64,
}

impl Piece {
    pub const WORDS: usize = 3;

    pub fn words(&self) -> [u64; Self::WORDS] {
        [self.start, self.end, self.stride]
    }

    pub fn from_words(w: &[u64]) -> Piece {
        Piece {
            start: w[0],
            end: w[1],
            stride: w[2],
        }
    }
}

/// Checks that `pieces` (every rank's) hand out each ID below `jobs`
/// exactly once, all with `stride` (1, or the number of ranks for round
/// robin). Strided pieces are checked per residue class: IDs `r, r + P,
/// ...` are the positions `0, 1, ...` of class `r`.
pub fn exactly_once(pieces: &[Piece], jobs: u64, stride: u64) -> Result<(), String> {
    if let Some(p) = pieces.iter().find(|p| p.stride != stride) {
        return Err(format!("piece {p:?}: the stride is not {stride}"));
    }
    if let Some(p) = pieces.iter().find(|p| p.start >= p.end || p.end > jobs) {
        return Err(format!("piece {p:?} is empty or beyond N = {jobs}"));
    }
    for class in 0..stride.min(jobs) {
        let mut spans: Vec<(u64, u64)> = pieces
            .iter()
            .filter(|p| p.start % stride == class)
            .map(|p| (p.start / stride, (p.end - class).div_ceil(stride)))
            .collect();
        spans.sort_unstable();
        let want = (jobs - class).div_ceil(stride);
        let mut next = 0;
        for (from, to) in spans {
            if from != next {
                let what = if from < next { "twice" } else { "never" };
                return Err(format!(
                    "class {class} of stride {stride}: positions from {} handed out {what} \
                     (a piece starts at position {from})",
                    from.min(next)
                ));
            }
            next = to;
        }
        if next != want {
            return Err(format!(
                "class {class} of stride {stride}: positions {next}..{want} never handed out"
            ));
        }
    }
    Ok(())
}

/// Checks that the last piece finished (`finished`, per rank) before the
/// first "no more" (`told_no_more`, per rank); times in nanoseconds since
/// the epoch.
pub fn no_early_end(finished: &[u64], told_no_more: &[u64]) -> Result<(), String> {
    let (last_rank, last) = finished
        .iter()
        .copied()
        .enumerate()
        .max_by_key(|&(_, t)| t)
        .unwrap_or((0, 0));
    let (first_rank, first) = told_no_more
        .iter()
        .copied()
        .enumerate()
        .min_by_key(|&(_, t)| t)
        .unwrap_or((0, u64::MAX));
    if last > first {
        return Err(format!(
            "rank {first_rank} was told \"no more\" {} us before rank {last_rank} finished its \
             last piece",
            (last - first) / 1000
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(start: u64, end: u64, stride: u64) -> Piece {
        Piece { start, end, stride }
    }

    #[test]
    fn a_cover_passes_and_gaps_and_overlaps_fail() {
        assert!(exactly_once(&[p(5, 10, 1), p(0, 5, 1)], 10, 1).is_ok());
        assert!(exactly_once(&[], 0, 1).is_ok());
        assert!(exactly_once(&[p(0, 4, 1), p(5, 10, 1)], 10, 1).is_err());
        assert!(exactly_once(&[p(0, 6, 1), p(5, 10, 1)], 10, 1).is_err());
        assert!(exactly_once(&[p(0, 9, 1)], 10, 1).is_err());
        assert!(exactly_once(&[p(0, 11, 1)], 10, 1).is_err());
        assert!(exactly_once(&[p(3, 3, 1), p(0, 10, 1)], 10, 1).is_err());
    }

    #[test]
    fn strided_pieces_are_checked_per_class() {
        // 3 ranks, 10 jobs: classes {0,3,6,9}, {1,4,7}, {2,5,8}.
        let ok = [p(0, 7, 3), p(9, 10, 3), p(1, 8, 3), p(2, 9, 3)];
        assert!(exactly_once(&ok, 10, 3).is_ok());
        assert!(exactly_once(&ok[1..], 10, 3).is_err());
        let twice = [p(0, 10, 3), p(6, 7, 3), p(1, 8, 3), p(2, 9, 3)];
        assert!(exactly_once(&twice, 10, 3).is_err());
        assert!(exactly_once(&[p(0, 10, 3), p(1, 8, 2)], 10, 3).is_err());
    }

    #[test]
    fn an_early_no_more_is_found() {
        assert!(no_early_end(&[10, 20], &[25, 21]).is_ok());
        assert!(no_early_end(&[10, 30], &[25, 31]).is_err());
    }
}
