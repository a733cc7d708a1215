//! [`Topology`]: which ranks share a node, as the two-level protocol needs
//! it: the node-mates a rank steals from with CPU atomics, the ranks on
//! other nodes it takes offers from, and each node's leader, which hears
//! "finished" for its whole node.
//!
//! The node map ([`NodeMap`]) is the same for every rank and is shared
//! (an `Arc`): a rank's own view adds only its rank, so that ranks in one
//! process (tests, the simulator of `crate::simulate`) hold one map, not
//! one each.

use std::ops::Range;
use std::sync::Arc;

/// The nodes of a communicator: the same for every rank.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NodeMap {
    /// The node of every rank.
    node_of: Vec<usize>,
    /// Every rank's index among the ranks of its own node.
    index_in_node: Vec<usize>,
    /// All ranks, node by node, in rank order within a node.
    by_node: Vec<usize>,
    /// Where each node's ranks begin in `by_node`, and the total at the end.
    node_start: Vec<usize>,
}

impl NodeMap {
    /// The map of `node_of` (the node of every rank, numbered from 0 in the
    /// order of each node's lowest rank).
    pub(crate) fn new(node_of: Vec<usize>) -> NodeMap {
        let nodes = node_of.iter().max().map_or(0, |m| m + 1);
        let mut count = vec![0usize; nodes];
        let mut index_in_node = Vec::with_capacity(node_of.len());
        for &n in &node_of {
            index_in_node.push(count[n]);
            count[n] += 1;
        }
        let mut node_start = Vec::with_capacity(nodes + 1);
        let mut at = 0;
        for c in &count {
            assert!(*c > 0, "nodes are numbered without gaps");
            node_start.push(at);
            at += c;
        }
        node_start.push(at);
        let mut by_node = vec![0; node_of.len()];
        for (r, &n) in node_of.iter().enumerate() {
            by_node[node_start[n] + index_in_node[r]] = r;
        }
        NodeMap {
            node_of,
            index_in_node,
            by_node,
            node_start,
        }
    }

    /// Ranks in blocks of `per_node` consecutive ranks per node.
    #[cfg(any(test, feature = "simulate"))]
    pub(crate) fn blocks(size: usize, per_node: usize) -> NodeMap {
        NodeMap::new((0..size).map(|r| r / per_node.max(1)).collect())
    }

    /// Where `node`'s ranks are in `by_node`.
    fn span(&self, node: usize) -> Range<usize> {
        self.node_start[node]..self.node_start[node + 1]
    }
}

/// The nodes of a communicator, seen from one rank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Topology {
    rank: usize,
    map: Arc<NodeMap>,
}

impl Topology {
    /// `rank`'s view of the nodes in `node_of` (the node of every rank,
    /// numbered from 0 in the order of each node's lowest rank).
    pub(crate) fn new(rank: usize, node_of: Vec<usize>) -> Topology {
        Topology::of(rank, Arc::new(NodeMap::new(node_of)))
    }

    /// `rank`'s view of a shared node map.
    pub(crate) fn of(rank: usize, map: Arc<NodeMap>) -> Topology {
        assert!(rank < map.node_of.len(), "rank {rank} outside the node map");
        Topology { rank, map }
    }

    /// Ranks in blocks of `per_node` consecutive ranks per node (tests).
    #[cfg(test)]
    pub(crate) fn blocks(rank: usize, size: usize, per_node: usize) -> Topology {
        Topology::of(rank, Arc::new(NodeMap::blocks(size, per_node)))
    }

    /// The rank this view belongs to.
    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub(crate) fn size(&self) -> usize {
        self.map.node_of.len()
    }

    /// `rank`'s index among this rank's node-mates, if it is one.
    #[inline]
    pub(crate) fn mate_index(&self, rank: usize) -> Option<usize> {
        match self.map.node_of.get(rank) {
            Some(&n) if n == self.map.node_of[self.rank] => Some(self.map.index_in_node[rank]),
            _ => None,
        }
    }

    /// The node of `rank`.
    pub(crate) fn node_of(&self, rank: usize) -> usize {
        self.map.node_of[rank]
    }

