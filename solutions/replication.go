package solutions

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

// Propose appends command to the leader's log and starts replicating it.
// Only the leader accepts commands (section 5.1).
func (r *Raft) Propose(command []byte) (index, term uint64, isLeader bool) {
	if r.role != raft.Leader {
		return 0, r.currentTerm, false
	}
	e := raft.Entry{Index: r.lastLogIndex() + 1, Term: r.currentTerm, Command: command}
	r.log = append(r.log, e)
	r.persistLog(e.Index)
	r.advanceCommitIndex() // a cluster of one commits at once
	// Send at once rather than wait for the next heartbeat.
	for i := range r.peers {
		r.sendAppendEntries(i)
	}
	return e.Index, e.Term, true
}

// initLeaderState sets up the leader's view of each follower (Figure 2,
// volatile state on leaders): nextIndex just past the leader's last entry,
// matchIndex 0.
func (r *Raft) initLeaderState() {
	r.nextIndex = make([]uint64, len(r.peers))
	r.matchIndex = make([]uint64, len(r.peers))
	for i := range r.peers {
		r.nextIndex[i] = r.lastLogIndex() + 1
	}
}

// sendAppendEntries sends peers[i] the entries from nextIndex on, at most
// MaxAppendEntries of them, after the entry that precedes them (prevLogIndex,
// prevLogTerm) for the consistency check. With nothing to send it is a heartbeat.
func (r *Raft) sendAppendEntries(i int) {
	prev := r.nextIndex[i] - 1
	if prev < r.snapshotIndex {
		// The entries the follower needs next are compacted away (section 7).
		r.sendInstallSnapshot(i)
		return
	}
	last := min(r.lastLogIndex(), prev+uint64(r.cfg.MaxAppendEntries))
	r.send(raft.Message{
		Type:         raft.AppendEntries,
		To:           r.peers[i],
		PrevLogIndex: prev,
		PrevLogTerm:  r.termAt(prev),
		Entries:      r.log[prev-r.snapshotIndex : last-r.snapshotIndex],
		LeaderCommit: r.commitIndex,
	})
	// nextIndex is the index of the next entry to send: count these as sent,
	// so that the next message carries what follows instead of repeating
	// them. If they are lost, the follower's refusal moves nextIndex back.
	r.nextIndex[i] = last + 1
}

// appendEntries does the log part of the AppendEntries receiver of Figure 2,
// rules 2 to 5, and returns the reply. The message is from the leader of
// currentTerm.
func (r *Raft) appendEntries(m raft.Message) raft.Message {
	reply := raft.Message{Type: raft.AppendEntriesReply, To: m.From}
	m = r.skipCompacted(m)
	// 2. Reply false if the log doesn't contain an entry at prevLogIndex whose
	// term matches prevLogTerm. Say where the logs part, so that the leader
	// can skip a whole term of entries at a time (end of section 5.3).
	if m.PrevLogIndex > r.lastLogIndex() {
		reply.Reject = raft.LogTooShort
		reply.ConflictIndex = r.lastLogIndex() + 1
		return reply
	}
	if t := r.termAt(m.PrevLogIndex); t != m.PrevLogTerm {
		reply.Reject = raft.TermMismatch
		reply.ConflictTerm = t
		reply.ConflictIndex = r.firstIndexOfTerm(m.PrevLogIndex)
		return reply
	}
	// 3. If an existing entry conflicts with a new one (same index but
	// different terms), delete the existing entry and all that follow it.
	// 4. Append any new entries not already in the log. Entries we already
	// hold are kept: a delayed AppendEntries must never shorten the log.
	for k, e := range m.Entries {
		if e.Index <= r.lastLogIndex() && r.termAt(e.Index) == e.Term {
			continue
		}
		r.log = append(r.log[:e.Index-1-r.snapshotIndex], m.Entries[k:]...)
		r.persistLog(e.Index) // before the reply: the leader counts this server as storing them
		break
	}
	// 5. If leaderCommit > commitIndex, set commitIndex =
	// min(leaderCommit, index of last new entry).
	lastNew := m.PrevLogIndex + uint64(len(m.Entries))
	if commit := min(m.LeaderCommit, lastNew); commit > r.commitIndex {
		r.commitIndex = commit
		r.applyCommitted()
	}
	reply.Success = true
	reply.MatchIndex = lastNew
	return reply
}

