//! Keeping large charts small: on a row, bars narrower than a limit are
//! merged with their neighbours of the same kind (across gaps narrower than
//! the limit), merged bars still narrower than it are skipped, and marks of
//! the same kind closer than a limit to the first of their group become one
//! mark. Every piece is counted, so the chart can say what it did.

/// One bar (x0 < x1) or mark (x0 == x1) of a row, in pixels.
pub struct Piece<K, T> {
    /// Left edge.
    pub x0: f64,
    /// Right edge.
    pub x1: f64,
    /// The kind: only pieces of one kind are merged.
    pub key: K,
    /// What it stands for.
    pub item: T,
}

/// What is drawn: one piece or several merged.
pub struct Group<K, T> {
    /// Left edge.
    pub x0: f64,
    /// Right edge.
    pub x1: f64,
    /// The kind.
    pub key: K,
    /// What it stands for (more than one: merged).
    pub items: Vec<T>,
}

/// The groups to draw and what became of the pieces.
pub struct Thinned<K, T> {
    /// To draw.
    pub groups: Vec<Group<K, T>>,
    /// Pieces drawn as part of a group of several.
    pub merged: usize,
    /// Pieces not drawn at all.
    pub skipped: usize,
}

impl<K, T> Group<K, T> {
    fn of(p: Piece<K, T>) -> Self {
        Group {
            x0: p.x0,
            x1: p.x1,
            key: p.key,
            items: vec![p.item],
        }
    }
}

impl<K, T> Thinned<K, T> {
    /// Every piece drawn as it is.
    pub fn keep_all(pieces: Vec<Piece<K, T>>) -> Self {
        Thinned {
            groups: pieces.into_iter().map(Group::of).collect(),
            merged: 0,
            skipped: 0,
        }
    }

    fn push(&mut self, g: Group<K, T>, min_px: Option<f64>) {
        let n = g.items.len();
        if min_px.is_some_and(|m| g.x1 - g.x0 < m) {
            self.skipped += n;
            return;
        }
        if n > 1 {
            self.merged += n;
        }
        self.groups.push(g);
    }
}

/// Bars: pieces narrower than `min_px` merge with the open group of their
/// kind if they start less than `min_px` after its end; a group that ends
/// up narrower than `min_px` is skipped. Wider pieces are drawn as they are.
pub fn bars<K: PartialEq, T>(mut pieces: Vec<Piece<K, T>>, min_px: f64) -> Thinned<K, T> {
    pieces.sort_by(|a, b| a.x0.total_cmp(&b.x0));
    let mut out = Thinned::keep_all(Vec::new());
    // One open group per kind seen on the row (a handful).
    let mut open: Vec<Group<K, T>> = Vec::new();
    for p in pieces {
        let slot = open.iter().position(|g| g.key == p.key);
        if p.x1 - p.x0 >= min_px {
            if let Some(i) = slot {
                out.push(open.swap_remove(i), Some(min_px));
            }
            out.push(Group::of(p), None);
            continue;
        }
        match slot {
            Some(i) if p.x0 <= open[i].x1 + min_px => {
                let g = &mut open[i];
                g.x1 = g.x1.max(p.x1);
                g.items.push(p.item);
            }
            Some(i) => {
                let done = std::mem::replace(&mut open[i], Group::of(p));
                out.push(done, Some(min_px));
            }
            None => open.push(Group::of(p)),
        }
    }
    for g in open {
        out.push(g, Some(min_px));
    }
    out
}

/// Marks: a mark less than `px` right of the first mark of the open group
/// of its kind joins that group; the group is drawn at its first mark.
pub fn marks<K: PartialEq, T>(mut pieces: Vec<Piece<K, T>>, px: f64) -> Thinned<K, T> {
    pieces.sort_by(|a, b| a.x0.total_cmp(&b.x0));
    let mut out = Thinned::keep_all(Vec::new());
    let mut open: Vec<Group<K, T>> = Vec::new();
    for p in pieces {
        match open.iter().position(|g| g.key == p.key) {
            Some(i) if p.x0 < open[i].x0 + px => {
                let g = &mut open[i];
                g.x1 = g.x1.max(p.x1);
                g.items.push(p.item);
            }
            Some(i) => {
                let done = std::mem::replace(&mut open[i], Group::of(p));
                out.push(done, None);
            }
            None => open.push(Group::of(p)),
        }
    }
    for g in open {
        out.push(g, None);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(x0: f64, x1: f64, key: char, item: u32) -> Piece<char, u32> {
        Piece { x0, x1, key, item }
    }

    fn shape(t: &Thinned<char, u32>) -> Vec<(char, Vec<u32>)> {
        let mut v: Vec<_> = t.groups.iter().map(|g| (g.key, g.items.clone())).collect();
        v.sort();
        v
    }

    #[test]
    fn narrow_bars_of_a_kind_merge_wide_ones_stay() {
        let t = bars(
            vec![
                piece(0.0, 0.2, 'a', 0),
                piece(0.3, 0.5, 'b', 1),
                piece(0.6, 0.8, 'a', 2),
                piece(0.9, 1.1, 'a', 3),
                piece(1.2, 5.0, 'a', 4),
                piece(5.0, 5.1, 'a', 5),
                piece(9.0, 9.1, 'a', 6),
                piece(9.15, 9.3, 'a', 7),
                piece(9.35, 9.6, 'a', 8),
            ],
            0.5,
        );
        // a: 0..1.1 merged; 4 wide; 5 alone and narrow: skipped; 6-8 merged
        // to 0.6 px. b alone and narrow: skipped.
        assert_eq!(
            shape(&t),
            [('a', vec![0, 2, 3]), ('a', vec![4]), ('a', vec![6, 7, 8])]
        );
        assert_eq!((t.merged, t.skipped), (6, 2));
    }

    #[test]
    fn marks_group_within_the_window_of_their_first() {
        let t = marks(
            vec![
                piece(0.0, 0.0, 's', 0),
                piece(0.4, 0.4, 's', 1),
                piece(0.9, 0.9, 's', 2),
                piece(1.2, 1.2, 's', 3),
                piece(0.5, 0.5, 'e', 4),
            ],
            1.0,
        );
        assert_eq!(
            shape(&t),
            [('e', vec![4]), ('s', vec![0, 1, 2]), ('s', vec![3])]
        );
        assert_eq!((t.merged, t.skipped), (3, 0));
    }

    #[test]
    fn keep_all_keeps_all() {
        let t = Thinned::keep_all(vec![piece(0.0, 0.01, 'a', 0), piece(0.0, 0.01, 'a', 1)]);
        assert_eq!(t.groups.len(), 2);
    }
}
