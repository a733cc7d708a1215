//! The steal protocol: how job units move between ranks, exactly once, with
//! nothing but single-word atomics on `(rank, slot)` (see [`crate::atomics`]).
//! It knows which ranks share a node ([`Topology`]) and works on two levels:
//! within a node on words that every node-mate reaches with passive atomics
//! (CPU atomics on shared memory), across nodes on words reached with MPI
//! atomics, which on software RMA complete only when the target rank enters
//! MPI. Operations on other nodes' words are started and polled, never
//! waited for, with one bounded exception (the notices that end a run, from
//! rank 0 and from relaying leaders, below), one unbounded wait whose
//! target needs what it waits for (a rank told "no more" in a flat end
//! polls its forwards until they completed, see "Flat end"), and one
//! choice for passive RMA (direct steals, below), which waits for them.
//!
//! # State
//!
//! Node-level words (one node's ranks only; [`crate::atomics::Level::Node`]),
//! each on its own cache line:
//!
//! - `Range[r]`: a [`RangeWord`] `[start, end)` of units that `r` may still
//!   hand out. Accessed only by compare-and-swap (CAS).
//! - `Finished[r]`: how many runs have been declared finished to `r`.
//!   Accessed only by fetch-and-add; idle ranks sleep on it (a futex).
//! - `Unsent[l]` (node leaders, across nodes): jobs completed on `l`'s node
//!   and not yet sent up the node tree (on rank 0's node: all of the run's,
//!   which rank 0 reads there), or, in a flat end, to the other node's
//!   leader. CAS only.
//! - `Hunter[l]` (node leaders, across nodes): the rank that hunts on other
//!   nodes for the node, plus one, or 0. CAS only.
//! - `Kept[l]` (node leaders, in a flat end only, see "Flat end"): jobs
//!   completed on `l`'s node in the current run. CAS only.
//! - `Idle[l]` (node leaders, across nodes, on nodes of several ranks):
//!   how many of the node's ranks are idle: counted in after their report
//!   (or at the start of a run they begin without units), out when they
//!   leave the idle loop. Fetch-and-add only; it decides nothing but who
//!   forwards at once (below).
//!
//! Cross-node words ([`crate::atomics::Level::Cross`]):
//!
//! - `Offer[r]`: `EMPTY`, or the hunger mark `(h, k, run)` of a rank `h`
//!   on another node that asks `r` for units, to be answered in `h`'s inbox
//!   word `k`. Accessed only by swap and read.
//! - `Inbox_k[h]` (`k < 4`): the answer to `h`'s mark with inbox `k`:
//!   `NO_ANSWER` (0), `NONE` (no units), or a nonempty [`RangeWord`] of
//!   units. Accessed only by swap.
//! - `Told[l]` (node leaders, the lowest rank of each node): runs declared
//!   finished to `l`'s node by its parent's leader in the node tree (below).
//!   Fetch-and-add only.
//! - `Done[0]` (rank 0): jobs reported completed, summed over all runs,
//!   wrapping (across nodes, rank 0's own node's jobs of a run are added
//!   at its end, see "Watch"). Fetch-and-add only.
//! - `Done[l]` (the leaders of the other nodes): jobs completed in the
//!   subtree below `l`'s node (its children, their children, ...) that
//!   reached `l` and that `l` has not carried on to its parent. Fetch-and-add
//!   only (`l` subtracts by adding the negation). In a flat end, like
//!   `Done[0]`: the other node's jobs, summed over all runs, and `l`'s own
//!   node's, added at the end of each run.
//! - `Waiting[r]`: 1 while `r` waits in `give_more` for work; else 2
//!   while `r` has no units to give (its own range is empty, or, while
//!   its claims do not shrink, holds at most two claims like its last: it
//!   computes its last units, or will claim them, or was told "no more"),
//!   0 while it holds units to give. `r` stores it when it enters and
//!   leaves the idle loop and when its own range changes by its hand (a
//!   claim, an answer, an install), if the value changes; a thief that
//!   empties the range leaves a stale 0. A hint for other nodes' hunters and for the ranks
//!   that send counts to `r` (see "Looks"). No atomic of dlb's touches it:
//!   `r` alone writes it, with plain stores to its own window memory, and
//!   others only read it, with `MPI_Rget`. (A look that overlaps a store
//!   is a conflicting access, whose outcome MPI leaves undefined (§12.7):
//!   by its letter the look may read any value and the word may keep one.
//!   Open MPI 4.1.4's osc/ucx reads the word with a plain network get and
//!   completes the `MPI_Rget` with a fence and a fetch-and-add of 0 on a
//!   word of its own window state, not on the word read, so no store is
//!   lost there. Where one were, or a look read garbage, the hint would be
//!   stale until `r`'s next store: a take made in vain or skipped, or
//!   counts held back for about 10 ms, nothing more.)
//! - `Knock[r]`: the last *knock* `(h, run, seq)` of a rank `h` on another
//!   node that asks `r` for units (see "Knocks"), or 0. Written by other
//!   ranks only with puts (`MPI_Rput`), read by `r` alone with peeks; no
//!   atomic touches it. A hint: several knocks may overwrite each other,
//!   and a read that overlaps a put may return any bits.
//! - `Gift[r]`: units an owner on another node gave `r` in answer to a
//!   knock, as a nonempty [`RangeWord`], or `EMPTY` (0). Swap only.
//!
//! The *node tree* ([`Topology::tree_children`]) has node 0 (rank 0's) at
//! its root and `K` = 16 children per node (`TREE_FAN_OUT`; 1 under the
//! model checkers: a chain): node `n` > 0 has parent `(n - 1) / K`. Counts
//! of completed jobs climb it to `Done[0]` (rank 0's own node's stay in its
//! `Unsent[0]`, which rank 0 reads), "finished" descends it to the
//! leaders, so that rank 0 neither serves one add per node at the end of a
//! run nor starts one notice per node (the simulator, `crate::simulate`,
//! measured both as what grew with the number of nodes), and every node is
//! at most `ceil(log_K(nodes))` hops from rank 0 (for `K` > 1; a chain has
//! `nodes - 1`).
//!
//! Each rank also keeps private state: `own`, the last value it saw in its
//! own `Range` word; `stash`, units it received and has not installed yet;
//! `unreported`, jobs it completed but has not reported; operations it
//! started and has not seen complete (takes, answers, reports, forwards,
//! carries, notices);
//! and the
//! private pending range of the layer above (`crate::dispenser`), which this
//! module never sees.
//!
//! Only a rank itself makes blocking operations on its own cross-node words;
//! it reaches other ranks' cross-node words only by *started* operations
//! (`MPI_Rget_accumulate`), which it polls and never waits for (but see
//! the exceptions above). (Open MPI
//! 4.1's osc/ucx blocks inside `MPI_Rget_accumulate` until the target serves
//! it; there the rule does not hold: a hunter's take waits for the busy
//! victim's next `give_more`, and an answer for the idle hunter's next
//! round, which is why units travel in answers, see below, and why a
//! hunter that saw its starts wait looks before it takes, see "Looks".)
//!
//! A rank polls its own cross-node words (`Offer`, its inbox words, `Told`,
//! `Done`) first with a *peek*, a CPU load of its own window
//! memory after `MPI_Win_sync`, and makes the atomic only when the peek shows
//! something to act on. A peek is a hint, never acted on by itself: MPI
//! leaves its value undefined while a remote update of the word is under
//! way, but each of these words keeps the state a rank waits for (a mark,
//! an answer, a count that only others add to) until the rank itself
//! changes it, so
//! a later peek sees it once no update is in flight (the unified memory
//! model; where a window is not unified, a peek is the atomic). The atomic
//! then decides. On Open MPI 4.1's osc/ucx this matters: every atomic there
//! takes a lock on the target's window, also on one's own, and waits behind
//! remote holders whose operations wait for the target. There the atomic
//! also waits until the peek has shown the same value for a moment
//! (`settle`), so that the remote holder's unlock is served first: rank 0's
//! read of `Done`, a leader's of `Told` and `Done`, and a knocker's of its
//! `Gift`.
//!
//! # Operations
//!
//! - **Claim** (owner, from the front): CAS `Range[me]` from `own = [s, e)`
//!   to `[s + k, e)`. On failure the CAS returned the current value (a thief
//!   moved `e`): retry with it. One operation when uncontended.
//! - **Steal** (thief, from the back, node-mates only, but see "Direct
//!   steals across nodes"): read `Range[v]` of a
//!   node-mate `v` (see below; on MPI windows the read is a glance, which
//!   may be stale); if it is `[s, e)` with `s < e`, CAS it to
//!   `[s, m)` where `m = e - ceil((e - s) / 2)`. Success gives the thief
//!   `[m, e)`. An empty read is [`Steal::Empty`] (from a stale glance, a
//!   victim that had units may look empty: a missed chance, nothing
//!   more); a lost CAS is [`Steal::Retry`].
//! - **Install** (owner, only while its own word is empty): CAS `Range[me]`
//!   from `own` (empty) to units from a steal, a take or the stash.
//! - **Take** (the node's hunter, once its node ran dry, where no knocks
//!   are made, see "Knocks"): pick a free inbox
//!   `k` (no take of its own uses it) and start a swap of the mark
//!   `(me, k, run)` into `Offer[v]` of a rank `v` on another node, up to
//!   [`REMOTE_TAKES`] takes of the current run at once, on distinct
//!   victims. A take ends when its swap completed and its answer was read:
//!   the hunter swaps `NO_ANSWER` into `Inbox_k[me]` and keeps what it
//!   held; units go to its stash. If the swap returned another rank's mark
//!   (two hunters asked `v`), the taker answers that mark `NONE`; if it
//!   returned one of its own (of an earlier run), that take ends unanswered.
//!   A rank becomes the hunter by a CAS of `Hunter[l]` from 0 to itself and
//!   resigns when it leaves the idle loop; the leader hunts only when alone
//!   on its node, so that it stays free to serve the end of a run on stacks
//!   where a started operation blocks its maker until the target serves it
//!   (Open MPI osc/ucx). After a take answered `NONE` the hunter starts no
//!   take for a pause that doubles from 64 µs to 1 ms with each further
//!   empty answer and ends with the first units: while the other nodes are
//!   dry too, takes only trade marks, and on osc/ucx each one holds a lock
//!   on its target's window that the target's own operations wait for.
//! - **Answer** (owner, in `give_more` after a claim, at most every 20 µs;
//!   idle ranks every round): if `Offer[me]` does not read `EMPTY`, swap
//!   `EMPTY` in. A mark `(h, k, run)` it removed is answered by starting a
//!   swap into `Inbox_k[h]`: with the back half of the own range, moved out
//!   by a CAS of `Range[me]`, if the mark is of the current run and the
//!   range is not empty; else with `NONE`. The owner never waits for the
//!   answer to land, and only one operation of a busy owner's (the mark's
//!   swap) stands between a hunter and units: the units travel to the
//!   hunter, not the hunter to them. (A hunter that got work meanwhile
//!   finds them when it next polls, in `give_more` or when it runs dry.)
//!   At the start of each run a rank also swaps `EMPTY` into its offer and
//!   answers a mark found there `NONE`, so no mark outlives the run after
//!   its own.
//! - **Knock** (every idle rank of a dry node, where takes' starts wait
//!   for their victims; see "Knocks"): start a put of `(me, run, seq)`
//!   into `Knock[v]` of a rank `v` on another node (first its
//!   counterpart there, then random ranks; see "Knocks"), one at a time;
//!   once the put completed, wait 1 ms for a gift, then pause as a hunter
//!   after an empty answer.
//! - **Gift** (owner, where it answers marks, at most every 20 µs in
//!   `give_more`; idle ranks only read the word): if `Knock[me]` holds a
//!   knock not seen before, of this run, from a rank `h` of another node,
//!   move the back half of the own range out by a CAS of `Range[me]` and
//!   start a swap of it into `Gift[h]`; units that the swap takes out of
//!   `Gift[h]` (another gift `h` has not read yet) become the giver's, in
//!   its stash. An idle rank takes what `Gift[me]` holds with a swap of
//!   `EMPTY`, into its stash.
//! - **Report** (a rank that ran out of work): on one node, start an add of
//!   its `unreported` count to `Done[0]`; across nodes, add it to
//!   `Unsent[l]` of its leader by CAS (shared memory).
//! - **Forward** (across nodes, on every node but rank 0's, whose counts
//!   rank 0 reads in its `Unsent` word, see "Watch"; in a flat end on both
//!   nodes, to the other node's leader, see "Flat end"; until 2026-12-07 that
//!   node forwarded too, and so made atomics on rank 0's window, rank 0's
//!   own among them, beside the other nodes' forwards: see `settle`): CAS
//!   `Unsent[l]` from its value `u > 0` to
//!   0 and start an add of `u` to `Done[p]` of the leader `p` of the node's
//!   parent in the node tree (rank 0 for the children of node 0). Made by
//!   a rank that has just
//!   reported, in its first idle round, when it finds every rank of its
//!   node idle (`Idle[l]` at the node's size, which a rank alone on its
//!   node always is) or, on a node of two, its one node-mate empty; once
//!   per idle period by a rank whose sweep found the node dry and
//!   `Idle[l]` at the node's size; and by the node's hunter in every round
//!   once the node is dry, while `Idle[l]` is at the node's size (on nodes
//!   that keep it), and on those, while part of the node is not idle,
//!   once it was idle for 1 ms and then once per millisecond (see
//!   `may_send_counts`). Where counts look first (see "Looks"), also, under
//!   the hunter's conditions, by any rank that holds a look at the counts'
//!   target (started by an earlier forward of its own, or on a leader by
//!   its carry), until it leaves the idle loop: before, such a look went
//!   stale and the counts waited for the hunter's own look (Open MPI
//!   osc/ucx, 2 × 4 ranks, a temporary build that printed each step: the
//!   holder of the last job started the look and never used it, and the
//!   hunter forwarded 2 ms after the last report; termination's p50 over
//!   alternating runs of 30 samples: 1.40 ms against 1.68 ms, lower in 4
//!   of 4 pairs, where one build's runs spread by 0.3 ms). A forward takes
//!   all of `Unsent`, so such ranks add looks, not adds. Not by every
//!   rank that just reported, nor every idle rank in every round: then the
//!   reports of a node's ranks went up in as many adds, all in the
//!   last millisecond of a run, one per rank (the simulator,
//!   `crate::simulate`, showed rank 0 receiving as many adds as there are
//!   ranks, its hottest word at 16,384 ranks), and on osc/ucx each holds a
//!   lock on rank 0's window while it waits for rank 0.
//! - **Carry** (a leader other than rank 0, while idle, in every round in
//!   which `Idle[me]` is at the node's size, on nodes that keep it, and
//!   else about once per millisecond, as the hunter forwards): if
//!   `Done[me]` holds `c > 0`, add `-c` to it, then start an add of `c` to
//!   `Done[p]` of its parent's leader `p` (rank 0 at the top). Only `l`
//!   takes counts out of `Done[l]`, so it never holds less than `l` read;
//!   a count leaves one word before it is added to the next, so it is
//!   never counted twice.
//! - **Finish**, on one node (the *finisher*, whose report brought this
//!   run's count to the run's job total `N`): add 1 to `Finished[r]` of every
//!   rank (and wake it).
//! - **Watch**, across nodes through the tree (rank 0, which holds
//!   `Done[0]`, while idle; for a flat end see "Flat end"):
//!   read its node's `Unsent[0]` and `Done[0]`; when their sum reaches
//!   `N`, add 1 to `Finished[r]` of every node-mate (and wake it), then
//!   start an add of 1 to `Told[l]` of the leader `l` of each child of
//!   node 0 in the node tree (its own node first: such a start may wait
//!   for its target, 0.3-1.5 ms on osc/ucx), and move its node's
//!   count into `Done[0]` (a CAS of `Unsent[0]` to 0, which nothing else
//!   changes by then, and an add), so that `Done[0]` grows by `N` per run,
//!   as every rank's `base` assumes; it answers "no more" once the adds to
//!   `Told` completed, or after 1 ms at most (MPI promises progress on an
//!   operation only while its maker is in MPI, and rank 0 may compute
//!   outside MPI for long after; a leader that has not reached the run's
//!   first `give_more` would make the wait long). Notices and counts of a
//!   finished run still in flight complete later, unread.
//! - **Relay** (a leader, while idle): when `Told[me]` grew, add 1 to
//!   `Finished[r]` of every node-mate (and wake it), then start an add of
//!   1 to `Told` of the leader of each of its node's children in the node
//!   tree, and wait for those adds as rank 0 does.
//! - **Finish check** (idle ranks): read `Finished[me]`; the run is over
//!   when it reaches the number of runs (with `N > 0`) begun so far.
//!
//! A rank that runs out of work reports, then loops: poll its started
//! operations (serving others' on software RMA), take a gift,
//! install the stash, check
//! for the end, answer a mark on its offer, try to steal from a random
//! node-mate (one not yet found empty in this idle period while there is
//! one; where node-mates' words are on shared memory, or with direct
//! steals, it tries the next such one at once instead of backing off after
//! an empty one: a sweep of the node costs a load, or a round trip, and a
//! round of the polls above per node-mate),
//! and, once every node-mate was
//! found empty (or it has none)
//! or, in its first round, all of its node was idle: forward the node's
//! count as described under "Forward" (a leader also carries and relays in
//! every round), and, as the node's hunter, keep
//! takes in flight to random ranks on other nodes (where knocks are made,
//! every such rank keeps a knock in flight instead); then back off
//! ([`idle::Backoff`]: spin, yield, sleep on `Finished[me]`, at most 1 ms
//! on one node and, across nodes, 128 µs, or 32 µs for leaders, which
//! serve the end of a run (8 µs with direct steals); a long idle period
//! (32 ms or more) stretches these to 1/64 of the wait, up to 4 ms). After
//! a lost race ([`Steal::Retry`]) the thief stays with the node-mate that
//! has work.
//!
//! On one node there are no cross-node operations: no offers, no takes, no
//! leaders to tell, and `Done[0]` is a node-level word in all but name.
//!
//! # Flat end (two nodes)
//!
//! Across exactly two nodes (the default there; `DLB_TREE_FAN_OUT`, a
//! testing aid, keeps the tree) a run ends *flat*: each node's counts go
//! to the other node's leader, and each leader decides for its own node.
//! Through the tree the end of a run crosses the network twice, a forward
//! to rank 0 and rank 0's notice back; on software RMA each crossing
//! waits for an idle rank's rounds (on Open MPI 4.1's osc/ucx a lock, an
//! operation and an unlock: 0.3-0.7 ms each, traced on 2 × 4 simulated
//! nodes). Flat, the node-mates of the leader that decides first are told
//! at once, in shared memory (that leader itself waits for its flush,
//! below), and the other node after one crossing. Measured on osc/ucx,
//! 2 × 4 simulated nodes, five alternating pairs of 40 runs each: the
//! median time from the last job's report until every rank heard "no
//! more" was 0.73-0.81 ms flat against 1.21-1.27 ms through the tree.
//!
//! - **Report:** add the count to `Unsent[l]` and then to `Kept[l]` of
//!   the node's leader `l` (CAS, shared memory; `Unsent` first, see
//!   below).
//! - **Forward:** as above, on both nodes (rank 0's too), to `Done[o]`
//!   of the other node's leader `o`; `Idle` is kept on both.
//! - **Watch** (each leader, while idle): read `Kept[me]` and then
//!   `Done[me]`; when `Kept[me] + Done[me] - base` reaches `N`: add 1 to
//!   `Finished[r]` of every node-mate (and wake it), then *flush*: CAS
//!   `Unsent[me]` from its value `u > 0` to 0 and start an add of `u` to
//!   `Done[o]` (no look first: `o` needs exactly this count, so it waits
//!   in `give_more`, or has not reached its first one of the run, below);
//!   then *fold*: CAS `Kept[me]` from the value read to 0 and add it to
//!   `Done[me]`, so that `Done[me]` grows by `N` per run, as every rank's
//!   `base` assumes (the other node's counts and its own). There is no
//!   carry, no `Told` and no notice. Where atomics lock (`settle`), the
//!   leader settles `Done` alone and in every round: `Kept` is written
//!   only by its node's ranks, and the last report usually lands there
//!   long after the other node's counts settled in `Done`.
//! - **Finish check:** as above; but a rank that finds the run over waits
//!   for its forwards (and the leader for its flush) to complete before it
//!   answers "no more", polling in idle rounds (the hang watchdog still
//!   runs): it may have taken a count that the other leader needs, and MPI
//!   promises progress on an operation only while its maker is inside MPI
//!   (osc/pt2pt keeps a short operation at its origin until its next call;
//!   osc/ucx's start returns only once served). This is the one wait for
//!   a started operation without a bound.
//!
//! *Counting* (invariant 4 for each leader `l`, `o` the other): jobs
//! completed = `Kept[l]` + `Done[l] - base` + `Unsent[o]` + the forwards
//! from `o`'s node to `l` in flight + the counts a forwarder on `o`'s node
//! took out of `Unsent[o]` and has not started to send + the `unreported`
//! counts of both nodes + the reports on `l`'s node between their two adds
//! (in `Unsent[l]`, not yet in `Kept[l]`); `Kept[l]` counts the reports
//! made on `l`'s node whose second add is done. Every term is at least 0,
//! so `Kept[l] + Done[l] - base <= N`, with equality exactly when every
//! job of the run was completed and reported, and every count of `o`'s
//! node arrived at `l`. During a run `Kept[l]` and `Done[l]` only grow (the
//! fold comes after the decision, and nobody sends `l` a count of the run
//! once it has all of them), so the watch's two reads count no job twice.
//! *Why `Unsent` first:* a count that `l` sees in `Kept` was added to
//! `Unsent` before (both are sequentially consistent atomics on shared
//! memory, or MPI atomics complete on return, one after the other), so
//! once `l` decided, every count of its node is sent, in flight, in a
//! forwarder's hands (its CAS and its start follow each other with no
//! finish check between), or in `Unsent[l]`, where the flush takes it;
//! reported the other way round, a count could reach `Kept` only after the
//! flush, and its reporter, told "no more", would never send it (the model
//! checkers find that: `KeptBeforeUnsent`). A forward and the flush take
//! `Unsent` with a CAS: one of them sends each count. At most one flush
//! per run sends anything: a leader that flushes `u > 0` decided without
//! those counts' reaching `o`, so `o` has not decided; and once `l`
//! decided, all of `o`'s counts are in `Done[l]`, so `o`'s flush finds
//! `Unsent[o]` at 0 (two flushes never wait for each other either).
//! *No early end:* a leader tells its node only at `N`, and only its own
//! leader tells a node. *Termination:* once all jobs are done, each node's
//! counts are forwarded as through the tree (the node's last reporter, its
//! hunter), the leader that decides first flushes what is left, and every
//! started forward completes, because its maker polls it before answering
//! and its target is in the run until it arrives (it cannot have decided
//! without it). So each leader reaches `N`. *A late leader* (one whose
//! units thieves took before its first `give_more` of the run, and which
//! computes outside MPI meanwhile) holds back its node's end, as it holds
//! back its relay in the tree, and here also the ranks of the other node
//! whose forwards or flush go to it: on stacks whose starts return at
//! once they wait in `may_answer` until it comes, where through the tree
//! rank 0 waited at most 1 ms for its notice; on osc/ucx the flush's start
//! waits for it, as rank 0's notice did (rank 0 tells its own node first
//! either way). *Next run:* a leader folds before it answers, and every
//! rank's counts reached their target before that rank answered, so each
//! `Done[l]` holds `base + N`, and `Kept` and `Unsent` hold 0, when `setup`
//! (collective: no rank leaves it before every rank answered) lets the
//! next run's counts in. Each `Finished` word grows by one per run, from
//! its own leader only.
//!
//! # Direct steals across nodes (for passive RMA)
//!
//! Marks exist because on software RMA an operation on a rank busy outside
//! MPI waits for it. Where MPI atomics complete without the target's CPU
//! (hardware RDMA atomics), that wait is a round trip, and waiting for an
//! owner's next `give_more` to answer a mark costs more than it saves: in
//! the simulator (`crate::simulate`, model `hw_rdma`) a hunter's node waited
//! half a job per answer, and a block of expensive jobs on one node spread
//! slowly. With direct steals (`Builder::direct_steals`, the same on every
//! rank) the `Range` words leave the node-level memory: every rank, their
//! owner and its node-mates included, reaches every `Range` word with MPI
//! atomics only (so no word sees two kinds of atomics), and an idle rank
//! whose sweep found its node dry makes up to `REMOTE_STEAL_TRIES` (8)
//! steal attempts per round on random ranks of other nodes (whenever it
//! would otherwise hunt: its sweep found the node dry, or in its first
//! round the node was idle): the same look and CAS as a steal from a
//! node-mate, blocking. A leader, whose rounds serve the end of a run,
//! makes `LEADER_REMOTE_STEAL_TRIES` (2), and so does every rank in its
//! first such round and after a round whose attempts took 4 µs or more
//! each (`FAST_REMOTE_STEAL`: atomics under a lock at their target, as on
//! SMPI, where 8 attempts per round took uniform jobs at 64 ranks from
//! 1.08 to 1.92 times the bound). On ranks other than leaders a load of
//! `Finished[me]` between attempts stops them once their leader told them
//! the run is over (a leader's own word grows only in its rounds' relay, so
//! there the load never stops one). A steal's look at its victim's word is
//! a *glance* ([`crate::atomics::Atomics::glance`]: an `MPI_Get` on MPI
//! windows), not an atomic: where an MPI implements each atomic with a lock
//! on the target's window (Open MPI 4.1's osc/ucx; SimGrid's SMPI, whose
//! compare-and-swap dlb locks), thieves' atomic reads queued the owners'
//! claims behind them (on SMPI, 64 ranks, uniform / ramp / block jobs: 1.13
//! / 1.17 / 1.36 times the bound with reads that were compare-and-swaps,
//! 1.08 / 1.10 / 1.16-1.17 with glances). After a round that found every
//! victim empty and whose attempts were slow (over 25 µs each, ten hardware
//! round trips: they queued at their targets) a thief pauses its remote
//! steals as a hunter pauses its takes (64 µs, doubling to 1 ms, until it
//! gets units), while on lock-free hardware atomics the thieves' attempts
//! cost owners nothing (in the simulator's `hw_rdma` model a pause after
//! every all-empty round cost 0.2 to 0.3 points). An idle rank's first
//! sweep of its node-mates in an idle period (and each after a lost race)
//! goes from one to the next without backing off, as on shared memory (a
//! glance at one is a round trip that waits for nobody), and a leader's
//! backoff sleeps at most 8 µs instead of 32 µs
//! (`idle::MAX_SLEEP_OF_LEADERS_PASSIVE`; where every rank is a node of its
//! own, every idle rank is a leader, so every one wakes that often in the
//! first 32 ms of an idle period: direct steals are for clusters with RDMA
//! atomics, rarely oversubscribed). Measured in the simulator (`hw_rdma`,
//! nodes of 8 ranks, 100 uniform jobs of 1 ms mean per rank, 10 seeds;
//! 2026-12-07), against one node-mate per round, 2 attempts per round on
//! every rank and 32 µs: efficiency 0.9910 / 0.9890 at 64 / 256 ranks (from
//! 0.9889 / 0.9873), block jobs 0.990 / 0.976 (from 0.974 / 0.966), the end
//! of a run 33 / 47 µs (from 56 / 91 µs); over 10 draws of
//! `bench:uniform`'s costs, ahead of one global counter by 0.0013 / 0.0013
//! at 64 / 256 ranks (+0.0002 / -0.0006 before). (On
//! `sw_rma`, where direct steals do not belong, the same change cost
//! uniform jobs at 64 ranks 0.004: 0.939 against 0.943.) Nothing else
//! changes: no marks are made (offers stay `EMPTY`, so answers never
//! happen), and counts, the node tree and the notices are as above. A rank
//! robbed of all its units before its first `give_more` may now be robbed
//! from another node too; that delays its node's count as described under
//! "Forward", nothing more.
//!
//! *Exactly once and no ABA* hold as for node-mates: the argument below
//! rests on every change of a `Range` word being one CAS on the whole word
//! by one kind of atomics, never on thief and owner sharing a node.
//! *Termination* holds on passive RMA, where a blocking read or CAS on
//! another node's word completes without its target. On software RMA it
//! completes when the target next enters MPI: in a run at its next
//! `give_more`, but a rank told "no more" that computes outside MPI would
//! hold a thief there until it comes back; nor can the hang watchdog run
//! in a thief that waits inside such an operation. That is why direct
//! steals go on only where init's probe (`crate::passive_probe`; by
//! default across real nodes, and wherever `DLB_DIRECT_STEALS=probe`)
//! measures passive progress: an atomic on a rank asleep outside MPI that
//! completes long before the rank wakes. Otherwise only when asked for
//! (`DLB_DIRECT_STEALS=1`, for stacks where `dlbcheck` reports passive
//! progress). The model checkers run them with blocking operations that
//! complete at once (the passive case).
//!
//! # Looks
//!
//! Where starting a take waits inside MPI until its victim serves it
//! (Open MPI 4.1's osc/ucx over software RMA: `MPI_Rget_accumulate` spins
//! on a lock of the target's window), a hunter whose take names a rank
//! that computes outside MPI, or that sleeps between idle rounds, spins
//! with it: measured across simulated nodes (2 × 2 ranks, one rank holding
//! the only job for a second), idle ranks used 91-99% of a core. There a
//! hunter *looked* before it took, as described here; since 2026-12-06
//! takes are replaced there by knocks (see "Knocks"), which wait for
//! nothing, and looks before takes remain where every rank is a node of
//! its own and atomics are not passive (below). Where it would start a take on a random
//! rank `v` of another node, it starts a look
//! ([`crate::atomics::Atomics::start_look`]: an `MPI_Rget` of
//! `Waiting[v]`, which takes no lock and returns at once); once the look
//! completed (`v` served it: it is in MPI or was a moment ago), it starts
//! the take on `v` if the look read 0 (`v` holds units to give); if it
//! read 1 (`v` waits for work itself) or 2 (`v` keeps the rest of its
//! range, at most two claims like its last while its claims do not
//! shrink, for itself: it computes its
//! last units, or will claim them before a take could reach it, or was
//! told "no more"), `v` has none to give, and the hunter pauses as after
//! an empty answer. A take on a rank in its last job would wait for the end
//! of that job and bring `NONE`; on one told "no more", which may compute
//! outside MPI for long, it would wait that long (`tests/termination.rs`
//! on osc/ucx failed so, a hunter waiting 1.5 s inside its take's start
//! for the rank that went away, while `Waiting` said only 0 or 1). Looks and
//! takes of the current run together stay within [`REMOTE_TAKES`], on
//! distinct ranks; a look of an earlier run is forgotten once served, and
//! every look completes before the window is freed. With looks, the idle
//! ranks above used 2-4% of a core.
//!
//! A served look is used within 1 ms of the round that saw it complete,
//! else forgotten, and a hunter that leaves the idle loop forgets its
//! served looks: that its rank was in MPI then says little about later.
//!
//! Counts look too. Where looks come first, a forward or a carry goes to
//! its target (the leader of the node's parent in the node tree, or rank
//! 0) only once a look at the target's `Waiting` found it waiting in
//! `give_more`, used within 1 ms of the round that saw it complete (looks
//! at the counts' target are polled in every idle round, and forgotten
//! when the rank leaves the idle loop); until then the counts stay in
//! `Unsent` or `Done[me]`, and the forwarder or carrier starts another
//! look when the last one is stale or found the target busy
//! (`Protocol::count_target_waits`; a forward looks only when `Unsent`
//! holds a count). Counts go anyway once looks that the target served
//! found it not waiting for 10 ms (`COUNT_PATIENCE`; a hold ends after 2
//! ms without such a look): a look may read a stale `Waiting` (above), and a
//! target whose word says 0 or 2 while it waits would otherwise hold them
//! for its whole idle period. Such a target serves looks; one that serves
//! none is outside MPI, and the counts wait for it, as an add would. Where
//! a rank's store cannot reach its window (a memory model that is not
//! unified: looks read 0 forever), counts go without looks. A busy target
//! reads its `Done` word only once it is idle, so an add that reaches it
//! earlier ends nothing sooner, and a start on a busy target waits there: on osc/ucx,
//! with the other ranks whose operations wait for the same window, 2 × 4
//! ranks on a block of expensive jobs saw single forwards to rank 0 wait
//! 65 ms (traced with per-start timers). Termination still holds: the
//! target of every count of an unfinished run is idle in `give_more`
//! sooner or later (every rank is, at the end of a run; rank 0 watches,
//! leaders carry only while idle), where it serves looks, so the look of
//! a node's hunter (every round, while the node is idle) or of a carrying
//! leader finds it waiting, and the counts move, one look and one add
//! later than without looks (two rounds or more: the look, then the add),
//! or, with a stale hint, about 10 ms later. Exactly once and no ABA are
//! untouched: a look changes no word, and the counts' invariant (4,
//! below) holds whenever counts are held back, as between any two rounds.
//!
//! Init decides (`crate::passive_probe::probe_starts`, on every job across
//! nodes without direct steals, except on SimGrid's SMPI, whose starts
//! return at once): rank 0 times the *start* of a read on a
//! rank of another node asleep outside MPI; a start that took 1 ms or more
//! (about 2 ms where starts wait; microseconds elsewhere) with its read
//! done on return turns looks on, on every rank. (A rank 0 descheduled on
//! a loaded core returns late with the read still waiting for the sleeper,
//! or, where atomics are passive, done; there looks cost a round trip
//! each.) Should the probe miss (a sleeper that left the barrier late), a
//! hunter turns them on itself after two takes of one run whose start took
//! 2 ms or more and had completed on return (one could be a descheduled
//! process); it then looks before its takes, as described here (knocks,
//! see "Knocks", are made only where init chose them, on every rank: each
//! rank reads its knock and gift words only then). Stacks whose starts return at once (osc/pt2pt, MPICH,
//! hardware RDMA) make no looks, and their takes are as above, except
//! where every rank is a node of its own to the protocol (the `mpi` path
//! on a window whose atomics are not passive, or one rank per node) and
//! init's probe found atomics not passive (a read of the sleeping rank's
//! `Waiting` word, which it set to say so, did not complete within 1 ms
//! while it slept; with passive atomics it does in microseconds). There every
//! idle rank hunts, with no node-mate to sleep on shared memory for it.
//! On osc/pt2pt (4 ranks on one node, one holding the only job for a
//! second) idle ranks then used 19-99% of a core, spinning in Open MPI's
//! progress loop (sampled with gdb: `ompi_osc_pt2pt_process_receive`
//! nested in `opal_progress`, handling incoming operations). Each hunter
//! has one take queued at the holder for the whole second either way;
//! what the idle ranks did besides was take from each other, every take
//! answered `NONE` and made again after a pause of at most 1 ms. So there
//! a hunter looks before it takes once it has waited for work for 2 ms
//! ([`cross::Looks::WhenIdleLong`]): a look at an idle rank reads 1 and
//! makes no take, and idle ranks used 2-3% of a core. A rank that runs
//! dry for a moment, as most do near the end of a run, still takes at
//! once: balance (4 ranks) and the latency of a steal from a busy victim
//! on that path did not change beyond noise. Later in a long wait a take
//! costs a look first, one more round of the hunter's backoff (up to 4
//! ms after long idleness) before it reaches a rank that has units. Takes
//! started before the switch are answered as any take; a hunter mixes
//! takes with and without looks as after blocked starts above.
//!
//! A look changes no word, and `Waiting` decides nothing but whether a
//! take starts (and when counts go, above): a look only delays or skips a
//! take, so exactly once, no ABA and the counts are untouched. A skip
//! loses nothing: a rank stores 1 only while its own range is empty, and
//! 2 only while it is empty or holds at most two claims like its last
//! (only while its claims do not shrink, as guided chunks do),
//! units that it claims itself in its next calls (node-mates may still
//! steal them over shared memory); it stores 0 before a claim could find
//! more there (an install stores it). Keeping two claims closes most of a
//! race: a look served just before its victim claimed its last units read
//! 0, and the take that followed waited for the whole of the victim's
//! next job (4 ranks on one node, one of them holding the only job for a
//! second: on osc/ucx and osc/pt2pt an idle rank spun at a full core in
//! about one run of ten, found with gdb in the take's start; with two
//! claims kept, in none of 30). A stale or torn read
//! (a look that overlaps the store) makes at worst a take that is answered
//! `NONE`, or a take skipped until the next look. A hunter that waits for
//! a look still polls, serves and backs off in every round, so
//! termination is as above (the end of a run reaches it through its leader
//! or `Finished`, never through takes). The model checkers run ranks
//! where looks come first (knocks, and counts after looks), and hunters
//! that look once idle long (under a model
//! checker: from their second round of hunting in an idle period, or
//! while a take of theirs is in flight), in
//! `random_schedules_of_takes_after_looks`, with looks, knocks and gifts
//! queued at their targets like every operation across nodes (and two
//! knocks per rank, so that gifts displace each other; `GiftDisplaced`),
//! and peeks of knocks that are one time in three stale and one in three
//! torn (the high half of the word's value, the low half of the one
//! before: a knock of this run naming an earlier knocker, or rank 0, which
//! may never have knocked).
//!
//! # Knocks
//!
//! Where looks come first (a take's start waits for its victim), a take on
//! a busy rank costs its hunter a look, served at the victim's next
//! `give_more`, and then the take's start, served at the one after (and on
//! Open MPI 4.1's osc/ucx a lock, the swap and an unlock, each served only
//! inside MPI): two of the victim's jobs or more before it even sees the
//! mark (traced on osc/ucx, 2 × 4 ranks, a block of 6 ms jobs: 6-13 ms per
//! take). There idle ranks *knock* instead. A knock is a put
//! ([`crate::atomics::Atomics::start_knock`], `MPI_Rput`, which takes no
//! lock and returns at once) of `(me, run, seq)` into `Knock[v]` of a
//! rank `v` on another node (below: which); `v` reads its knock word with
//! a peek where it reads its offer (after a claim, at most every 20 µs),
//! so a knock that a busy `v` serves inside one `give_more` is answered in that
//! same `give_more`: if it is new (it differs from the last value `v`
//! saw), of `v`'s run, and from a rank of another node, `v` moves the back
//! half of its own range out with a CAS, as for an answer, and starts a
//! swap of it into `Gift[h]` of the knocker `h`, which is idle and
//! polling (where a start waits for its target, the gift waits only for
//! `h`'s next round). One job of the victim's at most, not two or more. A
//! knocker that leaves the idle loop with work withdraws its knock (a put
//! of 0 over it), so that a victim that has not served it yet gives
//! nothing to a rank now busy: the units would sit in its `Gift` word, out
//! of everyone's reach, until it idles again, and where a start waits for
//! its target the giver would wait for that rank's next call into MPI. Every idle rank of a dry node knocks, one knock at a time (each
//! gift lands in its own knocker's word, and the node's ranks reach that
//! many victims at once); a knock served 1 ms ago without a gift came to
//! nothing, and its knocker pauses as a hunter after an empty answer. An
//! idle rank takes what its `Gift` word holds in every round (a peek, then
//! a swap of `EMPTY`), into its stash. A busy rank leaves a gift in the
//! word until it is idle again; a later gift displaces it (below).
//! Measured on osc/ucx across 2 × 4 simulated nodes (`benches/multinode`,
//! alternating runs of `--reps 3`): block 1.12-1.20 (median 1.14) against
//! 1.18-1.28 (median 1.22) with looks and takes, ramp median 1.08 against
//! 1.13; termination's p50 about 0.1 ms longer (seven idle ranks knock
//! where two hunters looked, on saturated cores; see BENCHMARKS.md,
//! "Across nodes").
//!
//! The first knock of an idle period goes to the knocker's *counterpart*
//! on a random other node, the rank with the knocker's own index among
//! that node's ranks ([`Topology::counterpart_on`]), later ones to random
//! ranks of other nodes. A node's ranks run dry together (they steal from
//! each other until none holds units), and between nodes of one size
//! their first knocks then reach distinct ranks of a node they pick, where
//! random victims collide: four knockers on four ranks reach 2.7 of them
//! on average, and a knock that another overwrites is lost for a
//! millisecond. On osc/ucx 2 × 4, 24 alternating pairs of `--reps 3`:
//! block at most 1.15 in 19 runs of 24 against 12 (median 1.121 against
//! 1.151, lower in 17 pairs); ramp and random unchanged within their
//! spread (medians 1.081 against 1.088, 1.053 against 1.050).
//!
//! A knock is a hint and decides nothing but where a gift goes. Puts of
//! several knockers on one word may overwrite each other (a knock lost:
//! its knocker knocks again after 1 ms), and a peek that overlaps a put
//! may read any bits: a value that is no knock is ignored, one that names
//! a rank out of range or on the giver's node is ignored, and one that
//! names another rank `h'` of another node, of this run, gives to `h'`,
//! which is as safe as giving to `h` (also where `h'` has not begun the
//! run yet: the gift waits in its word). A value seen is never served
//! again (the giver keeps the last value it saw; a knocker's `seq` makes
//! its next knock on the same rank differ), so a knock brings one gift,
//! or, after a torn read of it, two at most. A knock needs its victim to
//! read the word with a load: on a window whose memory model is not
//! unified a peek is an atomic, which a word that puts write must not
//! see, and there hunters take as before. Nor would knocks serve on Open
//! MPI 4.1's osc/pt2pt, where starts return at once: it keeps a short
//! `MPI_Rput` in its origin's buffer for that target and completes its
//! request at once, so a knock would arrive only once something sends
//! that buffer (a flush, or a later operation of the knocker's on the
//! same rank).
//!
//! *Exactly once:* units leave `Range[v]` only by the giver's CAS (as for
//! an answer) and travel only by swaps: the gift's swap puts them into
//! `Gift[h]` and, in the same atomic step, hands whatever the word held to
//! the giver; the knocker's swap of `EMPTY` takes them out. Each swap moves
//! the whole word to exactly one rank, so no unit is in two places or
//! lost, whatever the words held before; a `Gift` word never needs to be
//! empty when a gift lands (unlike an inbox, invariant 3). *No ABA:*
//! `Gift` words take no CAS, `Knock` words no atomic. *Termination:* units
//! in `Gift[h]` are units of the current run of `h` (a giver gives only to
//! a knock of its own run, and all ranks are in the same run until it
//! ends), and the run cannot end while they are unfinished, so `h` comes
//! to its idle loop (every rank does before a run ends) and takes them;
//! units a gift's swap brought back are in their giver's stash, which it
//! installs when its range runs empty. Nobody waits for a knock, and a
//! rank told "no more" is knocked on only by ranks that will hear "no
//! more" too: their knocks complete when it next enters MPI, or before
//! the window is freed, and delay nobody. A gift's start may wait for its
//! knocker (Open MPI 4.1's osc/ucx), which is in the run and comes back
//! into MPI at its next `give_more` at the latest, never for a rank told
//! "no more": the giver has units, so the run is not over. Counts,
//! marks and looks at the counts' target are as above: where knocks are
//! made, takes are not, and hunters only forward.
//!
//! # Invariants
//!
//! The model checkers (`src/model_check.rs`, which lists the models
//! exactly) run this code. Loom explores every schedule with at most two
//! preemptions (not every interleaving) of 2 and 3 ranks on one node and 2
//! nodes of one rank with up to 8 jobs (also with direct steals), of two
//! runs in a row on 2 ranks,
//! of runs in coarse units (up to 2^63 - 1 jobs) on 2 ranks, and, at four
//! preemptions, of a thief's steal attempt racing its victim's claims;
//! shuttle random and PCT schedules of 4 to 8 ranks on one and on several
//! nodes (also with direct steals), two or three runs in a row, some in
//! coarse units, with a victim seed per schedule. They assert three properties that follow from the
//! invariants below: **exactly once**, every job is handed out to exactly
//! one rank;
//! **no early end**, no rank is told "no more" while a job is unfinished;
//! **termination**, every rank is told "no more" within a bounded number of
//! steps once all jobs are done, even though a rank that left never serves
//! another operation. Cross-node operations there are queued at the target
//! and take effect only when it calls `progress`: software RMA at its worst.
//! They also run deliberately broken variants (`Bug`, test builds only) and
//! must find the violation each one causes, and count the paths their
//! schedules took (`Path`: the predicted CAS, `Retry`, installs, the
//! finisher, ...), each of which some model must reach.
//!
//! 1. *Partition.* At every instant, the unclaimed units of a run are the
//!    disjoint union of the nonempty `Range` words, the answers with units
//!    in flight or in inbox words, the units a rank holds privately between
//!    taking them out of a word and putting them into another (a successful
//!    steal, answer or gift CAS before its install or swap; a stash), the
//!    ranks' pending ranges, the `Gift` words, and the gifts in flight (the
//!    units they carry, and those their swaps took out of a `Gift` word
//!    until the giver stashes them). Each unit is in exactly one of them,
//!    or handed out.
//! 2. *Monotone words.* Between installs, a `Range` word only shrinks: the
//!    owner raises `start` (claim) or lowers `end` (answer), thieves lower
//!    `end`. Only the owner writes a range into an empty `Range` word, and
//!    only to install.
//! 3. *One answer per mark.* A mark `(h, k, run)` is written into an offer
//!    word once (one take), and is removed from it by exactly one swap (the
//!    owner's, or a later taker's), whose maker answers it once, or ends
//!    the take if the mark is its own; `h` uses inbox `k` again only after
//!    it read that answer (or ended the take). So an answer always lands on
//!    `NO_ANSWER` (checked when it completes), and the hunter reads each
//!    answer exactly once.
//! 4. *Counting.* Jobs completed = `Done[0] - base` + the `Unsent` words +
//!    the other leaders' `Done` words + the reports, forwards and carries in
//!    flight + the counts a leader took out of its `Done` word and has not
//!    yet started to carry + the ranks' `unreported` counts, where `base` is
//!    `Done[0]` at the start of the run (a CAS moves counts between `Unsent`
//!    and a rank without loss or copy, like units, and a carry takes its
//!    count out of one word before it adds it to the next). Every term is
//!    at least 0, so `Done[0] - base + Unsent[0] <= N` across nodes, with
//!    equality exactly when every job of the run was completed and every
//!    count of the run arrived at rank 0 or sits in its node's `Unsent[0]`:
//!    then no other word holds a count of the run, and the leaders' `Done`
//!    words are 0 when the next run begins. During a run no count leaves
//!    `Unsent[0]` (rank 0's node does not forward) and `Done[0]` only
//!    grows, so rank 0's two reads, one after the other, never count a job
//!    twice: their sum is at most the sum at the later read. (This is the
//!    node tree's form; a flat end's, per leader, is under "Flat end".)
//!
//! # Why every job is handed out exactly once
//!
//! Units leave a `Range` word only through a successful CAS, which is atomic
//! on the whole word: the units between the old and the new value are given
//! to the one rank whose CAS succeeded, and no other CAS can succeed against
//! the old value afterwards. Claims take from the front and steals and
//! answers from the back of the value they replaced, so what is taken and
//! what remains partition that value (invariant 1). Installs only write
//! words that are empty, with units that were in no word at that moment.
//! Units leave a range word for another node only in an answer (or, with
//! direct steals, by the same CAS as a node-mate's steal; or in a gift,
//! see "Knocks"), which
//! lands on `NO_ANSWER` (invariant 3) and is read by the one hunter that
//! owns the inbox, with a swap: atomic, so it takes the units out exactly
//! once. Offer words hold marks only, never units, and knock words
//! knocks.
//!
//! # Why there is no ABA
//!
//! Within a run, a `Range` word's value is the whole truth about the units
//! it holds: whatever the history, if `Range[v]` holds `[s, e)` then exactly
//! those units are unclaimed there. Every CAS computes its new value from its
//! expected value alone, so when it succeeds the transition is valid at that
//! instant, whether the expected value was read just now, read long ago, or
//! guessed, or only glanced at (a steal's first look is not atomic, see
//! "Direct steals": it may return a stale value, or, if it overlaps an
//! update, any bits, and a CAS against bits the word does not hold fails;
//! one against bits it does hold is a CAS against a value the word
//! really has). Thieves use this: on software RMA (the `mpi` path: Open MPI
//! osc/pt2pt or osc/ucx without hardware atomics, MPICH over TCP) a busy
//! victim serves remote operations only inside MPI, once per `give_more`,
//! and claims once per `give_more` too, so a CAS against the value last
//! returned always arrives one claim late. A thief therefore also tries the
//! value it predicts after one more claim of the same size. (Besides, a
//! value cannot recur: once a word changed, some of its units were handed
//! out or moved to a range that never merges back.) Thieves never CAS
//! against an empty value (a thief may leave a word empty, taking its last
//! units), and only the owner writes units into an empty word, to install.
//! Offer and inbox words take no CAS: a swap's effect does not
//! depend on what its maker believed the word held, so no stale belief can
//! make it wrong; and a mark names its inbox and its run, so an answer can
//! never be mistaken for the answer to another mark (invariant 3).
//!
//! Across runs the same bits would mean other jobs, so runs must not
//! overlap: `setup` is collective (an all-reduce that no rank leaves before
//! every rank has left the previous run), and only then does a rank install
//! its new range. Reports, carries and notices may still be in flight when a
//! rank leaves a run; they took effect before the run ended (`Finished`
//! grows only after the run's counts reached `N` at rank 0 (in a flat end,
//! at the node's leader), which only the
//! run's last count to arrive makes them reach, and notices are what makes
//! `Finished` grow),
//! and their answers are never read. Takes may be unanswered too: their marks are
//! answered `NONE` by whoever removes them, because an owner answers with
//! units only a mark of the run it is in (16 bits of the run number: a mark
//! is answered at the latest when the rank it landed on begins the second
//! run after its own, see `serve_offer`), and a hunter of
//! that run cannot have left it while units it was sent are unfinished. A
//! hunter's inboxes held by marks of an earlier run are not reused until
//! answered, so a late answer never lands on a later take's inbox.
//!
//! # Why every rank terminates, and only when all jobs are done
//!
//! What follows is the argument for one node and for the node tree; a
//! flat end's, which differs only in who decides and how counts travel,
//! is under "Flat end".
//!
//! *Safety:* a rank answers "no more" only after it saw its `Finished` word
//! reach the run's number; that happens only after a rank saw `Done[0]` at
//! `N` (one node), or rank 0 saw `Done[0] - base + Unsent[0]` at `N`
//! (invariant 4), and a job is reported only after the rank that ran it
//! asked for more, i.e. after it completed.
//! An empty read (even a stale one) leads only to the idle state, and a
//! lost race (`Retry`) not even there; neither is ever mistaken for the
//! end, which only the counts decide.
//!
//! *Liveness:* while some job is unfinished, some rank holds it and is
//! working, and calls `give_more` again when it is done. When all jobs are
//! completed, every rank has run dry and started a report of everything it
//! completed (a rank reports before idling). On one node, rank 0 serves the
//! reports, the last one reaches `N` (every report carries at least one job,
//! so exactly one does), and its rank tells everyone. Across nodes, every
//! node is dry then; rank 0's node's count is in `Unsent[0]` already, and
//! each other node's `Unsent` is forwarded: by the rank
//! whose report came last on its node, in its first idle round (every rank
//! is counted into `Idle[l]` before it idles, after its report, and a rank
//! that began without units from the start, so when the last report is
//! made every other rank of the node is counted and that rank's forward
//! carries every report; a rank that has not yet called `give_more` in the
//! run either began without units, and is counted, or began with units and
//! counts itself in when it runs dry: only if thieves took all of its
//! units before its first `give_more` does the forward wait for that
//! call; and a rank that counted in before a node-mate's start of run
//! did, reads `Idle[l]` again once its sweep finds the node dry); and by
//! the node's hunter, which forwards in every round in which it sees the
//! whole node idle (every round where `Idle` is not kept: nodes of one
//! rank, and under the model checkers, which leave the first rule out),
//! and, while a rank robbed before its first `give_more` keeps the node
//! from looking idle, about once per millisecond (see `may_send_counts`;
//! this needs a hunter, a rank other than the leader that is not late
//! itself: where every rank but the leader is late in that way, the
//! node's count waits for the first of them): once a node is dry
//! its ranks all loop, `Hunter[l]` is 0 or held by one of them, and a rank
//! that may hunt takes it (a node of several ranks has one besides the
//! leader, who hunts only when alone). No rank leaves before the run's
//! counts reach `N` at rank 0, so every leader that has come to its first `give_more` is
//! idle and serving (one that has not holds back its subtree's counts and
//! notices until it comes), and carries what reaches its `Done` word on to
//! its parent: in each round once every rank of its node is counted in
//! `Idle` (a rank not counted yet is one that began with units and has not
//! called `give_more` since thieves took them), and otherwise about once
//! per millisecond (a round that finds nothing to carry also waits the
//! period out). The counts climb the node tree, a hop per leader's round
//! (or per millisecond while such a late rank stays away), and all of them
//! reach rank 0,
//! which is idle too, and sees `Done[0] - base + Unsent[0]` reach `N`
//! while it polls (where atomics lock, once the peeks showed it for a
//! moment: see `settle`). It
//! tells its node, and its children in the node tree through their
//! leaders, and each leader its children: a leader is still idle and
//! serving when its parent's add to `Told` arrives, because it and its
//! node-mates can hear only through that add, so none of them left. Each
//! `Finished` and each `Told` word grows by exactly one per run (one teller
//! per node, one parent per leader). Idle ranks check `Finished[me]` at
//! least once per backoff period. A rank that answered "no more" and
//! computes for a long time delays nobody: nobody waits for an answer to a
//! report, a carry, a take, a mark or a knock, and rank 0 and each
//! relaying leader deliver their notices before they answer (tested across
//! nodes by `tests/termination.rs`); a mark on its offer only keeps one of
//! the hunter's four inboxes busy until it answers it, and a knock on it
//! only its knocker's put in flight.
//!
//! Each rank reports once per idle period (not once per chunk); each
//! leader's `Done` word receives the forwards and carries of at most `K`
//! child nodes (rank 0's also one add of its own node's count per run),
//! mostly once each
//! node is idle; `Told` words are touched once per run per node; offer,
//! inbox, knock and gift words only while some node is dry: the hot words
//! stay cold.

