package lab

import (
	"bytes"
	"testing"
	"time"
)

// FuzzReadTrace: no file makes the trace reader panic, and a trace it
// accepts writes out again to a file it reads back the same.
func FuzzReadTrace(f *testing.F) {
	opts := Options{Nodes: 3, Seed: 2, New: newPingNode, Impl: "ping", Network: UnreliableNetwork()}
	f.Add(traceOf(f, opts, func(t testing.TB, s *Sim) {
		s.RunFor(15 * time.Millisecond)
		_ = s.Crash(2)
		_, _, _, _ = s.Propose(1, []byte("x\x00y"))
		s.RunFor(5 * time.Millisecond)
	}))
	f.Add([]byte(`{"format":"raftlab-trace","version":1,"nodes":3}` + "\n" + `{"seq":1,"t":0,"kind":"crash","node":1}` + "\n"))
	f.Add([]byte("{}\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ReadTrace(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		tw, err := NewTraceWriter(&buf, tr.Header)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tr.Events {
			tw.Write(&tr.Events[i])
		}
		if err := tw.Flush(); err != nil {
			t.Fatal(err)
		}
		again, err := ReadTrace(&buf, "again")
		if err != nil {
			t.Fatalf("a trace that was read writes out to one that is not: %v", err)
		}
		if len(again.Events) != len(tr.Events) {
			t.Fatalf("%d events became %d", len(tr.Events), len(again.Events))
		}
		for i := range tr.Events {
			a, b := tr.Events[i].AppendJSON(nil), again.Events[i].AppendJSON(nil)
			if !bytes.Equal(a, b) {
				t.Fatalf("event %d changed:\n%s\n%s", i+1, a, b)
			}
		}
	})
}
