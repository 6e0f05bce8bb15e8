package visualizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// ProtocolVersion is the version of the websocket protocol described in
// PROTOCOL.md. A viewer learns it from the hello frame.
const ProtocolVersion = 1

// MaxCommandBytes is the largest frame a viewer may send.
const MaxCommandBytes = 16 << 10

// MaxProposalBytes is the longest command a viewer may propose.
const MaxProposalBytes = 1024

// MaxLogEntries is the most entries one log command answers with.
const MaxLogEntries = 200

// Command is one control request from a viewer: {"op":"crash","node":2,"id":7}.
// ID is echoed in the ack or error that answers it.
type Command struct {
	ID     uint64          `json:"id,omitempty"`
	Op     string          `json:"op"`
	Node   raft.NodeID     `json:"node,omitempty"`
	Groups [][]raft.NodeID `json:"groups,omitempty"`
	Value  *float64        `json:"value,omitempty"`
	Knob   string          `json:"knob,omitempty"`
	Text   string          `json:"command,omitempty"`
	Seed   *uint64         `json:"seed,omitempty"`
	Nodes  int             `json:"nodes,omitempty"`
	Time   *int64          `json:"t,omitempty"` // seek: virtual time in nanoseconds
	Seq    *uint64         `json:"seq,omitempty"`
	Count  int             `json:"count,omitempty"`
	Name   string          `json:"name,omitempty"`
	Token  string          `json:"token,omitempty"`
	// From (log): the first log index asked for.
	From *uint64 `json:"from,omitempty"`
}

// ops lists every operation and whether it changes the run (and so needs
// the control token when one is required).
var ops = map[string]bool{
	"pause": true, "resume": true, "step": true, "speed": true,
	"crash": true, "restart": true, "timeout": true,
	"partition": true, "isolate": true, "heal": true, "network": true,
	"propose": true, "reset": true, "seek": true, "live": true, "scenario": true,
	"hold": true, "release": true, "discard": true, "duplicate": true, // one message (msgcontrol.go)
	"state": false, // ask for a fresh state frame
	"log":   false, // ask for part of a node's log (frames.go)
}

// Limits on values a viewer may send.
const (
	MinSpeed = 0.001
	MaxSpeed = 1000.0
	MaxStep  = 1000
)

// DecodeCommand reads and checks one command frame. Every error says what is
// wrong in words a person at the page can act on; it never panics.
func DecodeCommand(data []byte) (Command, error) {
	var c Command
	if len(data) > MaxCommandBytes {
		return c, fmt.Errorf("command too long: %d bytes, at most %d", len(data), MaxCommandBytes)
	}
	// JSON decoding turns invalid UTF-8 (and lone surrogate escapes) into
	// U+FFFD without a word: a proposal would be stored other than it was
	// sent. So the frame must be valid text to begin with.
	if !utf8.Valid(data) {
		return c, errors.New("malformed command: the frame is not valid UTF-8 text")
	}
	// First as an object of any fields, to name an unknown one; then as a
	// Command.
	var fields map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&fields); err != nil {
		return c, fmt.Errorf("malformed command: %s", explainJSON(err))
	}
	if d.More() {
		return c, errors.New("malformed command: more than one JSON value in the frame")
	}
	for name := range fields {
		if !commandFields[name] {
			return c, fmt.Errorf("malformed command: unknown field %q (the fields are %s)", name, commandFieldNames)
		}
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("malformed command: %s", explainJSON(err))
	}
	if _, ok := ops[c.Op]; !ok {
		return c, fmt.Errorf("unknown command %q (want one of %s)", c.Op, opNames())
	}
	if loneSurrogate(c.Text, data) {
		return c, errors.New("propose: the command is not valid UTF-8 text (it has a lone surrogate escape)")
	}
	return c, c.check()
}

// commandFields are the JSON names of Command's fields.
var commandFields, commandFieldNames = func() (map[string]bool, string) {
	m := map[string]bool{}
	var names []string
	t := reflect.TypeFor[Command]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = true
		names = append(names, name)
	}
	return m, strings.Join(names, ", ")
}()

func opNames() string {
	return "pause, resume, step, speed, crash, restart, timeout, partition, isolate, heal, network, propose, hold, release, discard, duplicate, reset, seek, live, scenario, state, log"
}

// explainJSON says what is wrong with a frame that does not decode, in the
// decoder's words but without its package name.
func explainJSON(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("want a JSON object, not %s", typ.Value)
		}
		return fmt.Sprintf("field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the frame ends in the middle of a JSON value"
	}
	return err.Error()
}

func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "a list"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "a number"
}

