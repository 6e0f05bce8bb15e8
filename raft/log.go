package raft

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
)

// Entry is one entry of a server's log: a command for the state machine, and the
// term when the leader received it (Figure 2). Indexes start at 1.
type Entry struct {
	Index   uint64
	Term    uint64
	Command []byte
}

// String gives the short form index/term "command".
func (e Entry) String() string {
	return strconv.FormatUint(e.Index, 10) + "/" + strconv.FormatUint(e.Term, 10) + " " + strconv.Quote(string(e.Command))
}

// Equal reports whether e and o are the same entry: same index, term and command.
func (e Entry) Equal(o Entry) bool {
	return e.Index == o.Index && e.Term == o.Term && bytes.Equal(e.Command, o.Command)
}

// entryJSON is an Entry on the wire. Commands are text in every lab and every
// browser session, so a command that is valid UTF-8 is written as a string
// ("cmd"); any other command is written in base64 ("cmd64").
type entryJSON struct {
	Index uint64  `json:"index"`
	Term  uint64  `json:"term"`
	Cmd   *string `json:"cmd,omitempty"`
	Cmd64 *string `json:"cmd64,omitempty"`
}

// MarshalJSON writes {"index":1,"term":2,"cmd":"x=1"}.
func (e Entry) MarshalJSON() ([]byte, error) {
	return appendEntryJSON(nil, e), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Cmd != nil && j.Cmd64 != nil {
		return fmt.Errorf("raft: entry %d has both cmd and cmd64", j.Index)
	}
	*e = Entry{Index: j.Index, Term: j.Term}
	switch {
	case j.Cmd != nil:
		e.Command = []byte(*j.Cmd)
	case j.Cmd64 != nil:
		c, err := base64.StdEncoding.DecodeString(*j.Cmd64)
		if err != nil {
			return fmt.Errorf("raft: entry %d: cmd64 is not base64: %w", j.Index, err)
		}
		e.Command = c
	}
	return nil
}

// HardState is the persistent state of Figure 2 that is not the log: the latest
// term the server has seen, and the candidate it voted for in that term.
type HardState struct {
	CurrentTerm uint64 `json:"currentTerm"`
	VotedFor    NodeID `json:"votedFor"`
}

// Saved is everything a server persisted before it stopped: its hard state and
// its log — and, once it has compacted (stage 4), its snapshot, with Log
// holding only the entries after Snapshot.LastIncludedIndex. A runtime reads it from Storage and hands it to the Constructor when
// the server starts again; on a first start it is empty.
type Saved struct {
	HardState HardState
	Log       []Entry
	Snapshot  Snapshot
}
