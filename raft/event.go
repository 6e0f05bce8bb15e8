package raft

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// EventKind says what an Event records.
type EventKind uint8

// The kinds of event. A runtime records every action as an event; the safety
// checker, the graded tests, the command line and the browser all read the same
// events. docs in visualizer/PROTOCOL.md list the fields each kind carries.
const (
	_ EventKind = iota

	// A node's state changed (seen by comparing its Status before and after a call).
	EvTerm   // Node's currentTerm became Term.
	EvRole   // Node became Role in Term; Leader is the leader it knows of.
	EvVote   // Node's votedFor became Vote in Term.
	EvLog    // Node's log from Index on is now Entries (none: truncated to Index-1).
	EvCommit // Node's commitIndex became Index.

	// A node acted through its Env.
	EvSend      // Node sent Msg; it arrives (or is dropped) at time Arrive.
	EvSaveState // Node persisted currentTerm=Term, votedFor=Vote.
	EvSaveLog   // Node persisted its log from Index on as Entries.
	EvApply     // Node applied Entries[0] (index Index) to its state machine.
	EvNote      // Node wrote Text with Env.Logf.

	// The network.
	EvDeliver // Msg arrived at Node.
	EvDrop    // Msg, sent to Node, was lost; Text says why.

	// Commands from outside: tests, the command line, a browser. Step is the
	// simulator step at which each applied, so that a run can be replayed.
	EvPropose   // A client proposed Entries[0].Command to Node; Index 0 and Text if refused.
	EvCrash     // Node crashed: its volatile state is gone, its storage kept.
	EvRestart   // Node restarted from its storage.
	EvTimeout   // Node's election timer was made to expire.
	EvPartition // The network was split into Groups (one group: healed).
	EvNetwork   // The network setting Knob became Value.
	// Message-level control: Cause is the send event of Msg, the message
	// acted on; Node is where it is going.
	EvHold      // Msg was taken off the network: it waits until released or discarded.
	EvRelease   // Msg, held, was delivered now (a deliver or drop event follows).
	EvDiscard   // Msg, on its way or held, was lost now (a drop event follows).
	EvDuplicate // A copy of Msg, on its way or held, was delivered now; the original keeps its course.

	// EvViolation: a safety rule (Rule) broke at the event numbered Cause; Text explains.
	EvViolation

	// Log compaction (stage 4). Entries[0] stands for the snapshot: its
	// Index and Term are lastIncludedIndex and lastIncludedTerm, its Command
	// the snapshot's data.
	EvSnapshot // Node persisted a snapshot through Index, compacting its stored log.
	EvRestore  // Node's state machine was reset to a snapshot through Index.
	// EvCompact is a command: Node's state machine was made to hand its node
	// a snapshot of everything it applied, now.
	EvCompact
)