// firstIndexOfTerm returns the first index of the run of entries that share
// the term of the entry at index.
func (r *Raft) firstIndexOfTerm(index uint64) uint64 {
	t := r.termAt(index)
	for index > r.snapshotIndex+1 && r.termAt(index-1) == t {
		index--
	}
	return index
}

// handleAppendEntriesReply updates the leader's view of a follower (Figure 2,
// rules for leaders).
func (r *Raft) handleAppendEntriesReply(m raft.Message) {
	if r.role != raft.Leader || m.Term != r.currentTerm {
		return // a reply to a leader we no longer are
	}
	i := r.peerIndex(m.From)
	if i < 0 {
		return
	}
	if m.Success {
		// The follower's log matches ours up to m.MatchIndex. Replies can
		// arrive out of order: matchIndex only ever grows.
		r.matchIndex[i] = max(r.matchIndex[i], m.MatchIndex)
		r.nextIndex[i] = max(r.nextIndex[i], r.matchIndex[i]+1)
		r.advanceCommitIndex()
		if r.nextIndex[i] <= r.lastLogIndex() {
			r.sendAppendEntries(i) // more than one message could carry: keep going
		}
		return
	}
	if m.Reject != raft.LogTooShort && m.Reject != raft.TermMismatch {
		return
	}
	// The consistency check failed: decrement nextIndex and retry (section
	// 5.3), skipping past the conflicting term in one go.
	r.nextIndex[i] = max(r.backedUpNextIndex(m), r.matchIndex[i]+1)
	r.sendAppendEntries(i)
}

// backedUpNextIndex is where to retry after a refusal. If the follower's
// conflicting entry has a term the leader also holds, the follower's log may
// match up to the leader's last entry of that term; otherwise every entry of
// that term is skipped, back to the first index the follower holds for it.
func (r *Raft) backedUpNextIndex(m raft.Message) uint64 {
	if m.ConflictTerm != 0 {
		for index := r.lastLogIndex(); index > r.snapshotIndex; index-- {
			t := r.termAt(index)
			if t == m.ConflictTerm {
				return index + 1
			}
			if t < m.ConflictTerm {
				break
			}
		}
	}
	return max(m.ConflictIndex, 1)
}

// advanceCommitIndex is the leader's commit rule (Figure 2, rules for
// leaders): if there exists an N such that N > commitIndex, a majority of
// matchIndex[i] ≥ N, and log[N].term == currentTerm, set commitIndex = N.
// Entries of earlier terms are never committed by counting replicas (section
// 5.4.2, Figure 8): they are committed when an entry of the current term after
// them is.
func (r *Raft) advanceCommitIndex() {
	for n := r.lastLogIndex(); n > r.commitIndex && r.termAt(n) == r.currentTerm; n-- {
		count := 1 // the leader stores every entry of its log
		for _, match := range r.matchIndex {
			if match >= n {
				count++
			}
		}
		if r.isMajority(count) {
			r.commitIndex = n
			r.applyCommitted()
			return
		}
	}
}

// applyCommitted applies what has been committed and not yet applied. Figure
// 2: if commitIndex > lastApplied, increment lastApplied and apply
// log[lastApplied] to the state machine.
func (r *Raft) applyCommitted() {
	for r.lastApplied < r.commitIndex {
		r.lastApplied++
		r.env.Apply(r.log[r.lastApplied-1-r.snapshotIndex])
	}
}
