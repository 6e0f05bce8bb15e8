package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/raftlab/raftlab/raft"
)

// A trace file is JSON lines: a header that says how the run was set up, then
// one event per line, in order, then an end record that counts them.
// Together with the implementation it names, the header and the command
// events are enough to run it again exactly. The end record tells a complete
// trace from one cut short at a line boundary, which would otherwise read as
// a shorter run that "replays exactly".

// TraceVersion is the version of the trace format this package writes.
// Version 2 added the end record; version 1 files (without it) are still read.
const TraceVersion = 2

// traceEnd is the last line of a trace of version 2 or later.
type traceEnd struct {
	Format string `json:"format"` // always "raftlab-trace-end"
	Events uint64 `json:"events"`
}

const traceEndFormat = "raftlab-trace-end"

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
	// SnapshotEvery is Options.SnapshotEvery (stage 4).
	SnapshotEvery int `json:"snapshotEvery,omitempty"`
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
		Nodes: opts.Nodes, Config: cfg, Network: opts.Network, SyncTicks: opts.SyncTicks, SnapshotEvery: opts.SnapshotEvery}
}

// Options returns the Options that start the run h describes; New must still
// be set to the implementation named by h.Impl.
func (h Header) Options() Options {
	return Options{Nodes: h.Nodes, Seed: h.Seed, Impl: h.Impl, Config: h.Config, Network: h.Network, SyncTicks: h.SyncTicks, SnapshotEvery: h.SnapshotEvery}
}

// TraceWriter writes a trace as JSON lines.
type TraceWriter struct {
	w      *bufio.Writer
	buf    []byte
	err    error
	events uint64
	ended  bool
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
	if tw.ended {
		tw.err = errors.New("an event was written after the end of the trace (Flush)")
		return
	}
	tw.events++
	tw.buf = append(e.AppendJSON(tw.buf[:0]), '\n')
	_, tw.err = tw.w.Write(tw.buf)
}

// Flush ends the trace — it writes the end record, which counts the events —
// and writes out what is buffered; it returns the first error met. Call it
// once, when the run is over: a reader refuses a trace without its end
// record as cut short.
func (tw *TraceWriter) Flush() error {
	if tw.err == nil && !tw.ended {
		tw.ended = true
		line, _ := json.Marshal(traceEnd{Format: traceEndFormat, Events: tw.events}) // plain data: cannot fail
		_, tw.err = tw.w.Write(append(line, '\n'))
	}
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

// Limits on what ReadTrace accepts, so that any file is read in bounded
// time and memory.
const (
	// MaxTraceLine is the longest line ReadTrace accepts.
	MaxTraceLine = 16 << 20
	// MaxTraceBytes is the largest file.
	MaxTraceBytes = 256 << 20
	// MaxTraceEvents is the most events a trace may hold.
	MaxTraceEvents = 2_000_000
)

// ReadTrace reads a trace. A file that is truncated, corrupt, too large or
// describes a cluster the simulator will not run is refused with an error
// that names the line and says what is wrong with it, in one sentence.
func ReadTrace(r io.Reader, name string) (*Trace, error) {
	lr := &io.LimitedReader{R: r, N: MaxTraceBytes + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 64<<10), MaxTraceLine)
	t := &Trace{}
	line, blank := 0, 0
	var end *traceEnd
	bad := func(format string, args ...any) error {
		return fmt.Errorf("lab: trace %s, line %d: %s", name, line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			if err := readHeader(b, &t.Header); err != nil {
				return nil, bad("%v", err)
			}
			continue
		}
		if len(b) == 0 {
			blank++ // blank lines are allowed at the end only
			continue
		}
		if blank > 0 {
			line -= blank
			return nil, bad("empty line")
		}
		if end != nil {
			return nil, bad("a line after the end record")
		}
		if bytes.HasPrefix(b, []byte(`{"format"`)) {
			end = &traceEnd{}
			if err := strictUnmarshal(b, end); err != nil || end.Format != traceEndFormat {
				return nil, bad("not a valid end record")
			}
			if end.Events != uint64(len(t.Events)) {
				return nil, bad("the end record counts %d events, but the trace has %d", end.Events, len(t.Events))
			}
			continue
		}
		if len(t.Events) == MaxTraceEvents {
			return nil, bad("more than %d events: too long a trace to replay", MaxTraceEvents)
		}
		var e raft.Event
		if err := strictUnmarshal(b, &e); err != nil {
			return nil, bad("%v", explainJSON(err))
		}
		if err := checkEvent(&e, t.Events, t.Header.Nodes); err != nil {
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
	if lr.N == 0 {
		return nil, fmt.Errorf("lab: trace %s is larger than %d MiB: too large to replay", name, MaxTraceBytes>>20)
	}
	if line == 0 {
		return nil, fmt.Errorf("lab: trace %s is empty", name)
	}
	if end == nil && t.Header.Version >= 2 {
		return nil, fmt.Errorf("lab: trace %s ends after %d events without its end record: the file is truncated", name, len(t.Events))
	}
	return t, nil
}

// readHeader reads and checks a trace's first line: the simulator must be
// able to run the cluster it describes, within its bounds.
func readHeader(b []byte, h *Header) error {
	if err := strictUnmarshal(b, h); err != nil {
		return fmt.Errorf("not a raftlab trace header: %v", err)
	}
	switch {
	case h.Format != traceFormat:
		return fmt.Errorf("not a raftlab trace: the header's format is %q, want %q", h.Format, traceFormat)
	case h.Version < 1 || h.Version > TraceVersion:
		return fmt.Errorf("trace format version %d; this raftlab reads versions 1 to %d", h.Version, TraceVersion)
	case h.Nodes < 1 || h.Nodes > MaxNodes:
		return fmt.Errorf("the header says %d nodes; a cluster has 1 to %d", h.Nodes, MaxNodes)
	}
	o := h.Options().withDefaults()
	if err := errors.Join(o.nodeConfig(1).Validate(), checkTiming(o.Config), o.Network.Validate()); err != nil {
		return fmt.Errorf("the header describes a cluster the simulator will not run: %s", oneLine(err))
	}
	return nil
}

// oneLine joins the lines of a joined error into one sentence.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
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

// checkEvent validates what JSON alone cannot: numbering, time, node IDs,
// required fields.
func checkEvent(e *raft.Event, before []raft.Event, nodes int) error {
	if want := uint64(len(before)) + 1; e.Seq != want {
		return fmt.Errorf("event number %d, want %d: events are missing or out of order", e.Seq, want)
	}
	if e.Time < 0 {
		return fmt.Errorf("event at time %v: time starts at 0", e.Time)
	}
	if n := len(before); n > 0 && e.Time < before[n-1].Time {
		return fmt.Errorf("event at %v comes after one at %v: time goes back", e.Time, before[n-1].Time)
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
	case raft.EvCrash, raft.EvRestart, raft.EvTimeout, raft.EvCompact:
		if e.Node == raft.None {
			return fmt.Errorf("%v event names no node", e.Kind)
		}
	}
	return nil
}