var eventKindNames = [...]string{
	EvTerm:      "term",
	EvRole:      "role",
	EvVote:      "vote",
	EvLog:       "log",
	EvCommit:    "commit",
	EvSend:      "send",
	EvSaveState: "save-state",
	EvSaveLog:   "save-log",
	EvApply:     "apply",
	EvNote:      "note",
	EvDeliver:   "deliver",
	EvDrop:      "drop",
	EvPropose:   "propose",
	EvCrash:     "crash",
	EvRestart:   "restart",
	EvTimeout:   "timeout",
	EvPartition: "partition",
	EvNetwork:   "network",
	EvHold:      "hold",
	EvSnapshot:  "snapshot",
	EvRestore:   "restore",
	EvCompact:   "compact",
	EvRelease:   "release",
	EvDiscard:   "discard",
	EvDuplicate: "duplicate",
	EvViolation: "violation",
}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && eventKindNames[k] != "" {
		return eventKindNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// IsCommand reports whether events of kind k are commands from outside the
// cluster, which a replay must apply again.
func (k EventKind) IsCommand() bool { return k >= EvPropose && k <= EvDuplicate || k == EvCompact }

// MarshalText writes the kind's name.
func (k EventKind) MarshalText() ([]byte, error) {
	if int(k) >= len(eventKindNames) || eventKindNames[k] == "" {
		return nil, fmt.Errorf("raft: unknown event kind %d", int(k))
	}
	return []byte(eventKindNames[k]), nil
}

// UnmarshalText reads a kind's name.
func (k *EventKind) UnmarshalText(b []byte) error {
	for i, name := range eventKindNames {
		if name != "" && name == string(b) {
			*k = EventKind(i)
			return nil
		}
	}
	return fmt.Errorf("raft: unknown event kind %q", b)
}

// Event is one thing that happened in a run. Seq numbers events from 1 in the
// order they happened; Time is the runtime's clock (virtual time in the
// simulator). Which other fields are set depends on Kind.
type Event struct {
	Seq     uint64        `json:"seq"`
	Time    time.Duration `json:"t"`
	Kind    EventKind     `json:"kind"`
	Node    NodeID        `json:"node,omitempty"`
	Msg     *Message      `json:"msg,omitempty"`
	Term    uint64        `json:"term,omitempty"`
	Role    Role          `json:"role,omitempty"`
	Leader  NodeID        `json:"leader,omitempty"`
	Vote    NodeID        `json:"vote,omitempty"`
	Index   uint64        `json:"index,omitempty"`
	Entries []Entry       `json:"entries,omitempty"`
	Groups  [][]NodeID    `json:"groups,omitempty"`
	Knob    string        `json:"knob,omitempty"`
	Value   float64       `json:"value,omitempty"`
	Rule    string        `json:"rule,omitempty"`
	Cause   uint64        `json:"cause,omitempty"`
	Text    string        `json:"text,omitempty"`
	Step    uint64        `json:"step,omitempty"`
	// Arrive (EvSend) is when the message reaches its destination, or is
	// dropped there: the network decides as the message leaves.
	Arrive time.Duration `json:"arrive,omitempty"`
}

// String is a one-line description for people:
//
//	#12 0.153s n2 deliver n1->n2 RequestVote term=1 last=0/0
func (e Event) String() string {
	s := "#" + strconv.FormatUint(e.Seq, 10) + " " + FormatTime(e.Time) + " "
	if e.Node != None {
		s += e.Node.String() + " "
	}
	s += e.Kind.String()
	switch e.Kind {
	case EvTerm:
		s += " " + strconv.FormatUint(e.Term, 10)
	case EvRole:
		s += " " + e.Role.String() + " term=" + strconv.FormatUint(e.Term, 10)
	case EvVote, EvSaveState:
		s += " term=" + strconv.FormatUint(e.Term, 10) + " votedFor=" + e.Vote.String()
	case EvLog, EvSaveLog:
		s += " from=" + strconv.FormatUint(e.Index, 10) + " " + entriesString(e.Entries)
	case EvCommit:
		s += " " + strconv.FormatUint(e.Index, 10)
	case EvApply, EvPropose:
		if len(e.Entries) > 0 {
			s += " " + e.Entries[0].String()
		}
	case EvHold, EvRelease, EvDiscard, EvDuplicate:
		s += " sent at #" + strconv.FormatUint(e.Cause, 10)
		if e.Msg != nil {
			s += " " + e.Msg.String()
		}
	case EvSend, EvDeliver, EvDrop:
		if e.Msg != nil {
			s += " " + e.Msg.String()
		}
	case EvPartition:
		s += " " + GroupsString(e.Groups)
	case EvNetwork:
		s += " " + e.Knob + "=" + strconv.FormatFloat(e.Value, 'g', -1, 64)
	case EvViolation:
		s += " " + e.Rule
	}
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

func entriesString(es []Entry) string {
	switch len(es) {
	case 0:
		return "(truncated)"
	case 1:
		return "[" + es[0].String() + "]"
	}
	return "[" + strconv.Itoa(len(es)) + " entries " + strconv.FormatUint(es[0].Index, 10) +
		".." + strconv.FormatUint(es[len(es)-1].Index, 10) + "]"
}

// GroupsString writes partition groups as {n1 n2} {n3}.
func GroupsString(groups [][]NodeID) string {
	s := ""
	for i, g := range groups {
		if i > 0 {
			s += " "
		}
		s += "{"
		for j, id := range g {
			if j > 0 {
				s += " "
			}
			s += id.String()
		}
		s += "}"
	}
	return s
}

// FormatTime writes a duration as seconds with millisecond precision: 1.234s.
func FormatTime(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "s"
}

// MarshalJSON writes the event as one JSON object. The encoding is fixed — field
// order, number formats — so that equal events always give equal bytes: traces
// of the same run compare byte for byte.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil), nil
}

// AppendJSON appends the JSON form of e to b.
func (e Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, int64(e.Time), 10)
	b = append(b, `,"kind":"`...)
	b = append(b, e.Kind.String()...)
	b = append(b, '"')
	if e.Node != None {
		b = appendIntField(b, "node", int64(e.Node))
	}
	if e.Msg != nil {
		b = append(b, `,"msg":`...)
		b = e.Msg.AppendJSON(b)
	}
	switch e.Kind {
	case EvRole:
		b = appendUintField(b, "term", e.Term)
		b = append(b, `,"role":"`...)
		b = append(b, e.Role.String()...)
		b = append(b, '"')
		b = appendIntField(b, "leader", int64(e.Leader))
	case EvVote, EvSaveState:
		b = appendUintField(b, "term", e.Term)
		b = appendIntField(b, "vote", int64(e.Vote))
	default:
		if e.Term != 0 {
			b = appendUintField(b, "term", e.Term)
		}
	}
	if e.Index != 0 || e.Kind == EvLog || e.Kind == EvSaveLog || e.Kind == EvCommit {
		b = appendUintField(b, "index", e.Index)
	}
	if e.Entries != nil || e.Kind == EvLog || e.Kind == EvSaveLog {
		b = append(b, `,"entries":[`...)
		for i, en := range e.Entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEntryJSON(b, en)
		}
		b = append(b, ']')
	}
	if e.Groups != nil {
		b = append(b, `,"groups":[`...)
		for i, g := range e.Groups {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			for j, id := range g {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, int64(id), 10)
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	if e.Knob != "" {
		b = appendStringField(b, "knob", e.Knob)
		b = append(b, `,"value":`...)
		b = strconv.AppendFloat(b, e.Value, 'g', -1, 64)
	}
	if e.Rule != "" {
		b = appendStringField(b, "rule", e.Rule)
	}
	if e.Cause != 0 {
		b = appendUintField(b, "cause", e.Cause)
	}
	if e.Text != "" {
		b = appendStringField(b, "text", e.Text)
	}
	if e.Step != 0 {
		b = appendUintField(b, "step", e.Step)
	}
	if e.Arrive != 0 {
		b = appendIntField(b, "arrive", int64(e.Arrive))
	}
	return append(b, '}')
}

// UnmarshalJSON reads what MarshalJSON writes. Fields it does not know are an error.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event // no methods: no recursion
	var p plain
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return err
	}
	*e = Event(p)
	return nil
}