// loneSurrogate reports whether text holds a U+FFFD that the frame did not
// send as such: the decoder's replacement for a \ud800-style escape that is
// not half of a pair.
func loneSurrogate(text string, frame []byte) bool {
	if !strings.ContainsRune(text, utf8.RuneError) {
		return false
	}
	return !bytes.Contains(frame, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(frame), []byte(`\ufffd`))
}

// check validates the fields an operation needs; node IDs are checked
// against the cluster by the session.
func (c Command) check() error {
	need := func(ok bool, format string, args ...any) error {
		if ok {
			return nil
		}
		return fmt.Errorf("%s: "+format, append([]any{c.Op}, args...)...)
	}
	switch c.Op {
	case "speed":
		if err := need(c.Value != nil, "give the speed in \"value\" (virtual seconds per second, %g to %g)", MinSpeed, MaxSpeed); err != nil {
			return err
		}
		return need(*c.Value >= MinSpeed && *c.Value <= MaxSpeed, "speed %v is out of range: %g to %g", *c.Value, MinSpeed, MaxSpeed)
	case "log":
		if err := need(c.Node > 0 && c.From != nil && *c.From >= 1, "give \"node\" and \"from\" (a log index, 1 and up), e.g. {\"op\":\"log\",\"node\":2,\"from\":1,\"count\":100}"); err != nil {
			return err
		}
		return need(c.Count >= 0 && c.Count <= MaxLogEntries, "count %d is out of range: 1 to %d entries (0 for the most)", c.Count, MaxLogEntries)
	case "step":
		return need(c.Count >= 0 && c.Count <= MaxStep, "count %d is out of range: 1 to %d events", c.Count, MaxStep)
	case "crash", "restart", "timeout", "isolate":
		return need(c.Node > 0, "say which node in \"node\" (1 and up)")
	case "propose":
		if err := need(c.Node >= 0, "node %d: use 0 for the leader, or a node's ID", c.Node); err != nil {
			return err
		}
		if err := need(c.Text != "", "give the command to propose in \"command\""); err != nil {
			return err
		}
		return need(len(c.Text) <= MaxProposalBytes, "the command is %d bytes long; at most %d", len(c.Text), MaxProposalBytes)
	case "partition":
		if err := need(len(c.Groups) > 0, "give the groups, e.g. \"groups\":[[1,2],[3,4,5]]"); err != nil {
			return err
		}
		for _, g := range c.Groups {
			for _, id := range g {
				if err := need(id > 0, "node %d in a group: IDs start at 1", id); err != nil {
					return err
				}
			}
		}
	case "network":
		// The knob and the value are checked where the network is: in lab
		// (Network.WithKnob and Network.Validate), so that every way of
		// setting the network refuses the same things in the same words.
		return need(c.Knob != "" && c.Value != nil, "give \"knob\" and \"value\", e.g. {\"knob\":\"loss\",\"value\":0.1}")
	case "reset":
		return need(c.Nodes >= 0 && c.Nodes <= 15, "nodes %d is out of range: 1 to 15 (0 keeps the current count)", c.Nodes)
	case "seek":
		if err := need((c.Time == nil) != (c.Seq == nil), "give either \"t\" (virtual nanoseconds) or \"seq\" (an event number)"); err != nil {
			return err
		}
		if c.Time != nil {
			return need(*c.Time >= 0, "t %d: time starts at 0", *c.Time)
		}
	case "scenario":
		if _, ok := scenarios[c.Name]; !ok {
			return fmt.Errorf("scenario: unknown scenario %q (want %s)", c.Name, scenarioNames())
		}
	}
	return nil
}

// Frames the server sends. Each is one JSON object with a "type".

type helloFrame struct {
	Type      string         `json:"type"` // "hello"
	Version   int            `json:"version"`
	Impl      string         `json:"impl"`
	Control   bool           `json:"control"`
	Watchers  string         `json:"watchers,omitempty"`
	Todo      []string       `json:"todo,omitempty"`
	Scenarios []scenarioInfo `json:"scenarios"`
	// Warning: the recording replayed does not replay the same way.
	Warning string `json:"warning,omitempty"`
}

type scenarioInfo struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	What  string `json:"what"`
}

// timers is what a node's events do not tell: its election timer, and on a
// leader, what it knows of each follower. Read from the node itself.
type timers struct {
	ElectionElapsed int             `json:"electionElapsed"`
	ElectionTimeout int             `json:"electionTimeout"`
	Progress        []raft.Progress `json:"progress,omitempty"`
}