mod cross;
mod finish;
mod hooks;
mod idle;
mod knock;
mod settle;
mod topology;
mod watchdog;
mod word;

pub(crate) use cross::{Looks, LOOKS_AFTER_IDLE};
#[cfg(test)]
pub(crate) use hooks::Paths;
pub(crate) use hooks::{Bug, Path};
#[cfg(feature = "simulate")]
pub(crate) use topology::NodeMap;
pub(crate) use topology::Topology;
pub(crate) use word::{RangeWord, MAX_UNITS};

use crate::atomics::primitive::MODEL_CHECKING;
use crate::atomics::{poll_all, Atomics, Pending, Slot};
use crate::clock::Instant;
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::trace::{How, Outcome, Start, StealLog};
use idle::{Backoff, Sweep};
use std::ops::Range;
use std::time::Duration;

/// The rank that holds the global done counter.
const DONE_RANK: usize = 0;
/// CAS attempts a thief makes on one victim, alternating the value each
/// failed CAS returned and a prediction, before it reports [`Steal::Retry`].
const STEAL_CAS_TRIES: u32 = 4;
/// How often an idle rank sends its node's counts up the node tree while
/// part of its node is not idle (see `Protocol::may_send_counts`).
const PARTIAL_SEND_EVERY: Duration = Duration::from_millis(1);
/// Takes a rank keeps in flight to ranks on other nodes, so that it never
/// waits behind one busy rank.
pub(crate) const REMOTE_TAKES: usize = 3;
/// Steal attempts an idle rank of a dry node makes per round on random
/// ranks of other nodes, with direct steals (see "Direct steals across
/// nodes"), where its last round's attempts were fast: at the end of a run
/// few ranks hold units, and on lock-free hardware atomics each attempt
/// costs its victim nothing.
const REMOTE_STEAL_TRIES: usize = 8;
/// The same for a node's leader, whose rounds serve the end of a run (its
/// round stays short), and for every rank whose last round's attempts
/// were slow (atomics under a lock at their target, as on SMPI: there more
/// attempts queued owners' claims behind thieves).
const LEADER_REMOTE_STEAL_TRIES: usize = 2;

