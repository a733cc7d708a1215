//! The model checkers' hooks into the protocol (`src/model_check.rs`):
//! deliberate bugs they switch on and must find ([`Bug`]), and the paths
//! through the protocol they must show their schedules took ([`Path`]).
//! Outside the checker builds (`cfg(all(test, any(dlb_loom, dlb_shuttle)))`)
//! bugs are inert (`has_bug` is constant false); paths are counted in test
//! builds only (`took` does nothing elsewhere).

use super::Protocol;
use crate::atomics::Atomics;

/// Deliberate bugs, switched on only by the model checkers' tests, which
/// must find the violations they cause. Each is a mistake one could make in
/// the real code path it sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bug {
    /// A thief keeps its loot even when its CAS failed: jobs handed out twice.
    StealIgnoresCas,
    /// The finisher fires one job early: "no more" while a job is unfinished.
    FinishOneEarly,
    /// An owner answers a hunger mark with units without taking them out
    /// of its range: jobs handed out twice, across nodes.
    DepositKeepsUnits,
    /// The finisher tells only its own node: the other nodes never end.
    FinishTellsOwnNodeOnly,
    /// A thief whose CAS returned an empty value goes on CASing against it
    /// (forgets that thieves never CAS against an empty value): it "steals"
    /// nothing from the empty word and has a chunk without jobs.
    StealCasesEmpty,
    /// A thief that won its CAS against a *predicted* value takes the back
    /// half of the value its previous CAS returned, not of the prediction:
    /// units the owner kept are handed out twice.
    PredictedStealStaleHalf,
    /// Rank 0 watches `Done` on one node too, as it does across nodes,
    /// though there the finisher already told everyone: a run is declared
    /// finished twice, and the next run ends before its jobs are done.
    FinishCountsRunTwice,
    /// Units that arrive in an answer while the own range still holds units
    /// are installed over it instead of stashed: those units are lost, and
    /// the run never ends.
    InstallOverNonempty,
    /// A report whose CAS on the node's `Unsent` count lost a race is
    /// dropped instead of retried: `Done` never reaches the run's total.
    ReportLostOnRace,
    /// An owner answers a hunger mark it only read, without swapping it out
    /// of its offer word: the mark is answered again later.
    AnswerLeavesMark,
    /// A leader that relays a finish tells its own node but not its
    /// children in the node tree: the nodes below it never end.
    RelayTellsOwnNodeOnly,
    /// A leader carries the counts in its `Done` word up the node tree
    /// without taking them out of the word: they are counted twice, and a
    /// run ends before its jobs are done.
    CarryKeepsCount,
    /// A direct steal from another node hands its thief the first unit of
    /// its loot and forgets the rest (as if every caller wanted one unit):
    /// those units are lost, and the run never ends.
    DirectStealDropsRest,
    /// An owner whose gift's swap took an earlier gift out of the
    /// knocker's `Gift` word forgets those units instead of stashing them:
    /// they are lost, and the run never ends.
    GiftDropsDisplaced,
    /// Rank 0's node forwards its counts to `Done[0]` as the other nodes
    /// do, while rank 0 also reads them in its node's `Unsent` word: a
    /// count that moves between rank 0's two reads is counted twice (a
    /// run ends before its jobs are done), or rank 0 finds its node's count
    /// gone from `Unsent` when it moves it into `Done[0]`.
    DoneNodeForwards,
    /// In a flat end, a report adds its count to the node's `Kept` before
    /// `Unsent`: a leader that sees the count in `Kept` may end the run and
    /// flush `Unsent` without it, and its reporter, told "no more", never
    /// forwards it: the other node never ends.
    KeptBeforeUnsent,
    /// In a flat end, the deciding leader tells its node and folds, but
    /// does not flush what its node's `Unsent` holds: reports no forward
    /// took never reach the other node, which never ends.
    FlatSkipsFlush,
}

