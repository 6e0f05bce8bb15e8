package exercises

import (
	"github.com/raftlab/raftlab/raft"
)

// Stage 2: log replication (section 5.3 of the Raft paper, with the safety
// rules of section 5.4).
//
// The leader appends each command to its log and sends the new entries to
// every follower in AppendEntries. A follower accepts entries only if its log
// holds the entry just before them (the consistency check), which keeps every
// log a prefix-match of the leader's. Once an entry of the leader's current
// term is stored on a majority it is committed, and every server applies
// committed entries in log order.
//
// Start with STAGE2.md. Until you write them, sendAppendEntries and
// appendEntries do just enough for stage 1: an empty heartbeat, accepted.

// Propose appends command to the leader's log and starts replicating it.
// Only the leader accepts commands (section 5.1).
func (r *Raft) Propose(command []byte) (index, term uint64, isLeader bool) {
	// TODO(stage 2): Figure 2, rules for leaders: "If command received from
	// client: append entry to local log". Only the leader accepts commands
	// (section 5.1): anyone else returns (0, currentTerm, false). (Hint:
	// STAGE2.md, Propose.)
	r.todo(2)
	return 0, r.currentTerm, false
}

// initLeaderState sets up the leader's view of each follower (Figure 2,
// volatile state on leaders): nextIndex just past the leader's last entry,
// matchIndex 0.
func (r *Raft) initLeaderState() {
	// TODO(stage 2): Figure 2, volatile state on leaders, "reinitialized
	// after election": nextIndex[] "initialized to leader last log index + 1",
	// matchIndex[] "initialized to 0". One slot per peer.
	r.todo(2)
}

// sendAppendEntries sends peers[i] the entries from nextIndex on, at most
// MaxAppendEntries of them, after the entry that precedes them (prevLogIndex,
// prevLogTerm) for the consistency check. With nothing to send it is a heartbeat.
func (r *Raft) sendAppendEntries(i int) {
	// TODO(stage 2): Figure 2, rules for leaders: "If last log index ≥
	// nextIndex for a follower: send AppendEntries RPC with log entries
	// starting at nextIndex" — with prevLogIndex, prevLogTerm and leaderCommit,
	// at most r.cfg.MaxAppendEntries entries. (Hint: STAGE2.md, sendAppendEntries.)
	r.todo(2)
	r.send(raft.Message{Type: raft.AppendEntries, To: r.peers[i]}) // a bare heartbeat, for stage 1
}

// appendEntries does the log part of the AppendEntries receiver of Figure 2,
// rules 2 to 5, and returns the reply. The message is from the leader of
// currentTerm.
func (r *Raft) appendEntries(m raft.Message) raft.Message {
	// TODO(stage 2): Figure 2, AppendEntries RPC, receiver implementation:
	//   2. Reply false if log doesn't contain an entry at prevLogIndex whose
	//      term matches prevLogTerm.
	//   3. If an existing entry conflicts with a new one (same index but
	//      different terms), delete the existing entry and all that follow it.
	//   4. Append any new entries not already in the log.
	//   5. If leaderCommit > commitIndex, set commitIndex =
	//      min(leaderCommit, index of last new entry) — raise it, never lower it.
	// (Hint: STAGE2.md, appendEntries.)
	r.todo(2)
	return raft.Message{Type: raft.AppendEntriesReply, To: m.From, Success: true} // accepts every heartbeat, for stage 1
}

// firstIndexOfTerm returns the first index of the run of entries that share
// the term of the entry at index. Only the optional fast backup uses it.
func (r *Raft) firstIndexOfTerm(index uint64) uint64 {
	// TODO(stage 2): for the optimisation at the end of section 5.3: the
	// first index of the run of entries whose term is the term at index. If
	// you keep Figure 2's backup (one entry per refusal), just delete the
	// r.todo(2) below.
	r.todo(2)
	return index
}

// handleAppendEntriesReply updates the leader's view of a follower (Figure 2,
// rules for leaders).
func (r *Raft) handleAppendEntriesReply(m raft.Message) {
	// TODO(stage 2): Figure 2, rules for leaders: "If successful: update
	// nextIndex and matchIndex for follower. If AppendEntries fails because of
	// log inconsistency: decrement nextIndex and retry." A reply is for the
	// leader of its term only. (Hint: STAGE2.md, handleAppendEntriesReply.)
	r.todo(2)
}

// backedUpNextIndex is where to retry after a refusal. Figure 2: one entry
// back, nextIndex-1. With the optional optimisation at the end of section
// 5.3, a whole term at a time: if the follower's conflicting entry has a term
// the leader also holds, the follower's log may match up to the leader's last
// entry of that term; otherwise every entry of that term is skipped, back to
// the first index the follower holds for it.
func (r *Raft) backedUpNextIndex(m raft.Message) uint64 {
	// TODO(stage 2): where to retry after a refusal. Figure 2: decrement
	// nextIndex (one entry); section 5.3's optimisation: skip the whole
	// conflicting term. Either is correct. (Hint: STAGE2.md, backedUpNextIndex.)
	r.todo(2)
	return 1
}

// advanceCommitIndex is the leader's commit rule (Figure 2, rules for
// leaders): if there exists an N such that N > commitIndex, a majority of
// matchIndex[i] ≥ N, and log[N].term == currentTerm, set commitIndex = N.
// Entries of earlier terms are never committed by counting replicas (section
// 5.4.2, Figure 8): they are committed when an entry of the current term after
// them is.
func (r *Raft) advanceCommitIndex() {
	// TODO(stage 2): Figure 2, rules for leaders: "If there exists an N such
	// that N > commitIndex, a majority of matchIndex[i] ≥ N, and log[N].term
	// == currentTerm: set commitIndex = N" (sections 5.3, 5.4). The leader
	// stores every entry of its own log. (Hint: STAGE2.md, advanceCommitIndex.)
	r.todo(2)
}

// applyCommitted applies what has been committed and not yet applied. Figure
// 2: if commitIndex > lastApplied, increment lastApplied and apply
// log[lastApplied] to the state machine.
func (r *Raft) applyCommitted() {
	// TODO(stage 2): Figure 2, rules for all servers: "If commitIndex >
	// lastApplied: increment lastApplied, apply log[lastApplied] to state
	// machine" — with r.env.Apply, in index order.
	r.todo(2)
}
