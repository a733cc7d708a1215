//! [`Topology`]: which ranks share a node, as the two-level protocol needs
//! it: the node-mates a rank steals from with CPU atomics, the ranks on
//! other nodes it takes offers from, and each node's leader, which hears
//! "finished" for its whole node.

/// The nodes of a communicator, seen from one rank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Topology {
    rank: usize,
    /// The node of every rank.
    node_of: Vec<usize>,
    /// This rank's node-mates, itself included, in rank order.
    mates: Vec<usize>,
    /// The ranks on other nodes, in rank order.
    remote: Vec<usize>,
    /// The lowest rank of every node, by node.
    leaders: Vec<usize>,
    /// Every rank's index among its node-mates, `usize::MAX` for ranks on
    /// other nodes (an O(1) look-up on every shared-memory atomic).
    mate_index: Vec<usize>,
}

impl Topology {
    /// `rank`'s view of the nodes in `node_of` (the node of every rank,
    /// numbered from 0 in the order of each node's lowest rank).
    pub(crate) fn new(rank: usize, node_of: Vec<usize>) -> Topology {
        assert!(rank < node_of.len(), "rank {rank} outside the node map");
        let me = node_of[rank];
        let (mates, remote): (Vec<usize>, Vec<usize>) =
            (0..node_of.len()).partition(|&r| node_of[r] == me);
        let nodes = node_of.iter().max().map_or(0, |m| m + 1);
        let leaders = (0..nodes)
            .map(|n| {
                node_of
                    .iter()
                    .position(|&x| x == n)
                    .expect("nodes are numbered without gaps")
            })
            .collect();
        let mut mate_index = vec![usize::MAX; node_of.len()];
        for (i, &r) in mates.iter().enumerate() {
            mate_index[r] = i;
        }
        Topology {
            rank,
            node_of,
            mates,
            remote,
            leaders,
            mate_index,
        }
    }

    /// Ranks in blocks of `per_node` consecutive ranks per node (tests).
    #[cfg(test)]
    pub(crate) fn blocks(rank: usize, size: usize, per_node: usize) -> Topology {
        Topology::new(rank, (0..size).map(|r| r / per_node.max(1)).collect())
    }

    /// The rank this view belongs to.
    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub(crate) fn size(&self) -> usize {
        self.node_of.len()
    }

    /// `rank`'s index among this rank's node-mates, if it is one.
    #[inline]
    pub(crate) fn mate_index(&self, rank: usize) -> Option<usize> {
        match self.mate_index.get(rank) {
            Some(&i) if i != usize::MAX => Some(i),
            _ => None,
        }
    }

    /// The node of `rank`.
    pub(crate) fn node_of(&self, rank: usize) -> usize {
        self.node_of[rank]
    }

    /// The number of nodes.
    pub(crate) fn nodes(&self) -> usize {
        self.leaders.len()
    }

    /// Whether the ranks span more than one node.
    pub(crate) fn multi_node(&self) -> bool {
        self.nodes() > 1
    }

    /// This rank's node-mates, itself included.
    pub(crate) fn mates(&self) -> &[usize] {
        &self.mates
    }

    /// The ranks on other nodes.
    pub(crate) fn remote(&self) -> &[usize] {
        &self.remote
    }

    /// The leader (lowest rank) of every node.
    pub(crate) fn leaders(&self) -> &[usize] {
        &self.leaders
    }

    /// Whether this rank leads its node.
    pub(crate) fn is_leader(&self) -> bool {
        self.leaders[self.node_of[self.rank]] == self.rank
    }

    /// Whether `rank` shares this rank's node.
    pub(crate) fn is_mate(&self, rank: usize) -> bool {
        self.node_of[rank] == self.node_of[self.rank]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_nodes_have_their_lowest_rank_as_leader() {
        // Round-robin placement over two nodes, as `--map-by node` gives.
        let t = Topology::new(3, vec![0, 1, 0, 1, 0]);
        assert_eq!(t.nodes(), 2);
        assert_eq!(t.mates(), &[1, 3]);
        assert_eq!(t.remote(), &[0, 2, 4]);
        assert_eq!(t.leaders(), &[0, 1]);
        assert!(!t.is_leader());
        assert!(Topology::new(1, vec![0, 1, 0, 1, 0]).is_leader());
        assert!(t.is_mate(1) && !t.is_mate(4));
        let one = Topology::new(2, vec![0; 4]);
        assert!(!one.multi_node());
        assert_eq!(one.mates(), &[0, 1, 2, 3]);
        assert!(one.remote().is_empty());
        assert_eq!(Topology::blocks(5, 6, 2).mates(), &[4, 5]);
    }
}
