package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/raftlab/raftlab/raft"
)

// A trace file is JSON lines: a header that says how the run was set up, then
// one event per line, in order. Together with the implementation it names,
// the header and the command events are enough to run it again exactly.

// TraceVersion is the version of the trace format this package writes.
const TraceVersion = 1

// Header is the first line of a trace.
type Header struct {
	Format    string      `json:"format"` // always "raftlab-trace"
	Version   int         `json:"version"`
	Impl      string      `json:"impl"`
	Seed      uint64      `json:"seed"`
	Nodes     int         `json:"nodes"`
	Config    raft.Config `json:"config"`
	Network   Network     `json:"network"`
	SyncTicks bool        `json:"syncTicks,omitempty"`
	// Test names the graded test the run belongs to, if any.
	Test string `json:"test,omitempty"`
}

const traceFormat = "raftlab-trace"

// HeaderFor describes a run started with opts.
func HeaderFor(opts Options) Header {
	opts = opts.withDefaults()
	cfg := opts.Config
	cfg.ID, cfg.Peers = 0, nil
	return Header{Format: traceFormat, Version: TraceVersion, Impl: opts.Impl, Seed: opts.Seed,
		Nodes: opts.Nodes, Config: cfg, Network: opts.Network, SyncTicks: opts.SyncTicks}
}

// Options returns the Options that start the run h describes; New must still
// be set to the implementation named by h.Impl.
func (h Header) Options() Options {
	return Options{Nodes: h.Nodes, Seed: h.Seed, Impl: h.Impl, Config: h.Config, Network: h.Network, SyncTicks: h.SyncTicks}
}

// TraceWriter writes a trace as JSON lines.
type TraceWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

// NewTraceWriter writes h to w and returns a writer for the events.
func NewTraceWriter(w io.Writer, h Header) (*TraceWriter, error) {
	tw := &TraceWriter{w: bufio.NewWriterSize(w, 64<<10)}
	line, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("lab: writing trace header: %w", err)
	}
	if _, err := tw.w.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("lab: writing trace header: %w", err)
	}
	return tw, nil
}

// Write appends one event. Errors are kept and returned by Flush.
func (tw *TraceWriter) Write(e *raft.Event) {
	if tw.err != nil {
		return
	}
	tw.buf = append(e.AppendJSON(tw.buf[:0]), '\n')
	_, tw.err = tw.w.Write(tw.buf)
}

// Flush writes out what is buffered and returns the first error met.
func (tw *TraceWriter) Flush() error {
	if tw.err != nil {
		return fmt.Errorf("lab: writing trace: %w", tw.err)
	}
	if err := tw.w.Flush(); err != nil {
		return fmt.Errorf("lab: writing trace: %w", err)
	}
	return nil
}

// Trace is a trace read back from a file.
type Trace struct {
	Header Header
	Events []raft.Event
}

// Commands returns the trace's command events, which a replay applies again.
func (t *Trace) Commands() []raft.Event {
	var cmds []raft.Event
	for _, e := range t.Events {
		if e.Kind.IsCommand() {
			cmds = append(cmds, e)
		}
	}
	return cmds
}

// MaxTraceLine is the longest line ReadTrace accepts.
const MaxTraceLine = 16 << 20

// ReadTrace reads a trace. A file that is truncated or corrupt is refused with
// an error that names the line and what is wrong with it.
func ReadTrace(r io.Reader, name string) (*Trace, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxTraceLine)
	t := &Trace{}
	line := 0
	bad := func(format string, args ...any) error {
		return fmt.Errorf("lab: trace %s, line %d: %s", name, line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			if err := strictUnmarshal(b, &t.Header); err != nil {
				return nil, bad("not a raftlab trace header: %v", err)
			}
			h := t.Header
			switch {
			case h.Format != traceFormat:
				return nil, bad("not a raftlab trace: the header's format is %q, want %q", h.Format, traceFormat)
			case h.Version != TraceVersion:
				return nil, bad("trace format version %d; this raftlab reads version %d", h.Version, TraceVersion)
			case h.Nodes < 1 || h.Nodes > MaxNodes:
				return nil, bad("the header says %d nodes; a cluster has 1 to %d", h.Nodes, MaxNodes)
			}
			continue
		}
		if len(b) == 0 {
			return nil, bad("empty line")
		}
		var e raft.Event
		if err := strictUnmarshal(b, &e); err != nil {
			return nil, bad("%v", explainJSON(err))
		}
		if err := checkEvent(&e, uint64(len(t.Events))+1, t.Header.Nodes); err != nil {
			return nil, bad("%v", err)
		}
		t.Events = append(t.Events, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			line++
			return nil, bad("longer than %d bytes", MaxTraceLine)
		}
		return nil, fmt.Errorf("lab: reading trace %s: %w", name, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("lab: trace %s is empty", name)
	}
	return t, nil
}

func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

func explainJSON(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the line ends in the middle of an event: the file is truncated"
	}
	return "not a valid event: " + err.Error()
}

// checkEvent validates what JSON alone cannot: numbering, node IDs, required fields.
func checkEvent(e *raft.Event, wantSeq uint64, nodes int) error {
	if e.Seq != wantSeq {
		return fmt.Errorf("event number %d, want %d: events are missing or out of order", e.Seq, wantSeq)
	}
	if e.Kind == 0 {
		return errors.New("the event has no kind")
	}
	if e.Node < 0 || int(e.Node) > nodes {
		return fmt.Errorf("event about %v, but the run has nodes n1 to n%d", e.Node, nodes)
	}
	switch e.Kind {
	case raft.EvSend, raft.EvDeliver, raft.EvDrop:
		if e.Msg == nil {
			return fmt.Errorf("%v event without a message", e.Kind)
		}
		if e.Msg.From < 1 || int(e.Msg.From) > nodes || e.Msg.To < 1 || int(e.Msg.To) > nodes {
			return fmt.Errorf("message %v names a node outside n1..n%d", e.Msg, nodes)
		}
	case raft.EvPropose, raft.EvApply:
		if len(e.Entries) != 1 {
			return fmt.Errorf("%v event with %d entries, want 1", e.Kind, len(e.Entries))
		}
	case raft.EvPartition:
		for _, g := range e.Groups {
			for _, id := range g {
				if id < 1 || int(id) > nodes {
					return fmt.Errorf("partition names %v, outside n1..n%d", id, nodes)
				}
			}
		}
	case raft.EvCrash, raft.EvRestart, raft.EvTimeout:
		if e.Node == raft.None {
			return fmt.Errorf("%v event names no node", e.Kind)
		}
	}
	return nil
}