    /// The number of nodes.
    pub(crate) fn nodes(&self) -> usize {
        self.map.node_start.len() - 1
    }

    /// Whether the ranks span more than one node.
    pub(crate) fn multi_node(&self) -> bool {
        self.nodes() > 1
    }

    /// This rank's node-mates, itself included, in rank order.
    pub(crate) fn mates(&self) -> &[usize] {
        &self.map.by_node[self.map.span(self.node_of(self.rank))]
    }

    /// How many ranks are on other nodes.
    pub(crate) fn remote_count(&self) -> usize {
        self.size() - self.mates().len()
    }

    /// The `i`-th rank on another node (`i < remote_count()`), node by
    /// node, in rank order within a node.
    pub(crate) fn remote_at(&self, i: usize) -> usize {
        let own = self.map.span(self.node_of(self.rank));
        if i < own.start {
            self.map.by_node[i]
        } else {
            self.map.by_node[i + own.len()]
        }
    }

    /// The ranks on other nodes, as [`Topology::remote_at`] orders them.
    pub(crate) fn remote(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.remote_count()).map(|i| self.remote_at(i))
    }

    /// The leader (lowest rank) of `node`.
    pub(crate) fn leader_of(&self, node: usize) -> usize {
        self.map.by_node[self.map.node_start[node]]
    }

    /// The children of `node` in the tree of `fan_out` children per node
    /// over the node numbers, rooted at node 0 (rank 0's), which carries
    /// counts of completed jobs up to rank 0 and "finished" down from it:
    /// nodes `node * fan_out + 1 ..= node * fan_out + fan_out` that exist.
    /// Every node but node 0 is the child of exactly one node
    /// ([`Topology::tree_parent`]), and every node is at most
    /// `ceil(log_fan_out(nodes))` hops from node 0 (for a fan-out above 1;
    /// a chain, fan-out 1, has `nodes - 1`).
    pub(crate) fn tree_children(&self, node: usize, fan_out: usize) -> Range<usize> {
        let fan_out = fan_out.max(1);
        let first = node.saturating_mul(fan_out).saturating_add(1);
        let end = first.saturating_add(fan_out).min(self.nodes());
        first.min(end)..end
    }

    /// The parent of `node` in the tree of [`Topology::tree_children`];
    /// `None` for node 0.
    pub(crate) fn tree_parent(&self, node: usize, fan_out: usize) -> Option<usize> {
        node.checked_sub(1).map(|n| n / fan_out.max(1))
    }

    /// Whether this rank leads its node.
    pub(crate) fn is_leader(&self) -> bool {
        self.map.index_in_node[self.rank] == 0
    }

    /// The rank of `node` whose index among its node's ranks is this
    /// rank's index on its own node, modulo `node`'s size: between nodes of
    /// one size, a one-to-one pairing of their ranks.
    pub(crate) fn counterpart_on(&self, node: usize) -> usize {
        let ranks = self.map.span(node);
        self.map.by_node[ranks.start + self.map.index_in_node[self.rank] % ranks.len()]
    }

    /// Whether `rank` shares this rank's node.
    #[cfg(any(test, feature = "simulate"))]
    pub(crate) fn is_mate(&self, rank: usize) -> bool {
        self.map.node_of[rank] == self.map.node_of[self.rank]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counterparts_pair_equal_nodes_one_to_one() {
        // Round-robin placement over two nodes of 4, and a node of 2 and
        // one of 3 (blocks).
        let map = Arc::new(NodeMap::new((0..8).map(|r| r % 2).collect()));
        let mut seen: Vec<usize> = (0..8)
            .filter(|r| r % 2 == 1)
            .map(|r| Topology::of(r, map.clone()).counterpart_on(0))
            .collect();
        assert_eq!(seen, [0, 2, 4, 6]);
        seen = (0..8)
            .filter(|r| r % 2 == 0)
            .map(|r| Topology::of(r, map.clone()).counterpart_on(1))
            .collect();
        assert_eq!(seen, [1, 3, 5, 7]);
        let uneven = Arc::new(NodeMap::new(vec![0, 0, 1, 1, 1]));
        let on_0: Vec<usize> = (2..5)
            .map(|r| Topology::of(r, uneven.clone()).counterpart_on(0))
            .collect();
        assert_eq!(on_0, [0, 1, 0], "indices wrap around a smaller node");
        assert_eq!(Topology::of(1, uneven).counterpart_on(1), 3);
    }

    #[test]
    fn interleaved_nodes_have_their_lowest_rank_as_leader() {
        // Round-robin placement over two nodes, as `--map-by node` gives.
        let t = Topology::new(3, vec![0, 1, 0, 1, 0]);
        assert_eq!(t.nodes(), 2);
        assert_eq!(t.mates(), &[1, 3]);
        assert_eq!(t.remote().collect::<Vec<_>>(), [0, 2, 4]);
        assert_eq!((t.leader_of(0), t.leader_of(1)), (0, 1));
        assert!(!t.is_leader());
        assert!(Topology::new(1, vec![0, 1, 0, 1, 0]).is_leader());
        assert!(t.is_mate(1) && !t.is_mate(4));
        assert_eq!(t.mate_index(3), Some(1));
        assert_eq!(t.mate_index(4), None);
        let one = Topology::new(2, vec![0; 4]);
        assert!(!one.multi_node());
        assert_eq!(one.mates(), &[0, 1, 2, 3]);
        assert_eq!(one.remote_count(), 0);
        assert_eq!(Topology::blocks(5, 6, 2).mates(), &[4, 5]);
    }

    #[test]
    fn node_tree_reaches_every_node_once() {
        for nodes in [1, 2, 3, 5, 17, 300] {
            for fan_out in [1, 2, 16] {
                let t = Topology::blocks(0, nodes, 1);
                let mut parent = vec![None; nodes];
                for n in 0..nodes {
                    for c in t.tree_children(n, fan_out) {
                        assert!(c > n, "{nodes} nodes, fan-out {fan_out}: {n} -> {c}");
                        assert_eq!(parent[c].replace(n), None, "{c} has two parents");
                        assert_eq!(t.tree_parent(c, fan_out), Some(n));
                    }
                    assert!(t.tree_children(n, fan_out).len() <= fan_out);
                }
                // Every node but the root has a parent, so the depth is
                // at most the number of tree levels.
                assert_eq!(t.tree_parent(0, fan_out), None);
                let mut depth = vec![0usize; nodes];
                for n in 1..nodes {
                    let p = parent[n].expect("every node but 0 has a parent");
                    assert!(p < n);
                    depth[n] = depth[p] + 1;
                }
                let levels = if fan_out == 1 {
                    nodes - 1
                } else {
                    // ceil(log_fan_out(nodes(fan_out - 1) + 1)) - 1
                    let (mut cap, mut width, mut l) = (1usize, 1usize, 0usize);
                    while cap < nodes {
                        width *= fan_out;
                        cap += width;
                        l += 1;
                    }
                    l
                };
                assert_eq!(depth.iter().max().copied().unwrap_or(0), levels);
            }
        }
    }

    #[test]
    fn remote_ranks_skip_the_own_node_only() {
        let map = Arc::new(NodeMap::blocks(10, 4));
        for rank in 0..10 {
            let t = Topology::of(rank, Arc::clone(&map));
            let remote: Vec<usize> = t.remote().collect();
            let expected: Vec<usize> = (0..10).filter(|&r| r / 4 != rank / 4).collect();
            assert_eq!(remote, expected, "rank {rank}");
            assert_eq!(t.leader_of(t.node_of(rank)), rank / 4 * 4);
        }
        // Interleaved: node 0 = {0, 2, 4}, node 1 = {1, 3}.
        let t = Topology::new(1, vec![0, 1, 0, 1, 0]);
        assert_eq!(t.remote().collect::<Vec<_>>(), [0, 2, 4]);
        let t = Topology::new(0, vec![0, 1, 0, 1, 0]);
        assert_eq!(t.remote().collect::<Vec<_>>(), [1, 3]);
    }
}
