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
	// TODO(stage 1): if m.Term is greater than r.currentTerm, become a
	// follower in m.Term. The leader of that term is not known yet.
	r.todo(1)
}

// becomeFollower makes this server a follower in term, following leader (None
// if not yet known). A new term starts with no vote cast.
func (r *Raft) becomeFollower(term uint64, leader raft.NodeID) {
	// TODO(stage 1): if term is greater than currentTerm, move to it: set
	// currentTerm, clear votedFor (raft.None), and call r.persistHardState()
	// (it does nothing until stage 3; calling it now saves you a search
	// later). In any case set the role and the leader.
	r.todo(1)
}

// resetElectionTimer restarts the election timer with a new timeout drawn at
// random from [ElectionTimeout, 2×ElectionTimeout). Random timeouts make it
// unlikely that two servers time out together and split the vote (section 5.2).
func (r *Raft) resetElectionTimer() {
	// TODO(stage 1): set electionElapsed to 0 and electionTimeout to a random
	// number of ticks in [n, 2n), where n is r.cfg.ElectionTicks(). Draw it
	// from r.env.Rand(), never from math/rand: the lab replays runs from
	// their seed.
	r.todo(1)
}

// tickElection counts one tick on a follower's or candidate's election timer.
// Figure 2: a follower that hears from no leader and grants no vote for an
// election timeout converts to candidate; a candidate whose election times out
// starts a new one.
func (r *Raft) tickElection() {
	// TODO(stage 1): count the tick; when electionElapsed reaches
	// electionTimeout, start an election with r.becomeCandidate().
	r.todo(1)
}

// becomeCandidate starts an election (Figure 2, rules for candidates):
// increment currentTerm, vote for self, reset the election timer, and send
// RequestVote to all other servers.
func (r *Raft) becomeCandidate() {
	// TODO(stage 1):
	//   - set the role to candidate; no leader is known
	//   - increment currentTerm, vote for yourself, r.persistHardState()
	//   - r.votes = a fresh set holding your own vote
	//   - r.resetElectionTimer()
	//   - if your own vote is already a majority (r.isMajority), become leader
	//   - otherwise r.send a RequestVote to every server in r.peers, carrying
	//     LastLogIndex and LastLogTerm (r.lastLogIndex(), r.lastLogTerm())
	r.todo(1)
}

// handleRequestVote is the RequestVote receiver of Figure 2. checkTerm has
// already brought currentTerm up to the candidate's term if it was higher.
func (r *Raft) handleRequestVote(m raft.Message) {
	// TODO(stage 1): reply with a RequestVoteReply to m.From. Refuse, with
	// the reason in Reject, if
	//   1. m.Term < currentTerm                          (raft.StaleTerm)
	//   2. you voted for someone other than m.From this term (raft.AlreadyVoted)
	//   3. the candidate's log is not as up-to-date as yours (raft.LogBehind;
	//      use r.candidateUpToDate)
	// Otherwise grant it: record votedFor, r.persistHardState() BEFORE you
	// send the reply, reset your election timer, set VoteGranted.
	r.todo(1)
}

// candidateUpToDate reports whether a candidate whose last entry is
// lastIndex/lastTerm has a log at least as up-to-date as ours (section 5.4.1):
// the log whose last entry has the later term is more up-to-date; with equal
// last terms, the longer log is.
func (r *Raft) candidateUpToDate(lastIndex, lastTerm uint64) bool {
	// TODO(stage 1): compare (lastTerm, lastIndex) with your own last entry,
	// term first. Logs are empty in stage 1, but stage 2 relies on this.
	r.todo(1)
	return false
}

// handleRequestVoteReply counts a vote. Figure 2: if votes received from a
// majority of servers, become leader.
func (r *Raft) handleRequestVoteReply(m raft.Message) {
	// TODO(stage 1): count m.From's vote only if you are still a candidate,
	// m.Term is currentTerm, and the vote was granted. Networks duplicate
	// messages: r.votes is a set, so a vote counts once. With a majority,
	// r.becomeLeader().
	r.todo(1)
}

// becomeLeader takes up leadership of currentTerm. Figure 2, rules for
// leaders: upon election, send initial empty AppendEntries RPCs (heartbeat)
// to each server.
func (r *Raft) becomeLeader() {
	// TODO(stage 1): set the role and the leader (yourself), call
	// r.initLeaderState() (stage 2 fills it in), and send the first
	// heartbeats with r.broadcastAppendEntries().
	r.todo(1)
}

// tickHeartbeat counts one tick on a leader's heartbeat timer. Figure 2: a
// leader repeats its AppendEntries during idle periods to prevent election
// timeouts.
func (r *Raft) tickHeartbeat() {
	// TODO(stage 1): count the tick; once heartbeatElapsed reaches
	// r.cfg.HeartbeatTicks(), r.broadcastAppendEntries(). Not on every tick:
	// the MessageBudget test counts.
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
	// TODO(stage 1):
	//   1. if m.Term < currentTerm, reply with an AppendEntriesReply refused
	//      for raft.StaleTerm: your term tells the old leader to step down.
	//   Otherwise m comes from the leader of your term: become its follower
	//   (a candidate gives up, section 5.2), reset your election timer, and
	//   send the reply that r.appendEntries(m) returns (stage 2's work; until
	//   then it accepts every heartbeat).
	r.todo(1)
}