/// The outcome of one steal attempt.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Steal {
    /// The victim had nothing to steal.
    Empty,
    /// The thief now owns these units.
    Success(Range<u64>),
    /// The victim's word kept changing under the thief; try again.
    Retry,
}

/// Counters of protocol events in the current run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Steal attempts on node-mates (and, with direct steals, on other
    /// nodes' ranks) plus takes and knocks started on other nodes.
    pub(crate) steal_attempts: u64,
    /// Successful steals plus takes that brought units and gifts taken.
    pub(crate) steals: u64,
    pub(crate) units_stolen: u64,
    /// Takes from other nodes that brought units and gifts taken, or
    /// (direct steals) steals from them (also in `steals`).
    pub(crate) remote_steals: u64,
    /// Answers with units to other nodes' hunger marks, and gifts to their
    /// knocks.
    pub(crate) deposits: u64,
    /// Successful claims from the own range.
    pub(crate) claims: u64,
    pub(crate) claim_retries: u64,
    pub(crate) reports: u64,
    pub(crate) idle: Duration,
    pub(crate) longest_idle: Duration,
}

/// A take: a hunger mark swapped into a remote rank's offer, until its
/// swap completed and its answer was read.
#[derive(Debug)]
struct Take {
    victim: usize,
    /// Which of `Slot::INBOX` receives the answer.
    inbox: usize,
    /// The run the take was made in (`finish_target` then).
    run: u64,
    /// The swap, until it completed.
    swap: Option<Pending>,
    answered: bool,
    /// When tracing: when the take started (the trace's clock).
    traced_at: Option<u64>,
}

