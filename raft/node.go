package raft

import (
	"fmt"
	"math/rand/v2"
)

// Node is a Raft server as a deterministic state machine. A runtime drives it —
// the simulator in package lab, or the real-time Runtime in this package — by
// calling its methods one at a time, never concurrently. A Node never starts a
// goroutine, reads a clock, sleeps, takes a lock or uses the global random
// source: it acts only through the Env it was built with.
type Node interface {
	// Tick advances the node's logical clock by one TickInterval. Election and
	// heartbeat timeouts are counted in ticks.
	Tick()
	// Step handles one message that arrived from another server.
	Step(m Message)
	// Propose asks the node to add command to the replicated log. A leader
	// appends it and returns the index it will have if it is ever committed, the
	// current term and true. Any other server returns isLeader false.
	Propose(command []byte) (index, term uint64, isLeader bool)
	// Status reports what an observer may see. It must not change the node.
	Status() Status
}

// Constructor builds a node: cfg says who it is and who its peers are, saved is
// what it persisted before it last stopped (empty on a first start), and env is
// its only way to act. cfg has been validated.
type Constructor func(cfg Config, saved Saved, env Env) Node

// Env is everything a node may do. A runtime carries out a node's actions in
// the order it called these methods: a node that persists its state before it
// sends a reply can rely on the state being stored before the reply leaves.
//
// Nodes must not keep slices they pass in: a runtime copies what it keeps.
type Env interface {
	// Send sends m to m.To. Delivery is not guaranteed: the network may lose,
	// delay, duplicate or reorder it.
	Send(m Message)
	// SaveHardState stores currentTerm and votedFor durably.
	SaveHardState(hs HardState)
	// SaveLog stores the log from index from on: entries replace whatever the
	// stored log held at from and after. SaveLog(5, nil) deletes entries 5 and up;
	// SaveLog(lastIndex+1, newEntries) appends.
	SaveLog(from uint64, entries []Entry)
	// Apply delivers a committed entry to the state machine. Entries must be
	// applied in index order, each once, and only once committed.
	Apply(e Entry)
	// Rand is the node's source of randomness, seeded by the runtime so that
	// runs can be replayed.
	Rand() *rand.Rand
	// Logf records a note in the trace, where the timeline and test failures show it.
	Logf(format string, args ...any)
}

// Role is a server's role: follower, candidate or leader (Figure 4).
type Role uint8

// The roles of Figure 4. The zero Role is Follower: every server starts as one.
const (
	Follower Role = iota
	Candidate
	Leader
)

var roleNames = [...]string{Follower: "follower", Candidate: "candidate", Leader: "leader"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) {
	if int(r) >= len(roleNames) {
		return nil, fmt.Errorf("raft: unknown role %d", int(r))
	}
	return []byte(roleNames[r]), nil
}

// UnmarshalText reads a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	for i, name := range roleNames {
		if name == string(b) {
			*r = Role(i)
			return nil
		}
	}
	return fmt.Errorf("raft: unknown role %q (want follower, candidate or leader)", b)
}

// Status is what an observer may read of a node: the state of Figure 2 and the
// progress of its election timer.
type Status struct {
	ID   NodeID `json:"id"`
	Role Role   `json:"role"`
	// Term is currentTerm.
	Term     uint64 `json:"term"`
	VotedFor NodeID `json:"votedFor"`
	// Leader is the leader this node knows of in Term, or None.
	Leader      NodeID `json:"leader"`
	CommitIndex uint64 `json:"commitIndex"`
	LastApplied uint64 `json:"lastApplied"`
	// SnapshotIndex and SnapshotTerm are lastIncludedIndex and
	// lastIncludedTerm of the node's snapshot (stage 4), 0 before any.
	SnapshotIndex uint64 `json:"snapshotIndex,omitempty"`
	SnapshotTerm  uint64 `json:"snapshotTerm,omitempty"`
	// Log is the node's log after its snapshot, Log[i-1] holding index
	// SnapshotIndex+i. It may share memory with
	// the node: read it before calling the node again, and never modify it.
	Log []Entry `json:"log"`
	// ElectionElapsed counts the ticks since the election timer was last reset;
	// the node starts an election when it reaches ElectionTimeout.
	ElectionElapsed int `json:"electionElapsed"`
	ElectionTimeout int `json:"electionTimeout"`
	// Progress is, on a leader, nextIndex and matchIndex for each other server.
	Progress []Progress `json:"progress,omitempty"`
}

// LastIndex is the index of the last entry of the log, or 0.
func (s Status) LastIndex() uint64 { return s.SnapshotIndex + uint64(len(s.Log)) }

// LastTerm is the term of the last entry of the log, or 0.
func (s Status) LastTerm() uint64 {
	if len(s.Log) == 0 {
		return s.SnapshotTerm
	}
	return s.Log[len(s.Log)-1].Term
}

// Progress is what a leader knows of one follower (Figure 2, volatile state on leaders).
type Progress struct {
	ID NodeID `json:"id"`
	// NextIndex is the index of the next log entry to send to that server.
	NextIndex uint64 `json:"nextIndex"`
	// MatchIndex is the index of the highest log entry known to be replicated there.
	MatchIndex uint64 `json:"matchIndex"`
}
