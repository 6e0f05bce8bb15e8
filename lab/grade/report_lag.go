package grade

import (
	"fmt"
	"strings"

	"github.com/raftlab/raftlab/raft"
)

// A command that is not applied in time is a liveness failure: the report
// can only say what did not happen. This file adds what the trace shows
// about each server that lags — what the leader sent it since the command
// was proposed, and what it answered — and the rule that governs what the
// leader should have sent, when the trace shows which one.

// linkCount counts what one server sent another.
type linkCount struct {
	appends, carrying, installs, refusals uint64
	last                                  *raft.Message // the last AppendEntries sent (the lab never reuses a sent message)
	lastSeq                               uint64
	samePrev                              uint64 // how many AppendEntries in a row, up to the last, had its prevLogIndex
}

// linkWatch holds a linkCount for each two servers (from*n+to).
type linkWatch struct {
	n     int
	links []linkCount
}

// noteLinks counts AppendEntries, InstallSnapshot and refusals.
func (h *Harness) noteLinks(e *raft.Event) {
	if e.Kind != raft.EvSend || e.Msg == nil {
		return
	}
	m := e.Msg
	if m.Type != raft.AppendEntries && m.Type != raft.InstallSnapshot && (m.Type != raft.AppendEntriesReply || m.Success) {
		return
	}
	w := &h.links
	if w.n == 0 {
		w.n = len(h.connected) + 1
		w.links = make([]linkCount, w.n*w.n)
	}
	from, to := int(m.From), int(m.To)
	if from >= w.n || to >= w.n {
		return
	}
	switch l := &w.links[from*w.n+to]; m.Type {
	case raft.AppendEntries:
		l.appends++
		if len(m.Entries) > 0 {
			l.carrying++
		}
		if l.last != nil && l.last.PrevLogIndex == m.PrevLogIndex {
			l.samePrev++
		} else {
			l.samePrev = 1
		}
		l.last, l.lastSeq = m, e.Seq
	case raft.InstallSnapshot:
		l.installs++
	case raft.AppendEntriesReply:
		l.refusals++
	}
}

// linkMark is the counts at one moment, to count from.
func (h *Harness) linkMark() []linkCount {
	return append([]linkCount(nil), h.links.links...)
}

// lagStory tells, for the servers that did not apply index since mark,
// what the leader sent them and what they answered.
func (h *Harness) lagStory(mark []linkCount, index uint64) string {
	w := &h.links
	leader, led := h.sim.View().Leader()
	if leader == raft.None || !h.live(leader) || w.n == 0 {
		return ""
	}
	lst := h.Status(leader)
	var parts []string
	for _, f := range h.ids() {
		if f == leader || !h.live(f) {
			continue
		}
		if _, ok := h.sim.AppliedAt(f, index); ok {
			continue
		}
		st := h.Status(f)
		now := w.links[int(leader)*w.n+int(f)]
		var was, back linkCount
		if k := int(leader)*w.n + int(f); k < len(mark) {
			was = mark[k]
		}
		if k := int(f)*w.n + int(leader); k < len(mark) {
			back = mark[k]
		}
		refusals := w.links[int(f)*w.n+int(leader)].refusals - back.refusals
		appends, carrying, installs := now.appends-was.appends, now.carrying-was.carrying, now.installs-was.installs
		story := fmt.Sprintf("%v, its log through index %d, commitIndex %d, did not apply index %d. Since the command was proposed, %v, leader of term %d "+
			"with its log through index %d", f, st.LastIndex(), st.CommitIndex, index, leader, led, lst.LastIndex())
		if lst.SnapshotIndex > 0 {
			story += fmt.Sprintf(" (compacted through index %d)", lst.SnapshotIndex)
		}
		story += fmt.Sprintf(", sent %v %d AppendEntries, %d of them carrying entries", f, appends, carrying)
		if appends > 0 && now.last != nil {
			story += fmt.Sprintf(" (the last: %v, event #%d)", *now.last, now.lastSeq)
		}
		story += fmt.Sprintf(", and %d InstallSnapshot; %v answered with %d refusals", installs, f, refusals)
		switch {
		case lst.SnapshotIndex > 0 && st.LastIndex() < lst.SnapshotIndex && installs == 0:
			story += fmt.Sprintf(". %v needs the entries from index %d on, and %v has discarded those through index %d in its snapshot: no AppendEntries can carry them. "+
				"Section 7: the leader uses a new RPC called InstallSnapshot to send snapshots to followers that are too far behind (Figure 13) — "+
				"when the entry at nextIndex − 1 is compacted, send InstallSnapshot instead of AppendEntries", f, st.LastIndex()+1, leader, lst.SnapshotIndex)
		case appends > 0 && carrying == 0 && lst.LastIndex() > st.LastIndex():
			story += fmt.Sprintf(". None carried an entry, though %v holds entries through %d and %v only through %d. "+
				"Figure 2, rules for leaders: if last log index ≥ nextIndex for a follower: send AppendEntries RPC with log entries starting at nextIndex", leader, lst.LastIndex(), f, st.LastIndex())
			if lst.SnapshotIndex > 0 {
				story += fmt.Sprintf(" — after compaction %v's log holds only the entries after index %d (section 7), so the entry at index i is the (i − %d)th it holds", leader, lst.SnapshotIndex, lst.SnapshotIndex)
			}
		case refusals >= 2 && now.last != nil && min(now.samePrev, appends) >= 2 && 2*min(now.samePrev, appends) > refusals:
			story += fmt.Sprintf(". Yet the last %d of those AppendEntries all had prevLogIndex %d. "+
				"Figure 2, rules for leaders: if AppendEntries fails because of log inconsistency: decrement nextIndex and retry", min(now.samePrev, appends), now.last.PrevLogIndex)
		}
		parts = append(parts, story)
	}
	if len(parts) == 0 {
		return ""
	}
	return "\n    " + strings.Join(parts, "\n    ")
}