/// One rank's side of the protocol.
#[derive(Debug)]
pub(crate) struct Protocol<A: Atomics> {
    atomics: A,
    /// Last value seen in this rank's own `Range` word.
    own: RangeWord,
    /// Units received (answers to takes, gifts, units a gift's swap
    /// brought back) and not yet installed.
    stash: Vec<Range<u64>>,
    /// Takes not yet swapped in or not yet answered.
    takes: Vec<Take>,
    /// Looks not yet served, and served looks of the current run that no
    /// take followed yet (see "Looks").
    looks: Vec<cross::Look>,
    /// When a take starts only on a rank that served a look (see
    /// "Looks"); with [`Looks::First`], counts also go up the node tree
    /// only to a rank that a look found waiting.
    look_mode: Looks,
    /// Whether ranks knock instead of taking, and read knocks and gifts
    /// (see "Knocks"): where init chose [`Looks::First`], on every rank,
    /// and peeks of the own `Knock` word are loads (see `knocks_now`; set
    /// once, by `set_looks`). Also where the watchdog's heartbeats are
    /// published (see `watchdog`).
    knocking: bool,
    /// While this rank waits in `give_more` for work: since when.
    idle_since: Option<Instant>,
    /// Whether this rank hunted in an earlier round of this idle period
    /// (what "waited long" means under a model checker).
    hunted_while_idle: bool,
    /// Whether this rank's next knock is the first of its idle period
    /// (see `knock_victim`).
    first_knock: bool,
    /// Where looks come first: the look at the rank this node's counts go
    /// to (see "Looks").
    count_look: Option<cross::Look>,
    /// What this rank last stored in its `Waiting` word.
    waiting: u64,
    /// The units of this rank's last two claims in this run (from its own
    /// range or from loot), the last first; 0 before there were any.
    claims: (u64, u64),
    /// Whether counts wait for looks where looks come first: not where
    /// `Waiting` stores cannot reach the window.
    counts_look: bool,
    /// Since when, and until when last, served looks held back this
    /// rank's counts (see "Looks").
    counts_held: Option<(Instant, Instant)>,
    /// Takes of the current run whose start waited for its target (see
    /// "Looks").
    blocked_starts: u32,
    /// Answers to others' marks in flight.
    answers: Vec<Pending>,
    /// This rank's knocks of its idle period, in flight or waiting for a
    /// gift (see "Knocks").
    knocks: Vec<knock::Knock>,
    /// The sequence number of this rank's last knock (wrapping).
    knock_seq: u8,
    /// The last value this rank saw in its `Knock` word.
    knock_seen: u64,
    /// Gifts to knockers in flight (see "Knocks").
    gifts: Vec<Pending>,
    /// Reports, forwards and carries in flight: the rank whose `Done` word
    /// they add to, the count added, and the operation.
    reports: Vec<(usize, u64, Pending)>,
    /// Started operations nobody waits for: reports of a run already
    /// finished. Completed when polled, and at the latest before the window
    /// is freed.
    in_flight: Vec<Pending>,
    /// Children per node in the node tree (see `finish::TREE_FAN_OUT`).
    tree_fan_out: usize,
    /// Whether runs end flat: across exactly two nodes, unless the node
    /// tree was asked for (see "Flat end").
    flat: bool,
    /// `Told[me]` increments already relayed to the node (leaders).
    told_relayed: u64,
    /// Whether this rank is counted in its node's `Idle` word.
    idle_counted: bool,
    /// While idle: when this rank may next send its node's counts up the
    /// node tree although part of its node is not idle (see
    /// `may_send_counts`); `None` outside the idle loop.
    partial_send_at: Option<Instant>,
    /// When `give_more` next reads `Offer[me]` for hunger.
    next_offer_check: Option<Instant>,
    /// Under a model checker: `Atomics::writes` when takes last came back
    /// empty-handed (see `hunt_remote`).
    takes_failed_at: Option<u64>,
    /// The hunter's pause after takes came back empty-handed.
    take_pause: cross::TakePause,
    /// Whether this rank's last round of direct steals on other nodes took
    /// under `cross::FAST_REMOTE_STEAL` per attempt (see `steal_remote`).
    fast_remote_steals: bool,
    /// `Done` at the start of the current run (wrapping).
    done_base: u64,
    /// Jobs in the current run.
    total: u64,
    /// Completed jobs not yet added to `Done`.
    unreported: u64,
    /// Runs with `N > 0` begun so far: `Finished[me]` reaches it at the end.
    finish_target: u64,
    /// The last value read from `Finished[me]`, to sleep on.
    finished_seen: u64,
    /// New values that peeks showed in this rank's own words (see
    /// `settle`).
    settling: settle::Settling,
    finished: bool,
    rng: Rng,
    counters: Counters,
    /// The hang watchdog, when a timeout is set.
    watchdog: Option<Box<watchdog::Watchdog>>,
    /// Steal attempts and takes, when tracing (`src/trace/`).
    steal_log: Option<Box<StealLog>>,
    /// Where the units the last `find_work` found came from: a steal from
    /// a node-mate, or from another node (an answer in the stash, or a
    /// direct steal).
    found: How,
    /// Direct steals: `Range` words of other nodes take passive atomics,
    /// and idle ranks of a dry node steal from them (see the module doc).
    direct: bool,
    #[cfg(all(test, any(dlb_loom, dlb_shuttle)))]
    bug: Option<Bug>,
    #[cfg(test)]
    paths: Paths,
}

