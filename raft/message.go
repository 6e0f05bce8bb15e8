package raft

import (
	"fmt"
	"strconv"
	"strings"
)

// NodeID names a server. IDs start at 1; 0 means "nobody" (no vote cast, no leader known).
type NodeID int

// None is the NodeID of nobody: votedFor before a vote is cast, a leader nobody knows.
const None NodeID = 0

// String gives the short form used everywhere: n1, n2, … and "none" for 0.
func (id NodeID) String() string {
	if id == None {
		return "none"
	}
	return "n" + strconv.Itoa(int(id))
}

// MessageType is the kind of a Raft RPC: a request or its reply.
type MessageType uint8

// The RPCs of Figure 2 of the Raft paper, requests and replies, plus room for
// InstallSnapshot (section 7, Figure 13), which stage 4 uses.
const (
	RequestVote MessageType = iota + 1
	RequestVoteReply
	AppendEntries
	AppendEntriesReply
	InstallSnapshot
	InstallSnapshotReply
)

var messageTypeNames = [...]string{
	RequestVote:          "RequestVote",
	RequestVoteReply:     "RequestVoteReply",
	AppendEntries:        "AppendEntries",
	AppendEntriesReply:   "AppendEntriesReply",
	InstallSnapshot:      "InstallSnapshot",
	InstallSnapshotReply: "InstallSnapshotReply",
}

