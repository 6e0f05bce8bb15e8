package exercises

import (
	"github.com/raftlab/raftlab/raft"
)

// Stage 1: leader election (section 5.2 of the Raft paper).
//
// A server is a follower, a candidate or a leader. Followers wait to hear from
// a leader; one that hears nothing for an election timeout becomes a candidate
// and asks the others for their votes; a candidate with votes from a majority
// becomes leader and sends heartbeats so that nobody else times out.
//
// Start with STAGE1.md. Write the functions below in the order they appear,
// deleting each r.todo(1) call as you go: the stage-1 tests run as soon as
// the first one is gone.

// checkTerm applies the rule for all servers of Figure 2: if an RPC request or
// response contains term T > currentTerm, set currentTerm = T and convert to
// follower. It runs before any message is handled.
func (r *Raft) checkTerm(m raft.Message) {
	// TODO(stage 1): Figure 2, rules for all servers: "If RPC request or
	// response contains term T > currentTerm: set currentTerm = T, convert to
	// follower." (Hint: STAGE1.md, checkTerm.)
	r.todo(1)
}

// becomeFollower makes this server a follower in term, following leader (None
// if not yet known). A new term starts with no vote cast.
func (r *Raft) becomeFollower(term uint64, leader raft.NodeID) {
	// TODO(stage 1): Figure 2, state: currentTerm is the latest term the
	// server has seen; votedFor is the candidate that received its vote in the
	// current term (or null). Persist them before anything depends on them.
	// (Hint: STAGE1.md, becomeFollower.)
	r.todo(1)
}

// resetElectionTimer restarts the election timer with a new timeout, in ticks,
// chosen randomly from a fixed interval — the reference uses [n, 2n) with
// n = r.cfg.ElectionTicks(). Random timeouts make it unlikely that two
// servers time out together and split the vote (section 5.2).
func (r *Raft) resetElectionTimer() {
	// TODO(stage 1): section 5.2: "election timeouts are chosen randomly from
	// a fixed interval". Draw from r.env.Rand(), never from math/rand.
	// (Hint: STAGE1.md, resetElectionTimer.)
	r.todo(1)
}

// tickElection counts one tick on a follower's or candidate's election timer.
// Figure 2: a follower that hears from no leader and grants no vote for an
// election timeout converts to candidate; a candidate whose election times out
// starts a new one.
func (r *Raft) tickElection() {
	// TODO(stage 1): Figure 2, rules for followers: "If election timeout
	// elapses without receiving AppendEntries RPC from current leader or
	// granting vote to candidate: convert to candidate." Rules for candidates:
	// "If election timeout elapses: start new election." (Hint: STAGE1.md.)
	r.todo(1)
}

// becomeCandidate starts an election (Figure 2, rules for candidates):
// increment currentTerm, vote for self, reset the election timer, and send
// RequestVote to all other servers.
func (r *Raft) becomeCandidate() {
	// TODO(stage 1): Figure 2, rules for candidates: "On conversion to
	// candidate, start election: increment currentTerm, vote for self, reset
	// election timer, send RequestVote RPCs to all other servers." (Hint:
	// STAGE1.md, becomeCandidate.)
	r.todo(1)
}

// handleRequestVote is the RequestVote receiver of Figure 2. checkTerm has
// already brought currentTerm up to the candidate's term if it was higher.
func (r *Raft) handleRequestVote(m raft.Message) {
	// TODO(stage 1): Figure 2, RequestVote RPC, receiver implementation:
	//   1. Reply false if term < currentTerm.
	//   2. If votedFor is null or candidateId, and candidate's log is at
	//      least as up-to-date as receiver's log, grant vote.
	// Figure 2, persistent state: "updated on stable storage before
	// responding to RPCs". (Hint: STAGE1.md, handleRequestVote.)
	r.todo(1)
}

// candidateUpToDate reports whether a candidate whose last entry is
// lastIndex/lastTerm has a log at least as up-to-date as ours (section 5.4.1):
// the log whose last entry has the later term is more up-to-date; with equal
// last terms, the longer log is.
func (r *Raft) candidateUpToDate(lastIndex, lastTerm uint64) bool {
	// TODO(stage 1): section 5.4.1: "If the logs have last entries with
	// different terms, then the log with the later term is more up-to-date.
	// If the logs end with the same term, then whichever log is longer is
	// more up-to-date." Logs are empty until stage 2; stage 2 relies on this.
	r.todo(1)
	return false
}

// handleRequestVoteReply counts a vote. Figure 2: if votes received from a
// majority of servers, become leader.
func (r *Raft) handleRequestVoteReply(m raft.Message) {
	// TODO(stage 1): Figure 2, rules for candidates: "If votes received from
	// majority of servers: become leader." Only votes for this election count.
	// (Hint: STAGE1.md, handleRequestVoteReply.)
	r.todo(1)
}

// becomeLeader takes up leadership of currentTerm. Figure 2, rules for
// leaders: upon election, send initial empty AppendEntries RPCs (heartbeat)
// to each server.
func (r *Raft) becomeLeader() {
	// TODO(stage 1): Figure 2, rules for leaders: "Upon election: send
	// initial empty AppendEntries RPCs (heartbeat) to each server." Volatile
	// state on leaders is reinitialized after election (r.initLeaderState,
	// stage 2). (Hint: STAGE1.md, becomeLeader.)
	r.todo(1)
}

// tickHeartbeat counts one tick on a leader's heartbeat timer. Figure 2: a
// leader repeats its AppendEntries during idle periods to prevent election
// timeouts.
func (r *Raft) tickHeartbeat() {
	// TODO(stage 1): Figure 2, rules for leaders: "repeat during idle periods
	// to prevent election timeouts" — every HeartbeatTicks(), not every tick.
	r.todo(1)
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
	// TODO(stage 1): Figure 2, AppendEntries RPC, receiver implementation:
	//   1. Reply false if term < currentTerm.
	// Otherwise the sender is the leader of currentTerm. Rules for
	// candidates: "If AppendEntries RPC received from new leader: convert to
	// follower"; rules for followers: hearing from the current leader
	// restarts the election timeout. The log rules 2-5 are r.appendEntries
	// (stage 2): send the reply it returns. (Hint: STAGE1.md, handleAppendEntries.)
	r.todo(1)
}