// nodeState is one node in a state frame. Log holds a window of the node's
// log, entries LogFrom to LogFrom+len(Log)-1 of LogLen, so that a frame stays
// small at any log length; a viewer asks for the rest with the log command.
type nodeState struct {
	lab.NodeView
	timers
	LogFrom uint64 `json:"logFrom"`
	LogLen  uint64 `json:"logLen"`
}

// logFrame answers a log command, to its sender only: entries From to
// From+len(Entries)-1 of node Node's log, which holds LogLen entries after
// event Seq.
type logFrame struct {
	Type    string       `json:"type"` // "log"
	ID      uint64       `json:"id,omitempty"`
	Node    raft.NodeID  `json:"node"`
	Seq     uint64       `json:"seq"`
	From    uint64       `json:"from"`
	LogLen  uint64       `json:"logLen"`
	Entries []raft.Entry `json:"entries"`
}

// clock is where a session is in its run; state and status frames carry it.
type clock struct {
	Time    time.Duration `json:"t"`
	Seq     uint64        `json:"seq"`
	Paused  bool          `json:"paused"`
	Speed   float64       `json:"speed"`
	Live    bool          `json:"live"`
	Horizon mark          `json:"horizon"`
}

type stateFrame struct {
	Type   string `json:"type"` // "state"
	Reason string `json:"reason"`
	Impl   string `json:"impl"`
	Seed   uint64 `json:"seed"`
	clock
	Config     raft.Config     `json:"config"`
	Network    lab.Network     `json:"network"`
	Groups     [][]raft.NodeID `json:"groups"`
	Nodes      []nodeState     `json:"nodes"`
	InFlight   []inFlight      `json:"inflight"`
	Violations []lab.Violation `json:"violations"`
	// History holds the timeline's events (see timelineKinds) up to the
	// horizon, from which the page draws the timeline.
	History  json.RawMessage `json:"history"`
	Scenario string          `json:"scenario,omitempty"`
	Leader   leaderMark      `json:"leader"`
}

// leaderMark is who leads, as lab.View.Leader decides it (ID 0: no one).
// The page shows it rather than deciding for itself.
type leaderMark struct {
	ID   raft.NodeID `json:"id"`
	Term uint64      `json:"term"`
}

func leaderMarkOf(v *lab.View) leaderMark {
	id, term := v.Leader()
	return leaderMark{ID: id, Term: term}
}

// mark is a point of a run: a time and an event number.
type mark struct {
	Time time.Duration `json:"t"`
	Seq  uint64        `json:"seq"`
}

type statusFrame struct {
	Type string `json:"type"` // "status"
	clock
	Nodes    []nodeTimer `json:"nodes"`
	Scenario string      `json:"scenario,omitempty"`
	Leader   leaderMark  `json:"leader"`
}

type nodeTimer struct {
	ID          raft.NodeID `json:"id"`
	LastApplied uint64      `json:"lastApplied"`
	timers
}

// branchFrame: a command from the past started a new course; events after
// Seq are forgotten.
type branchFrame struct {
	Type string        `json:"type"` // "branch"
	Seq  uint64        `json:"seq"`
	Time time.Duration `json:"t"`
}

type ackFrame struct {
	Type string `json:"type"` // "ack"
	ID   uint64 `json:"id,omitempty"`
	Op   string `json:"op"`
	Text string `json:"text,omitempty"`
}

type errorFrame struct {
	Type  string `json:"type"` // "error"
	ID    uint64 `json:"id,omitempty"`
	Op    string `json:"op,omitempty"`
	Error string `json:"error"`
}

// encode marshals a frame; frames are plain data and always encode.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(errorFrame{Type: "error", Error: "server: cannot encode a frame: " + err.Error()})
	}
	return b
}

// eventsFrame writes {"type":"events","events":[...],"leader":{...}}, each
// event with its message's key and text (see sentMessages), and who leads
// after the last of them.
func eventsFrame(events []raft.Event, sent *sentMessages, leader leaderMark) []byte {
	b := make([]byte, 0, 64+len(events)*200)
	b = append(b, `{"type":"events","events":[`...)
	for i := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = sent.appendEvent(b, &events[i])
	}
	b = fmt.Appendf(b, `],"leader":{"id":%d,"term":%d}}`, leader.ID, leader.Term)
	return b
}

// eventsJSON writes events as a JSON array.
func eventsJSON(events []raft.Event) json.RawMessage {
	return appendEvents(make([]byte, 0, 2+len(events)*120), events)
}

func appendEvents(b []byte, events []raft.Event) []byte {
	b = append(b, '[')
	for i := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = events[i].AppendJSON(b)
	}
	return append(b, ']')
}
