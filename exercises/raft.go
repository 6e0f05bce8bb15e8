package exercises

import (
	"github.com/raftlab/raftlab/raft"
)

// Raft is one Raft server. It is a deterministic state machine: the runtime
// calls Tick, Step and Propose one at a time, and the server acts only through
// its raft.Env — sending messages, saving state, applying entries. It has no
// goroutines, no clock and no locks of its own.
//
// The fields carry the names of Figure 2 of the Raft paper.
type Raft struct {
	cfg   raft.Config
	env   raft.Env
	id    raft.NodeID
	peers []raft.NodeID // every other server, in ID order

	// Persistent state on all servers: changed in memory, then saved through
	// the Env before any message that depends on it is sent (persistence.go).
	currentTerm uint64       // latest term this server has seen
	votedFor    raft.NodeID  // candidate that received this server's vote in currentTerm, or None
	log         []raft.Entry // log entries after the snapshot; log[i-1] holds index snapshotIndex+i

	// The snapshot (stage 4, section 7): the log's compacted prefix, persisted
	// with the state above. snapshotIndex and snapshotTerm are Figure 13's
	// lastIncludedIndex and lastIncludedTerm.
	snapshotIndex uint64
	snapshotTerm  uint64
	snapshotData  []byte

	// Volatile state on all servers.
	commitIndex uint64 // index of the highest entry known to be committed
	lastApplied uint64 // index of the highest entry applied to the state machine

	// Volatile state on leaders, reinitialized after each election.
	// nextIndex[i] and matchIndex[i] are for peers[i].
	nextIndex  []uint64 // index of the next entry to send to each server
	matchIndex []uint64 // index of the highest entry known to be replicated on each server

	role   raft.Role
	leader raft.NodeID // the leader of currentTerm, once known

	// votes holds the servers that granted this candidate their vote in currentTerm.
	votes map[raft.NodeID]bool

	// Timers, counted in ticks.
	electionElapsed  int // ticks since the election timer was last reset
	electionTimeout  int // this round's randomized election timeout
	heartbeatElapsed int // ticks since the leader last sent AppendEntries to everyone
}

// New builds a server from its configuration and what it saved before it last
// stopped. It has the signature of raft.Constructor.
func New(cfg raft.Config, saved raft.Saved, env raft.Env) raft.Node {
	r := &Raft{cfg: cfg, env: env, id: cfg.ID}
	for _, id := range cfg.PeerIDs() {
		if id != cfg.ID {
			r.peers = append(r.peers, id)
		}
	}
	r.restore(saved)
	// Every server starts as a follower (section 5.2), with a fresh election timer.
	r.becomeFollower(r.currentTerm, raft.None)
	r.resetElectionTimer()
	return r
}

// Tick advances the server's clock by one tick.
func (r *Raft) Tick() {
	if r.role == raft.Leader {
		r.tickHeartbeat()
	} else {
		r.tickElection()
	}
}

// Step handles one message from another server.
func (r *Raft) Step(m raft.Message) {
	r.checkTerm(m)
	switch m.Type {
	case raft.RequestVote:
		r.handleRequestVote(m)
	case raft.RequestVoteReply:
		r.handleRequestVoteReply(m)
	case raft.AppendEntries:
		r.handleAppendEntries(m)
	case raft.AppendEntriesReply:
		r.handleAppendEntriesReply(m)
	case raft.InstallSnapshot:
		r.handleInstallSnapshot(m)
	case raft.InstallSnapshotReply:
		r.handleInstallSnapshotReply(m)
	}
}

// Status reports the server's state to the runtime.
func (r *Raft) Status() raft.Status {
	st := raft.Status{
		ID:              r.id,
		Role:            r.role,
		Term:            r.currentTerm,
		VotedFor:        r.votedFor,
		Leader:          r.leader,
		CommitIndex:     r.commitIndex,
		LastApplied:     r.lastApplied,
		Log:             r.log,
		SnapshotIndex:   r.snapshotIndex,
		SnapshotTerm:    r.snapshotTerm,
		ElectionElapsed: r.electionElapsed,
		ElectionTimeout: r.electionTimeout,
	}
	if r.role == raft.Leader && len(r.nextIndex) == len(r.peers) && len(r.matchIndex) == len(r.peers) {
		st.Progress = make([]raft.Progress, len(r.peers))
		for i, p := range r.peers {
			st.Progress[i] = raft.Progress{ID: p, NextIndex: r.nextIndex[i], MatchIndex: r.matchIndex[i]}
		}
	}
	return st
}

// lastLogIndex is the index of the last entry in the log, or 0 if it is empty.
func (r *Raft) lastLogIndex() uint64 { return r.snapshotIndex + uint64(len(r.log)) }

// lastLogTerm is the term of the last entry in the log, or 0 if it is empty.
func (r *Raft) lastLogTerm() uint64 { return r.termAt(r.lastLogIndex()) }

// termAt is the term of the entry at index, or 0 for index 0 (the empty log
// before the first entry). At snapshotIndex it is snapshotTerm; an index
// compacted away, or past the end of the log, gives 0.
func (r *Raft) termAt(index uint64) uint64 {
	if index == r.snapshotIndex {
		return r.snapshotTerm
	}
	if index < r.snapshotIndex || index > r.lastLogIndex() {
		return 0
	}
	return r.log[index-r.snapshotIndex-1].Term
}

// send sends m from this server, stamped with currentTerm.
func (r *Raft) send(m raft.Message) {
	m.From = r.id
	m.Term = r.currentTerm
	r.env.Send(m)
}

// isMajority reports whether n servers, this one included, are a majority of the cluster.
func (r *Raft) isMajority(n int) bool { return 2*n > len(r.peers)+1 }

// peerIndex returns the position of server id in r.peers, or -1.
func (r *Raft) peerIndex(id raft.NodeID) int {
	for i, p := range r.peers {
		if p == id {
			return i
		}
	}
	return -1
}
