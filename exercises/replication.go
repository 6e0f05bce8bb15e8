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
	// TODO(stage 2): a server that is not the leader returns
	// (0, currentTerm, false). The leader appends an entry with the next
	// index and currentTerm, saves it with r.persistLog(index), calls
	// r.advanceCommitIndex() (a cluster of one commits at once), sends
	// AppendEntries to every peer right away, and returns (index, term, true).
	r.todo(2)
	return 0, r.currentTerm, false
}

// initLeaderState sets up the leader's view of each follower (Figure 2,
// volatile state on leaders): nextIndex just past the leader's last entry,
// matchIndex 0.
func (r *Raft) initLeaderState() {
	// TODO(stage 2): make r.nextIndex and r.matchIndex, one slot per peer.
	r.todo(2)
}

// sendAppendEntries sends peers[i] the entries from nextIndex on, at most
// MaxAppendEntries of them, after the entry that precedes them (prevLogIndex,
// prevLogTerm) for the consistency check. With nothing to send it is a heartbeat.
func (r *Raft) sendAppendEntries(i int) {
	// TODO(stage 2): send an AppendEntries with PrevLogIndex = nextIndex[i]-1,
	// its term, the entries from nextIndex[i] on (at most
	// r.cfg.MaxAppendEntries), and LeaderCommit = commitIndex. Then move
	// nextIndex[i] past the entries you sent, so that the next heartbeat
	// doesn't send them again; a refusal will move it back.
	r.todo(2)
	r.send(raft.Message{Type: raft.AppendEntries, To: r.peers[i]}) // a bare heartbeat, for stage 1
}

// appendEntries does the log part of the AppendEntries receiver of Figure 2,
// rules 2 to 5, and returns the reply. The message is from the leader of
// currentTerm.
func (r *Raft) appendEntries(m raft.Message) raft.Message {
	// TODO(stage 2): the AppendEntries receiver, rules 2 to 5 of Figure 2.
	//   2. no entry at PrevLogIndex: refuse with raft.LogTooShort and
	//      ConflictIndex = your last index + 1; an entry with another term:
	//      refuse with raft.TermMismatch, ConflictTerm = its term,
	//      ConflictIndex = the first index of that term (r.firstIndexOfTerm).
	//   3. delete an existing entry that conflicts with a new one (same index,
	//      different term) and all that follow it — but only then: a delayed
	//      AppendEntries must never shorten the log.
	//   4. append the new entries you don't have; r.persistLog(first index changed).
	//   5. if LeaderCommit > commitIndex, commitIndex = min(LeaderCommit,
	//      index of last new entry), and apply what is newly committed.
	// Reply Success with MatchIndex = PrevLogIndex + len(Entries).
	r.todo(2)
	return raft.Message{Type: raft.AppendEntriesReply, To: m.From, Success: true} // accepts every heartbeat, for stage 1
}

// firstIndexOfTerm returns the first index of the run of entries that share
// the term of the entry at index.
func (r *Raft) firstIndexOfTerm(index uint64) uint64 {
	// TODO(stage 2): walk back from index while the entry before has the same term.
	r.todo(2)
	return index
}

// handleAppendEntriesReply updates the leader's view of a follower (Figure 2,
// rules for leaders).
func (r *Raft) handleAppendEntriesReply(m raft.Message) {
	// TODO(stage 2): ignore the reply unless you are leader and m.Term is
	// currentTerm. On success, raise matchIndex to m.MatchIndex (never lower
	// it: replies arrive out of order), keep nextIndex past it, advance the
	// commit index, and send more if the follower is still behind. On a
	// refusal for the log (LogTooShort, TermMismatch), move nextIndex back
	// with r.backedUpNextIndex (never to or below matchIndex) and retry.
	r.todo(2)
}

// backedUpNextIndex is where to retry after a refusal. If the follower's
// conflicting entry has a term the leader also holds, the follower's log may
// match up to the leader's last entry of that term; otherwise every entry of
// that term is skipped, back to the first index the follower holds for it.
func (r *Raft) backedUpNextIndex(m raft.Message) uint64 {
	// TODO(stage 2): the fast backup at the end of section 5.3. If
	// m.ConflictTerm is set and your log has entries of that term, return the
	// index after your last one; otherwise return m.ConflictIndex (at least 1).
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
	// TODO(stage 2): find the highest such N (the leader itself stores every
	// entry), set commitIndex and apply. Check the term of log[N] — this is
	// the rule Figure 8 of the paper is about.
	r.todo(2)
}

// applyCommitted applies what has been committed and not yet applied. Figure
// 2: if commitIndex > lastApplied, increment lastApplied and apply
// log[lastApplied] to the state machine.
func (r *Raft) applyCommitted() {
	// TODO(stage 2): apply each entry after lastApplied up to commitIndex,
	// in order, with r.env.Apply.
	r.todo(2)
}