/// Paths through the protocol that a model checker's schedules must reach:
/// a checker that never takes one checks nothing there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    /// A thief CASes against a value it predicted (one more claim of the
    /// same size), not one it read.
    PredictedCas,
    /// ... and wins.
    PredictedCasWon,
    /// A steal attempt ends in [`super::Steal::Retry`].
    Retry,
    /// A rank installs the rest of units it stole or took into its empty
    /// own word.
    Install,
    /// Units arrive in an answer while the own range holds units (stashed).
    ArrivalWhileBusy,
    /// On one node, the finisher's report reaches the run's total and it
    /// tells every rank.
    Finish,
    /// Across nodes (in the node tree), rank 0 sees `Done` reach the total
    /// and tells its node and the leaders of its children in the node tree.
    FinishAcrossNodes,
    /// A leader relays a finish told by another node.
    Relay,
    /// ... and passes it on to the leaders of its children in the node
    /// tree.
    RelayDown,
    /// A leader carries counts from its children in the node tree to its
    /// parent.
    Carry,
    /// A take's swap displaced another hunter's mark (answered `NONE`).
    DisplacedMark,
    /// A mark of an earlier run is answered `NONE`.
    StaleMark,
    /// A hunter starts a take on a rank that served its look.
    TakeAfterLook,
    /// A hunter's look found its rank without units to give (waiting for
    /// work, or dry): no take follows.
    LookFoundWaiting,
    /// A node's counts go up the node tree after a look found their
    /// target waiting in `give_more`.
    CountAfterLook,
    /// A rank that forwards only because it holds a look at the counts'
    /// target (not its node's hunter, not in a round that forwards anyway)
    /// sends the node's counts.
    ForwardSeesLookThrough,
    /// A rank takes units out of its `Gift` word (an owner on another node
    /// answered a knock).
    Gift,
    /// A gift's swap took an earlier gift out of the knocker's `Gift`
    /// word (its giver stashes those units).
    GiftDisplaced,
    /// In a flat end, a leader sees its `Done` and its node's `Kept` reach
    /// the total and tells its node.
    FlatFinish,
    /// ... and sends what its node's `Unsent` still held to the other
    /// leader.
    FlatFlush,
    /// In a flat end, a rank told "no more" waits for its forwards (or its
    /// flush) to complete before it answers.
    FinishAwaitsForwards,
}

#[cfg(test)]
impl Path {
    pub(crate) const ALL: [Path; 21] = [
        Path::PredictedCas,
        Path::PredictedCasWon,
        Path::Retry,
        Path::Install,
        Path::ArrivalWhileBusy,
        Path::Finish,
        Path::FinishAcrossNodes,
        Path::Relay,
        Path::RelayDown,
        Path::Carry,
        Path::DisplacedMark,
        Path::StaleMark,
        Path::TakeAfterLook,
        Path::LookFoundWaiting,
        Path::CountAfterLook,
        Path::ForwardSeesLookThrough,
        Path::Gift,
        Path::GiftDisplaced,
        Path::FlatFinish,
        Path::FlatFlush,
        Path::FinishAwaitsForwards,
    ];

    /// This path's index in [`Path::ALL`].
    pub(crate) fn index(self) -> usize {
        Path::ALL
            .iter()
            .position(|&p| p == self)
            .expect("ALL lists every path")
    }
}

/// How often one rank took each [`Path`] since the checker last looked.
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Paths([u64; Path::ALL.len()]);

#[cfg(test)]
impl Paths {
    /// Times `path` was taken.
    pub(crate) fn count(&self, path: Path) -> u64 {
        self.0[path.index()]
    }
}

#[cfg(all(test, any(dlb_loom, dlb_shuttle)))]
impl<A: Atomics> Protocol<A> {
    /// Switches on a deliberate bug.
    pub(crate) fn with_bug(mut self, bug: Option<Bug>) -> Self {
        self.bug = bug;
        self
    }
}

#[cfg(test)]
impl<A: Atomics> Protocol<A> {
    /// The paths taken since the last call.
    pub(crate) fn take_paths(&mut self) -> Paths {
        std::mem::take(&mut self.paths)
    }
}

impl<A: Atomics> Protocol<A> {
    /// Whether the deliberate `bug` is on: always false outside the
    /// model-checking tests.
    #[allow(unused_variables)]
    pub(super) fn has_bug(&self, bug: Bug) -> bool {
        #[cfg(all(test, any(dlb_loom, dlb_shuttle)))]
        {
            self.bug == Some(bug)
        }
        #[cfg(not(all(test, any(dlb_loom, dlb_shuttle))))]
        {
            false
        }
    }

    /// Counts `path` for the model checkers (and the unit tests); does
    /// nothing elsewhere.
    #[allow(unused_variables)]
    pub(super) fn took(&mut self, path: Path) {
        #[cfg(test)]
        {
            self.paths.0[path.index()] += 1;
        }
    }
}