func (t MessageType) String() string {
	if int(t) < len(messageTypeNames) && messageTypeNames[t] != "" {
		return messageTypeNames[t]
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// IsReply reports whether t answers a request.
func (t MessageType) IsReply() bool {
	return t == RequestVoteReply || t == AppendEntriesReply || t == InstallSnapshotReply
}

// MarshalText writes the type's name, so traces read "AppendEntries", not 3.
func (t MessageType) MarshalText() ([]byte, error) {
	if int(t) >= len(messageTypeNames) || messageTypeNames[t] == "" {
		return nil, fmt.Errorf("raft: unknown message type %d", int(t))
	}
	return []byte(messageTypeNames[t]), nil
}

// UnmarshalText reads a type's name.
func (t *MessageType) UnmarshalText(b []byte) error {
	for i, name := range messageTypeNames {
		if name != "" && name == string(b) {
			*t = MessageType(i)
			return nil
		}
	}
	return fmt.Errorf("raft: unknown message type %q (want one of RequestVote, RequestVoteReply, AppendEntries, AppendEntriesReply)", b)
}

// Reason says why a server refused a vote or an append. The reference fills it in
// on every refusal so that a trace, a test failure and the browser can all say why.
type Reason uint8

const (
	// NoReason: the request was granted, or the implementation did not say.
	NoReason Reason = iota
	// StaleTerm: the request's term is older than the receiver's currentTerm
	// (Figure 2, RequestVote and AppendEntries receiver rule 1).
	StaleTerm
	// AlreadyVoted: the receiver already voted for another candidate in this term
	// (Figure 2, RequestVote receiver rule 2).
	AlreadyVoted
	// LogBehind: the candidate's log is not at least as up-to-date as the
	// receiver's (section 5.4.1).
	LogBehind
	// LogTooShort: the receiver's log has no entry at prevLogIndex
	// (Figure 2, AppendEntries receiver rule 2).
	LogTooShort
	// TermMismatch: the receiver's entry at prevLogIndex has another term
	// (Figure 2, AppendEntries receiver rule 2).
	TermMismatch
)

var reasonNames = [...]string{
	NoReason:     "",
	StaleTerm:    "stale-term",
	AlreadyVoted: "already-voted",
	LogBehind:    "log-behind",
	LogTooShort:  "log-too-short",
	TermMismatch: "term-mismatch",
}

var reasonTexts = [...]string{
	NoReason:     "",
	StaleTerm:    "the request's term is older than currentTerm",
	AlreadyVoted: "already voted for another candidate in this term",
	LogBehind:    "the candidate's log is not as up-to-date as the voter's",
	LogTooShort:  "the log has no entry at prevLogIndex",
	TermMismatch: "the entry at prevLogIndex has a different term",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Explain gives the reason as a sentence for people.
func (r Reason) Explain() string {
	if int(r) < len(reasonTexts) {
		return reasonTexts[r]
	}
	return r.String()
}

// MarshalText writes the reason's short name.
func (r Reason) MarshalText() ([]byte, error) {
	if int(r) >= len(reasonNames) {
		return nil, fmt.Errorf("raft: unknown refusal reason %d", int(r))
	}
	return []byte(reasonNames[r]), nil
}

// UnmarshalText reads a reason's short name.
func (r *Reason) UnmarshalText(b []byte) error {
	for i, name := range reasonNames {
		if name == string(b) {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("raft: unknown refusal reason %q", b)
}

// Message is one RPC request or reply, with the fields of Figure 2 of the Raft paper.
// Fields that a type does not use stay zero.
//
// A runtime owns a Message once it is handed to Env.Send: it copies Entries, so
// the sender may reuse its log afterwards.
type Message struct {
	Type MessageType `json:"type"`
	From NodeID      `json:"from"`
	To   NodeID      `json:"to"`
	// Term is the sender's currentTerm: every RPC carries it, requests and replies.
	Term uint64 `json:"term"`

	// RequestVote: index and term of the candidate's last log entry (section 5.4.1).
	LastLogIndex uint64 `json:"lastLogIndex,omitempty"`
	LastLogTerm  uint64 `json:"lastLogTerm,omitempty"`

	// AppendEntries: the entry immediately preceding the new ones, the entries to
	// store (empty for a heartbeat), and the leader's commitIndex.
	PrevLogIndex uint64  `json:"prevLogIndex,omitempty"`
	PrevLogTerm  uint64  `json:"prevLogTerm,omitempty"`
	Entries      []Entry `json:"entries,omitempty"`
	LeaderCommit uint64  `json:"leaderCommit,omitempty"`

	// RequestVoteReply: true means the candidate received this vote.
	VoteGranted bool `json:"voteGranted,omitempty"`
	// AppendEntriesReply: true if the follower contained an entry matching
	// prevLogIndex and prevLogTerm, and now holds the entries sent.
	Success bool `json:"success,omitempty"`
	// Reject says why a vote or an append was refused.
	Reject Reason `json:"reject,omitempty"`
	// MatchIndex (successful AppendEntriesReply): the index of the last entry the
	// follower now knows to match the leader's log, prevLogIndex+len(entries).
	MatchIndex uint64 `json:"matchIndex,omitempty"`
	// ConflictTerm and ConflictIndex (refused AppendEntriesReply) let the leader
	// back up nextIndex by a whole term at a time (the optimisation at the end of
	// section 5.3). With TermMismatch, ConflictTerm is the term of the follower's
	// entry at prevLogIndex and ConflictIndex the first index it holds for that
	// term; with LogTooShort, ConflictTerm is 0 and ConflictIndex is one past the
	// follower's last entry.
	ConflictTerm  uint64 `json:"conflictTerm,omitempty"`
	ConflictIndex uint64 `json:"conflictIndex,omitempty"`

	// InstallSnapshot (Figure 13): the snapshot replaces all entries up
	// through LastIncludedIndex, whose term is LastIncludedTerm. The whole
	// snapshot travels in Data, in one message (offset 0, done true).
	// InstallSnapshotReply carries LastIncludedIndex back, so that the leader
	// knows which snapshot the follower now holds.
	LastIncludedIndex uint64 `json:"lastIncludedIndex,omitempty"`
	LastIncludedTerm  uint64 `json:"lastIncludedTerm,omitempty"`
	Data              []byte `json:"data,omitempty"`
}

// IsHeartbeat reports whether m is an AppendEntries that carries no entries.
func (m Message) IsHeartbeat() bool {
	return m.Type == AppendEntries && len(m.Entries) == 0
}

// String is the one short text form of a message, used in traces, test output
// and the browser:
//
//	n1->n2 RequestVote term=3 last=5/2
//	n2->n1 RequestVoteReply term=3 refused=already-voted
//	n1->n2 AppendEntries term=3 prev=5/2 entries=6..8 commit=5
//	n2->n1 AppendEntriesReply term=3 ok match=8
//
// A pair index/term names one log entry.
func (m Message) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v->%v %v term=%d", m.From, m.To, m.Type, m.Term)
	switch m.Type {
	case RequestVote:
		fmt.Fprintf(&b, " last=%d/%d", m.LastLogIndex, m.LastLogTerm)
	case RequestVoteReply:
		if m.VoteGranted {
			b.WriteString(" granted")
		} else {
			writeRefusal(&b, m.Reject)
		}
	case AppendEntries:
		fmt.Fprintf(&b, " prev=%d/%d", m.PrevLogIndex, m.PrevLogTerm)
		switch n := len(m.Entries); n {
		case 0:
			b.WriteString(" heartbeat")
		case 1:
			fmt.Fprintf(&b, " entries=%d", m.Entries[0].Index)
		default:
			fmt.Fprintf(&b, " entries=%d..%d", m.Entries[0].Index, m.Entries[n-1].Index)
		}
		fmt.Fprintf(&b, " commit=%d", m.LeaderCommit)
	case InstallSnapshot:
		fmt.Fprintf(&b, " last=%d/%d bytes=%d", m.LastIncludedIndex, m.LastIncludedTerm, len(m.Data))
	case InstallSnapshotReply:
		fmt.Fprintf(&b, " last=%d", m.LastIncludedIndex)
	case AppendEntriesReply:
		if m.Success {
			fmt.Fprintf(&b, " ok match=%d", m.MatchIndex)
		} else {
			writeRefusal(&b, m.Reject)
			if m.ConflictIndex != 0 || m.ConflictTerm != 0 {
				fmt.Fprintf(&b, " conflict=%d/%d", m.ConflictIndex, m.ConflictTerm)
			}
		}
	}
	return b.String()
}

func writeRefusal(b *strings.Builder, r Reason) {
	if r == NoReason {
		b.WriteString(" refused")
		return
	}
	b.WriteString(" refused=")
	b.WriteString(r.String())
}

// Size is an estimate of the message's size on a wire, in bytes: a fixed header
// plus each entry's command. Budgets in the graded suites count it.
func (m Message) Size() int {
	n := 48 + len(m.Data)
	for _, e := range m.Entries {
		n += 16 + len(e.Command)
	}
	return n
}

// Clone returns m with its own copy of Entries. Commands are shared: nothing
// modifies a command once it has been proposed.
func (m Message) Clone() Message {
	if len(m.Entries) > 0 {
		m.Entries = append([]Entry(nil), m.Entries...)
	}
	return m
}

// MarshalJSON writes the message with its fields in a fixed order.
func (m Message) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil), nil }
