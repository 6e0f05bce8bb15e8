package solutions

import (
	"github.com/raftlab/raftlab/raft"
)

// Stage 1: leader election (section 5.2 of the Raft paper).
//
// A server is a follower, a candidate or a leader. Followers wait to hear from
// a leader; one that hears nothing for an election timeout becomes a candidate
// and asks the others for their votes; a candidate with votes from a majority
// becomes leader and sends heartbeats so that nobody else times out.

// checkTerm applies the rule for all servers of Figure 2: if an RPC request or
// response contains term T > currentTerm, set currentTerm = T and convert to
// follower. It runs before any message is handled.
func (r *Raft) checkTerm(m raft.Message) {
	if m.Term > r.currentTerm {
		r.becomeFollower(m.Term, raft.None)
	}
}

// becomeFollower makes this server a follower in term, following leader (None
// if not yet known). A new term starts with no vote cast.
func (r *Raft) becomeFollower(term uint64, leader raft.NodeID) {
	if term > r.currentTerm {
		r.currentTerm = term
		r.votedFor = raft.None
		r.persistHardState()
	}
	r.role = raft.Follower
	r.leader = leader
}

// resetElectionTimer restarts the election timer with a new timeout drawn at
// random from [ElectionTimeout, 2×ElectionTimeout). Random timeouts make it
// unlikely that two servers time out together and split the vote (section 5.2).
func (r *Raft) resetElectionTimer() {
	r.electionElapsed = 0
	n := r.cfg.ElectionTicks()
	r.electionTimeout = n + r.env.Rand().IntN(n)
}

// tickElection counts one tick on a follower's or candidate's election timer.
// Figure 2: a follower that hears from no leader and grants no vote for an
// election timeout converts to candidate; a candidate whose election times out
// starts a new one.
func (r *Raft) tickElection() {
	r.electionElapsed++
	if r.electionElapsed >= r.electionTimeout {
		r.becomeCandidate()
	}
}

// becomeCandidate starts an election (Figure 2, rules for candidates):
// increment currentTerm, vote for self, reset the election timer, and send
// RequestVote to all other servers.
func (r *Raft) becomeCandidate() {
	r.role = raft.Candidate
	r.leader = raft.None
	r.currentTerm++
	r.votedFor = r.id
	r.persistHardState()
	r.votes = map[raft.NodeID]bool{r.id: true}
	r.resetElectionTimer()
	if r.isMajority(len(r.votes)) { // a cluster of one elects itself
		r.becomeLeader()
		return
	}
	for _, p := range r.peers {
		r.send(raft.Message{
			Type:         raft.RequestVote,
			To:           p,
			LastLogIndex: r.lastLogIndex(),
			LastLogTerm:  r.lastLogTerm(),
		})
	}
}

// handleRequestVote is the RequestVote receiver of Figure 2. checkTerm has
// already brought currentTerm up to the candidate's term if it was higher.
func (r *Raft) handleRequestVote(m raft.Message) {
	reply := raft.Message{Type: raft.RequestVoteReply, To: m.From}
	switch {
	case m.Term < r.currentTerm:
		// 1. Reply false if term < currentTerm.
		reply.Reject = raft.StaleTerm
	case r.votedFor != raft.None && r.votedFor != m.From:
		// 2. Grant the vote only if votedFor is null or candidateId ...
		reply.Reject = raft.AlreadyVoted
	case !r.candidateUpToDate(m.LastLogIndex, m.LastLogTerm):
		// ... and the candidate's log is at least as up-to-date as ours.
		reply.Reject = raft.LogBehind
	default:
		r.votedFor = m.From
		r.persistHardState() // before the reply leaves: a vote must survive a crash
		r.resetElectionTimer()
		reply.VoteGranted = true
	}
	r.send(reply)
}

// candidateUpToDate reports whether a candidate whose last entry is
// lastIndex/lastTerm has a log at least as up-to-date as ours (section 5.4.1):
// the log whose last entry has the later term is more up-to-date; with equal
// last terms, the longer log is.
func (r *Raft) candidateUpToDate(lastIndex, lastTerm uint64) bool {
	if lastTerm != r.lastLogTerm() {
		return lastTerm > r.lastLogTerm()
	}
	return lastIndex >= r.lastLogIndex()
}

// handleRequestVoteReply counts a vote. Figure 2: if votes received from a
// majority of servers, become leader.
func (r *Raft) handleRequestVoteReply(m raft.Message) {
	// Only votes for this candidacy count: a reply to an earlier election, or
	// one that arrives after this election was won or lost, is ignored.
	if r.role != raft.Candidate || m.Term != r.currentTerm || !m.VoteGranted {
		return
	}
	r.votes[m.From] = true // a set: a duplicated reply is not counted twice
	if r.isMajority(len(r.votes)) {
		r.becomeLeader()
	}
}

// becomeLeader takes up leadership of currentTerm. Figure 2, rules for
// leaders: upon election, send initial empty AppendEntries RPCs (heartbeat)
// to each server.
func (r *Raft) becomeLeader() {
	r.role = raft.Leader
	r.leader = r.id
	r.initLeaderState()
	r.broadcastAppendEntries()
}

// tickHeartbeat counts one tick on a leader's heartbeat timer. Figure 2: a
// leader repeats its AppendEntries during idle periods to prevent election
// timeouts.
func (r *Raft) tickHeartbeat() {
	r.heartbeatElapsed++
	if r.heartbeatElapsed >= r.cfg.HeartbeatTicks() {
		r.broadcastAppendEntries()
	}
}

// broadcastAppendEntries sends AppendEntries to every other server, and
// restarts the heartbeat timer.
func (r *Raft) broadcastAppendEntries() {
	r.heartbeatElapsed = 0
	for i := range r.peers {
		r.sendAppendEntries(i)
	}
}

// handleAppendEntries is the AppendEntries receiver of Figure 2. The first
// rule — and recognising the leader — is election; the log is stage 2's.
func (r *Raft) handleAppendEntries(m raft.Message) {
	if m.Term < r.currentTerm {
		// 1. Reply false if term < currentTerm: the sender is a deposed
		// leader, and the term in our reply tells it so.
		r.send(raft.Message{Type: raft.AppendEntriesReply, To: m.From, Reject: raft.StaleTerm})
		return
	}
	// The sender is the leader of currentTerm. A candidate that hears from it
	// returns to follower (section 5.2); every follower resets its election
	// timer, since the leader is alive.
	r.becomeFollower(m.Term, m.From)
	r.resetElectionTimer()
	r.send(r.appendEntries(m))
}