// AppendJSON appends the JSON form of m to b, fields in a fixed order.
func (m Message) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, m.Type.String()...)
	b = append(b, '"')
	b = appendIntField(b, "from", int64(m.From))
	b = appendIntField(b, "to", int64(m.To))
	b = appendUintField(b, "term", m.Term)
	switch m.Type {
	case RequestVote:
		b = appendUintField(b, "lastLogIndex", m.LastLogIndex)
		b = appendUintField(b, "lastLogTerm", m.LastLogTerm)
	case AppendEntries:
		b = appendUintField(b, "prevLogIndex", m.PrevLogIndex)
		b = appendUintField(b, "prevLogTerm", m.PrevLogTerm)
		b = append(b, `,"entries":[`...)
		for i, en := range m.Entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEntryJSON(b, en)
		}
		b = append(b, ']')
		b = appendUintField(b, "leaderCommit", m.LeaderCommit)
	case RequestVoteReply:
		b = appendBoolField(b, "voteGranted", m.VoteGranted)
	case InstallSnapshot:
		b = appendUintField(b, "lastIncludedIndex", m.LastIncludedIndex)
		b = appendUintField(b, "lastIncludedTerm", m.LastIncludedTerm)
		b = append(b, `,"data":"`...)
		b = base64.StdEncoding.AppendEncode(b, m.Data)
		b = append(b, '"')
	case InstallSnapshotReply:
		b = appendUintField(b, "lastIncludedIndex", m.LastIncludedIndex)
	case AppendEntriesReply:
		b = appendBoolField(b, "success", m.Success)
		b = appendUintField(b, "matchIndex", m.MatchIndex)
		if m.ConflictIndex != 0 || m.ConflictTerm != 0 {
			b = appendUintField(b, "conflictIndex", m.ConflictIndex)
			b = appendUintField(b, "conflictTerm", m.ConflictTerm)
		}
	}
	if m.Reject != NoReason {
		b = appendStringField(b, "reject", m.Reject.String())
	}
	return append(b, '}')
}

func appendEntryJSON(b []byte, e Entry) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	b = appendUintField(b, "term", e.Term)
	if utf8.Valid(e.Command) {
		b = append(b, `,"cmd":`...)
		return append(appendJSONString(b, e.Command), '}')
	}
	b = append(b, `,"cmd64":"`...)
	b = base64.StdEncoding.AppendEncode(b, e.Command)
	return append(b, '"', '}')
}

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func appendUintField(b []byte, name string, v uint64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendUint(b, v, 10)
}

func appendIntField(b []byte, name string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

func appendBoolField(b []byte, name string, v bool) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendBool(b, v)
}

func appendStringField(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	return appendJSONString(b, v)
}