impl<A: Atomics> Protocol<A> {
    /// A protocol endpoint over freshly zeroed words (no run yet).
    pub(crate) fn new(atomics: A, seed: u64) -> Protocol<A> {
        let rng = Rng::new(seed ^ (atomics.rank() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let flat = atomics.topology().nodes() == 2;
        Protocol {
            atomics,
            own: RangeWord::default(),
            stash: Vec::new(),
            takes: Vec::new(),
            looks: Vec::new(),
            look_mode: Looks::Off,
            knocking: false,
            idle_since: None,
            hunted_while_idle: false,
            first_knock: false,
            count_look: None,
            waiting: cross::NOT_WAITING,
            claims: (0, 0),
            counts_look: true,
            counts_held: None,
            blocked_starts: 0,
            answers: Vec::new(),
            knocks: Vec::new(),
            knock_seq: 0,
            knock_seen: 0,
            gifts: Vec::new(),
            reports: Vec::new(),
            in_flight: Vec::new(),
            tree_fan_out: finish::TREE_FAN_OUT,
            flat,
            told_relayed: 0,
            idle_counted: false,
            partial_send_at: None,
            next_offer_check: None,
            takes_failed_at: None,
            take_pause: cross::TakePause::default(),
            fast_remote_steals: MODEL_CHECKING,
            done_base: 0,
            total: 0,
            unreported: 0,
            finish_target: 0,
            finished_seen: 0,
            settling: settle::Settling::default(),
            finished: true,
            rng,
            counters: Counters::default(),
            watchdog: None,
            steal_log: None,
            found: How::Steal,
            direct: false,
            #[cfg(all(test, any(dlb_loom, dlb_shuttle)))]
            bug: None,
            #[cfg(test)]
            paths: Paths::default(),
        }
    }

    pub(crate) fn counters(&self) -> Counters {
        self.counters
    }

    pub(crate) fn atomics_mut(&mut self) -> &mut A {
        &mut self.atomics
    }

    pub(crate) fn atomics(&self) -> &A {
        &self.atomics
    }

    fn me(&self) -> usize {
        self.atomics.rank()
    }

    /// Turns direct steals on (the same on every rank, before the first
    /// run; see the module doc). The atomics must reach every `Range` word
    /// with one kind of atomics, which complete without their target's
    /// owner.
    pub(crate) fn set_direct_steals(&mut self, on: bool) {
        self.direct = on && self.multi_node();
    }

    /// Whether idle ranks steal directly from other nodes' ranges (asked
    /// for, and the ranks span several nodes).
    pub(crate) fn direct_steals(&self) -> bool {
        self.direct
    }

    fn multi_node(&self) -> bool {
        self.atomics.topology().multi_node()
    }

    /// Starts a run of `total` jobs in which this rank first owns `units`.
    ///
    /// Must be called by every rank after a collective operation that no
    /// rank leaves before all ranks finished the previous run.
    pub(crate) fn begin_run(&mut self, units: Range<u64>, total: u64) -> Result<()> {
        if !self.finished
            || !self.own.is_empty()
            || self.unreported != 0
            || !self.stash.is_empty()
            || !self.reports.is_empty()
        {
            return Err(Error::internal(
                "a run began before the previous one finished",
            ));
        }
        if self.multi_node() {
            self.serve_offer(false)?;
        }
        self.done_base = self.done_base.wrapping_add(self.total);
        self.total = total;
        self.take_pause = cross::TakePause::default();
        self.claims = (0, 0);
        self.counters = Counters::default();
        self.finished = total == 0;
        if total > 0 {
            self.finish_target += 1;
            self.blocked_starts = 0;
        }
        if total > 0 && units.is_empty() && self.counts_idle() {
            // A rank that begins without units is idle until it gets some,
            // also before its first `give_more` (see "Forward").
            self.atomics.fetch_add(self.leader(), Slot::Idle, 1)?;
            self.idle_counted = true;
        }
        self.install(units)
    }

    /// Adds `jobs` completed jobs to this rank's unreported count.
    pub(crate) fn complete(&mut self, jobs: u64) {
        self.unreported += jobs;
    }

    /// Claims `want(range)` units (at least one) from the front of this
    /// rank's own range, where `range` is what the range holds (its units).
    /// `None` when the range is empty. Across nodes, also serves hunger:
    /// see the module doc.
    pub(crate) fn claim(&mut self, want: impl Fn(Range<u64>) -> u64) -> Result<Option<Range<u64>>> {
        // Serve thieves and reports waiting on this rank first (software RMA).
        self.atomics.progress()?;
        if self.multi_node() {
            self.poll_started()?;
        }
        while !self.own.is_empty() {
            let (rest, taken) = self
                .own
                .take_front(want(self.own.start()..self.own.end()).max(1));
            let seen = self.cas(self.me(), self.own, rest)?;
            if seen == self.own {
                self.own = rest;
                self.note_claim(taken.end - taken.start);
                self.publish_own_range()?;
                self.counters.claims += 1;
                if self.multi_node() {
                    self.serve_offer(true)?;
                }
                return Ok(Some(taken));
            }
            // A thief lowered our end: retry against what the CAS returned.
            self.own = seen;
            self.counters.claim_retries += 1;
        }
        Ok(None)
    }

    /// Records steal attempts and takes from now on (tracing).
    pub(crate) fn set_steal_log(&mut self, log: StealLog) {
        self.steal_log = Some(Box::new(log));
    }

    /// The steal attempts and takes recorded, when tracing.
    pub(crate) fn steal_log_mut(&mut self) -> Option<&mut StealLog> {
        self.steal_log.as_deref_mut()
    }

    /// Now on the trace's clock, when tracing: the `t0` of a start that
    /// [`Self::trace_started`] records once it returned.
    fn trace_clock(&self) -> Option<u64> {
        self.steal_log.as_ref().map(|log| log.now())
    }

    /// Records the start of `what` on `victim` that began at `t0` (from
    /// [`Self::trace_clock`]; `None` when not tracing).
    fn trace_started(&mut self, what: Start, t0: Option<u64>, victim: usize) {
        if let (Some(log), Some(t0)) = (&mut self.steal_log, t0) {
            log.started(what, t0, victim);
        }
    }

    /// Where the units the last successful `find_work` returned came from:
    /// [`How::Steal`] (a node-mate's range) or [`How::Remote`] (an answer
    /// or a gift from another node, received during the wait or before it,
    /// or units a gift brought back).
    pub(crate) fn found(&self) -> How {
        self.found
    }

    /// One steal attempt on node-mate `victim`, recorded when tracing.
    pub(crate) fn steal(&mut self, victim: usize) -> Result<Steal> {
        let Some(began) = self.trace_clock() else {
            return self.steal_untraced(victim);
        };
        let steal = self.steal_untraced(victim)?;
        let (outcome, units) = match &steal {
            Steal::Success(loot) => (Outcome::Success, loot.end - loot.start),
            Steal::Empty => (Outcome::Empty, 0),
            Steal::Retry => (Outcome::Retry, 0),
        };
        if let Some(log) = &mut self.steal_log {
            log.steal(began, victim, outcome, units);
        }
        Ok(steal)
    }

    fn steal_untraced(&mut self, victim: usize) -> Result<Steal> {
        self.counters.steal_attempts += 1;
        let mut expected = RangeWord::from_bits(self.atomics.glance(victim, Slot::Range)?);
        if expected.is_empty() {
            return Ok(Steal::Empty);
        }
        // What the word held when the thief last saw it; `expected` differs
        // from it when the thief bets on a prediction.
        let mut seen = expected;
        for attempt in 0..STEAL_CAS_TRIES {
            let (rest, mut taken) = expected.take_back_half();
            let predicted = expected != seen;
            if predicted {
                self.took(Path::PredictedCas);
                if self.has_bug(Bug::PredictedStealStaleHalf) {
                    taken = seen.take_back_half().1;
                }
            }
            let current = self.cas(victim, expected, rest)?;
            if current == expected || self.has_bug(Bug::StealIgnoresCas) {
                if predicted {
                    self.took(Path::PredictedCasWon);
                }
                self.counters.steals += 1;
                self.counters.units_stolen += taken.end - taken.start;
                return Ok(Steal::Success(taken));
            }
            if current.is_empty() && !self.has_bug(Bug::StealCasesEmpty) {
                return Ok(Steal::Empty);
            }
            // Lost to the owner or another thief. With software RMA a busy
            // victim serves one operation per visit to MPI and claims once
            // per visit too, so a CAS against the value just returned is
            // always one claim late: every other attempt bets that the
            // owner claims the same amount again (safe: see the module doc).
            seen = current;
            expected = if attempt % 2 == 0 {
                current.after_same_claim(expected)
            } else {
                current
            };
        }
        self.took(Path::Retry);
        Ok(Steal::Retry)
    }

    /// Makes `units` this rank's own range. The own word must be empty.
    fn install(&mut self, units: Range<u64>) -> Result<()> {
        let new = RangeWord::new(units);
        let seen = self.cas(self.me(), self.own, new)?;
        if seen != self.own {
            return Err(Error::internal(format!(
                "own range word changed while empty: expected {:#x}, found {:#x}",
                self.own.bits(),
                seen.bits()
            )));
        }
        self.own = new;
        self.publish_own_range()
    }

    /// The first `want(loot)` units of `loot`, which came as `how`, for the
    /// caller; the rest becomes the own range (which must be empty).
    fn keep(
        &mut self,
        loot: Range<u64>,
        want: &impl Fn(Range<u64>) -> u64,
        how: How,
    ) -> Result<Range<u64>> {
        self.found = how;
        let take = want(loot.clone()).clamp(1, loot.end - loot.start);
        self.note_claim(take);
        if loot.start + take < loot.end {
            self.took(Path::Install);
        }
        self.install(loot.start + take..loot.end)?;
        Ok(loot.start..loot.start + take)
    }

    /// Benchmarks, outside runs: makes `units` the own range (which must be
    /// empty), for thieves to steal from.
    #[cfg(feature = "bench")]
    pub(crate) fn bench_fill(&mut self, units: Range<u64>) -> Result<()> {
        self.install(units)
    }

    /// Benchmarks, outside runs: claims whatever is left of the own range,
    /// so the next run starts from an empty word.
    #[cfg(feature = "bench")]
    pub(crate) fn bench_drain(&mut self) -> Result<()> {
        while self.claim(|_| u64::MAX)?.is_some() {}
        Ok(())
    }

    /// Called when this rank has no work left: reports, then hunts until it
    /// gets units (returns the first `want(units)` of them, the rest
    /// installed as the own range) or the run is finished (`None`).
    pub(crate) fn find_work(
        &mut self,
        want: impl Fn(Range<u64>) -> u64,
    ) -> Result<Option<Range<u64>>> {
        debug_assert!(self.own.is_empty());
        self.set_waiting()?;
        self.report()?;
        let last_idle = self.count_idle()?;
        self.wait_begins("in give_more for work")?;
        let started = *self.idle_since.insert(Instant::now());
        self.hunted_while_idle = false;
        self.first_knock = true;
        let topology = self.atomics.topology();
        let mut backoff =
            Backoff::for_role(topology.multi_node(), topology.is_leader(), self.direct);
        // Across nodes the end of a run passes through idle ranks' short
        // sleeps: not 50 µs late each (`crate::clock::PreciseSleeps`).
        let _precise =
            (topology.multi_node() && !MODEL_CHECKING).then(crate::clock::PreciseSleeps::begin);
        let mut victim = None;
        let mut sweep = Sweep::new(self.atomics.topology().mates(), self.me());
        let mut hunting = false;
        let mut first_round = true;
        // Whether this rank saw its node all idle and forwarded for it.
        let mut forwarded = false;
        let found = loop {
            sweep.begin_attempt(&self.atomics);
            self.atomics.progress()?;
            self.watch()?;
            self.poll()?;
            self.receive_gift()?;
            // (The stash holds only units from other nodes.)
            if let Some(loot) = self.stash.pop() {
                break Some(self.keep(loot, &want, How::Remote)?);
            }
            if self.is_finished()? {
                if self.may_answer(&mut backoff, &mut sweep) {
                    break None;
                }
                continue;
            }
            if self.multi_node() {
                // Not once finished: the hunter may have left, and on some
                // stacks an operation on a rank outside MPI blocks.
                self.serve_offer(false)?;
            }
            if self.atomics.size() < 2 {
                // Alone, a rank that ran dry has done everything: its report
                // finished the run. Getting here means the counts are wrong.
                return Err(Error::internal(
                    "a single rank ran dry before the run finished",
                ));
            }
            if self.atomics.topology().mates().len() > 1 {
                match self.try_a_mate(&mut sweep, &mut victim)? {
                    Steal::Success(loot) => break Some(self.keep(loot, &want, How::Steal)?),
                    Steal::Empty => {
                        // On shared memory a look at a node-mate costs a
                        // load, and with direct steals (for passive RMA) a
                        // round trip that waits for nobody: finish the
                        // sweep before backing off, so that the last
                        // node-mate with work is found at once, not after
                        // sleeps of up to a millisecond.
                        // (Also in the first round of a rank that found
                        // its node all idle, before it forwards: skipping
                        // the sweep there ended runs 3-10 µs sooner in the
                        // simulator, but left block jobs at 64 ranks at
                        // 0.987 against 0.990 over 30 seeds.)
                        let cheap = self.atomics.node_words_passive() || self.direct;
                        if cheap && !sweep.node_dry() {
                            continue;
                        }
                    }
                    Steal::Retry => continue,
                }
            }
            let just_reported = std::mem::take(&mut first_round);
            // In its first round a rank forwards only if its whole node was
            // idle or, on a node of two, its one node-mate was empty (see
            // "Forward"): its first sweep now covers the whole node, and
            // every rank that runs dry must not send its own add up.
            let first_forward = just_reported
                && (last_idle || sweep.node_dry() && self.atomics.topology().mates().len() == 2);
            if self.multi_node() && (sweep.node_dry() || first_forward) {
                // The node's count goes at once when all of its ranks are
                // idle (the end of a run waits for it): seen by the rank
                // whose report came last, or, once, by a rank whose sweep
                // found the node dry (a node-mate counted in late); else
                // only through the node's hunter, one rank per node (see
                // "Forward").
                let all_idle = just_reported && last_idle
                    || sweep.node_dry() && !forwarded && self.node_all_idle()?;
                forwarded |= all_idle;
                hunting = hunting || self.become_hunter()?;
                self.forward_if_due(first_forward || all_idle, hunting)?;
                if self.direct {
                    if let Some(loot) = self.steal_remote()? {
                        break Some(self.keep(loot, &want, How::Remote)?);
                    }
                    if self.finished {
                        // Its attempts saw the end: answer now, not after
                        // a sleep.
                        continue;
                    }
                } else if self.knocks_now() {
                    // Every idle rank of a dry node knocks (see "Knocks").
                    self.knock_remote()?;
                } else if hunting {
                    self.hunt_remote()?;
                    self.hunted_while_idle = true;
                }
            }
            self.snooze(&mut backoff, &mut sweep, started.elapsed());
        };
        self.leave_idle(hunting)?;
        Ok(found)
    }

    /// The end of an idle round that found nothing, `idle` into the idle
    /// period.
    fn snooze(&self, backoff: &mut Backoff, sweep: &mut Sweep, idle: Duration) {
        if MODEL_CHECKING {
            sweep.nothing_found(&self.atomics);
        } else {
            // Sleep on our Finished word: the finisher wakes us. Not past
            // the moment a value settles (see `settle`).
            let (atomics, seen) = (&self.atomics, self.finished_seen);
            let cap = self.settle_wait().unwrap_or(Duration::MAX);
            backoff.idle_for(idle);
            backoff.snooze_with(|d| atomics.wait(Slot::Finished, seen, d.min(cap)));
        }
    }

    /// Once the run is over: whether this rank may answer "no more" now.
    /// Not in a flat end while its forwards (or, on the leader, its flush)
    /// are in flight: they carry counts that the other node's leader needs
    /// to end its run, and MPI promises their progress only while this
    /// rank is in MPI (osc/pt2pt keeps a short operation at its origin
    /// until its next call). That leader waits for them in `give_more`, so
    /// they complete; meanwhile this rank backs off for a round, and its
    /// rounds go on serving and polling, its watchdog included.
    fn may_answer(&mut self, backoff: &mut Backoff, sweep: &mut Sweep) -> bool {
        if self.reports.is_empty() {
            return true;
        }
        self.took(Path::FinishAwaitsForwards);
        if MODEL_CHECKING {
            sweep.nothing_found(&self.atomics);
        } else {
            // A plain sleep, not `snooze`'s wait on `Finished`: a leader
            // that told its node never read that word, so `finished_seen`
            // is stale and the wait would return at once.
            backoff.snooze_with(crate::clock::sleep);
        }
        false
    }

    /// [`Protocol::find_work`]'s end, with work or without: says so in
    /// `Waiting[me]`, stops hunting, leaves the node's idle count and the
    /// watchdog's wait, and counts the time idle.
    fn leave_idle(&mut self, hunting: bool) -> Result<()> {
        let started = self.idle_since.take();
        self.drop_knocks(!self.finished)?;
        self.publish_own_range()?;
        if hunting {
            self.stop_hunting()?;
        }
        self.uncount_idle()?;
        self.wait_ends()?;
        let waited = started.map_or(Duration::ZERO, |t| t.elapsed());
        self.counters.idle += waited;
        self.counters.longest_idle = self.counters.longest_idle.max(waited);
        Ok(())
    }

    /// One steal attempt on a node-mate while idle: the one that made the
    /// last attempt retry (it has work), else one not yet found empty in
    /// `sweep`, else any; `sweep` and `victim` record the outcome.
    fn try_a_mate(&mut self, sweep: &mut Sweep, victim: &mut Option<usize>) -> Result<Steal> {
        let target = match victim.take().or_else(|| sweep.unswept(&mut self.rng)) {
            Some(v) => v,
            None => pick(
                &mut self.rng,
                self.atomics.topology().mates(),
                self.atomics.rank(),
            ),
        };
        let steal = self.steal(target)?;
        match steal {
            Steal::Success(_) => {}
            Steal::Empty => sweep.found_empty(target),
            Steal::Retry => {
                sweep.found_work();
                *victim = Some(target);
            }
        }
        Ok(steal)
    }

    /// Polls every started operation (takes: units go to the stash;
    /// reports: on one node the last one finishes the run; operations nobody
    /// waits for), then, while idle, whether the run ended (a leader's
    /// `Told`, rank 0's `Done`).
    fn poll(&mut self) -> Result<()> {
        self.poll_started()?;
        self.poll_count_look()?;
        self.relay()
    }

    /// Polls the started operations. In `give_more` this is all: the run
    /// cannot end while this rank holds a unit, so `relay` has nothing to do
    /// (and `relay` runs only in the idle loop).
    fn poll_started(&mut self) -> Result<()> {
        self.poll_takes()?;
        self.poll_answers()?;
        self.poll_gifts()?;
        self.poll_reports()?;
        self.poll_in_flight()
    }

    /// Whether this rank keeps its node's `Idle` count: across nodes, on a
    /// node of several ranks (alone, a rank is always its node's last) other
    /// than rank 0's (which sends no counts: rank 0 reads them; in a flat
    /// end it sends them like the other node), and never
    /// under a model checker, whose schedules stay smaller with the
    /// node's hunter as the main forwarder (with first-round forwards on
    /// nodes of two, and ranks that see a look through: see "Forward").
    fn counts_idle(&self) -> bool {
        self.multi_node()
            && self.atomics.topology().mates().len() > 1
            && !MODEL_CHECKING
            && (self.flat || !self.on_done_node())
    }

    /// Across nodes, counts this rank among its node's idle ranks
    /// (`Idle[l]`, after its report; a rank that began the run without
    /// units is counted already): whether every rank of its node is idle
    /// now, so that this rank's forward carries every report of the node
    /// (see "Forward"). `>=`, not `==`: a `give_more` that failed with an
    /// error may have left a rank counted, and a forward too many is
    /// harmless. Also begins the wait before this rank may send counts
    /// while part of its node is busy (see `may_send_counts`).
    fn count_idle(&mut self) -> Result<bool> {
        self.partial_send_at = Some(Instant::now() + PARTIAL_SEND_EVERY);
        if !self.counts_idle() {
            // Alone on its node a rank is its node's last; on one node, or
            // under a model checker, nobody forwards at once.
            return Ok(self.multi_node() && !MODEL_CHECKING);
        }
        if self.idle_counted {
            return self.node_all_idle();
        }
        self.idle_counted = true;
        let before = self.atomics.fetch_add(self.leader(), Slot::Idle, 1)?;
        Ok(before + 1 >= self.atomics.topology().mates().len() as u64)
    }

    /// Whether every rank of this rank's node is idle now (this one being
    /// counted): a read of `Idle[l]`.
    fn node_all_idle(&self) -> Result<bool> {
        if !self.idle_counted {
            return Ok(false);
        }
        let mates = self.atomics.topology().mates().len() as u64;
        Ok(self.atomics.load(self.leader(), Slot::Idle)? >= mates)
    }

    /// Whether the node's counts may go up the node tree now, in a round of
    /// its hunter, of a rank that holds a look at the counts' target, or of
    /// a leader's carry: where the node keeps its `Idle`
    /// count, only while every rank of the node is idle. Before, the run
    /// cannot end (a rank of the node is busy, or has not yet counted in
    /// and is about to), so counts sent then only cost their targets
    /// service time: the simulator showed a leader's `Done` word on
    /// software RMA receiving one add per report of its children's ranks,
    /// 500 of them in the last 5 ms of a run of 4,096 ranks, each a slice
    /// of the leader's time.
    ///
    /// Not only then, though: a rank whose units thieves took before its
    /// first `give_more` of the run counts itself in only at that call, and
    /// until then its node would hold back its counts and, on a node with
    /// children, theirs. So while part of the node is not idle the counts
    /// go up once after this rank was idle for [`PARTIAL_SEND_EVERY`], and
    /// then at most once per that period: a rank late in that way delays
    /// the end by about that much per hop of the tree, not until it comes.
    fn may_send_counts(&mut self) -> Result<bool> {
        if !self.counts_idle() || self.node_all_idle()? {
            return Ok(true);
        }
        let now = Instant::now();
        match self.partial_send_at {
            Some(at) if now >= at => {
                self.partial_send_at = Some(now + PARTIAL_SEND_EVERY);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Takes this rank out of its node's idle ranks when it leaves the
    /// idle loop (with work, or at the end of the run), and ends its
    /// partial sends and its look at the counts' target.
    fn uncount_idle(&mut self) -> Result<()> {
        self.partial_send_at = None;
        self.drop_count_look();
        if !std::mem::take(&mut self.idle_counted) {
            return Ok(());
        }
        self.atomics
            .fetch_add(self.leader(), Slot::Idle, u64::MAX)
            .map(drop)
    }

    fn cas(&self, target: usize, expected: RangeWord, new: RangeWord) -> Result<RangeWord> {
        let seen =
            self.atomics
                .compare_and_swap(target, Slot::Range, expected.bits(), new.bits())?;
        Ok(RangeWord::from_bits(seen))
    }
}

/// A uniformly random element of `ranks` other than `me`, which must hold
/// another rank.
fn pick(rng: &mut Rng, ranks: &[usize], me: usize) -> usize {
    let others = ranks.len() - usize::from(ranks.contains(&me));
    let mut i = rng.below(others as u64) as usize;
    for &r in ranks {
        if r == me {
            continue;
        }
        if i == 0 {
            return r;
        }
        i -= 1;
    }
    unreachable!("`ranks` holds another rank")
}

/// Polls `ops` (serving others' operations on `atomics`' words meanwhile,
/// backing off between rounds) until all took effect or `until` passed;
/// those left stay in `ops`.
pub(crate) fn await_ops<A: Atomics>(
    atomics: &A,
    ops: &mut Vec<Pending>,
    until: Option<Instant>,
) -> Result<()> {
    let mut backoff = Backoff::new(idle::MAX_SLEEP_OF_LEADERS);
    loop {
        atomics.progress()?;
        poll_all(ops)?;
        if ops.is_empty() || until.is_some_and(|t| Instant::now() >= t) {
            return Ok(());
        }
        backoff.snooze_with(crate::clock::sleep);
    }
}

#[cfg(test)]
mod tests;
