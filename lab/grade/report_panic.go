package grade

import (
	"fmt"
	"strings"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// A server that panics breaks No Panic, and the lab's report says where: the
// file and line of the student's code. This file adds what the trace shows
// about what the server was doing — the message it was handling, or the
// client's command, and its state just before — and the rule of Figure 2
// (or 13) that applies to that input, so that a student reads the rule, not
// only a line number. It says nothing the trace does not show: it never
// claims which rule was broken, only which ones this input is governed by.

// panicScene is what the harness saw of a server that panicked.
type panicScene struct {
	crash uint64 // the crash event the panic became
	node  raft.NodeID
	// msg is the message the server was handling (a Step), delivered at
	// event msgSeq; command is the client's command (a Propose).
	msg       *raft.Message
	msgSeq    uint64
	command   *string
	was       lab.NodeView // its state before the call, as its events describe it (Log left out)
	lastIndex uint64
	lastTerm  uint64
	// votes are the servers whose granted vote for this term had reached it.
	votes []raft.NodeID
}

// panicWatch is what notePanics keeps between events.
type panicWatch struct {
	delivered    *raft.Message // the last message delivered to any server (the lab never reuses it)
	deliveredSeq uint64
	proposing    *string // the command Propose is offering, while it does
	granted      map[campaign][]raft.NodeID
	scene        *panicScene
}

// notePanics follows the events a panic report draws on.
func (h *Harness) notePanics(e *raft.Event) {
	w := &h.panics
	switch e.Kind {
	case raft.EvDeliver:
		w.delivered, w.deliveredSeq = e.Msg, e.Seq
		if m := e.Msg; m.Type == raft.RequestVoteReply && m.VoteGranted {
			if w.granted == nil {
				w.granted = map[campaign][]raft.NodeID{}
			}
			c := campaign{m.To, m.Term}
			if !containsID(w.granted[c], m.From) {
				w.granted[c] = append(w.granted[c], m.From)
			}
		}
	case raft.EvCrash:
		if !strings.HasPrefix(e.Text, "panicked") || w.scene != nil {
			return
		}
		v := h.sim.View().Node(e.Node)
		if v == nil {
			return
		}
		// The view keeps only the entries after LogBase (a compacted log).
		s := &panicScene{crash: e.Seq, node: e.Node, was: *v, lastIndex: max(v.LastIndex(), v.SnapshotIndex)}
		if t, ok := v.TermAt(s.lastIndex); ok {
			s.lastTerm = t
		} else if s.lastIndex == v.SnapshotIndex {
			s.lastTerm = v.SnapshotTerm
		}
		s.was.Log = nil
		switch {
		case strings.HasPrefix(e.Text, "panicked while handling Propose"):
			s.command = w.proposing
		case strings.HasPrefix(e.Text, "panicked while handling ") && w.delivered != nil && w.deliveredSeq == e.Seq-1 && w.delivered.To == e.Node:
			m := *w.delivered
			s.msg, s.msgSeq = &m, w.deliveredSeq
		}
		s.votes = w.granted[campaign{e.Node, v.Term}]
		w.scene = s
	}
}

func containsID(ids []raft.NodeID, id raft.NodeID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// panicStory tells, for the No Panic violation v, what the server was doing
// and the rules that govern it, in lines for the report; "" if the harness
// did not see the panic.
func (h *Harness) panicStory(v lab.Violation) string {
	s := h.panics.scene
	if s == nil || v.Rule != lab.RuleNoPanic || v.Cause != s.crash || v.Node != s.node {
		return ""
	}
	was := s.was
	state := fmt.Sprintf("%v was a %v in term %d, its log empty", s.node, was.Role, was.Term)
	if s.lastIndex > 0 {
		state = fmt.Sprintf("%v was a %v in term %d, its log through index %d", s.node, was.Role, was.Term, s.lastIndex)
	}
	if was.SnapshotIndex > 0 {
		if s.lastIndex > was.SnapshotIndex {
			state += fmt.Sprintf(" (compacted through index %d, its snapshot's last included index: the first entry still in its log is index %d)", was.SnapshotIndex, was.SnapshotIndex+1)
		} else {
			state += fmt.Sprintf(" (compacted through index %d, its snapshot's last included index: no entry follows it)", was.SnapshotIndex)
		}
	}
	state += fmt.Sprintf(", commitIndex %d", was.Commit)
	switch {
	case s.command != nil:
		story := fmt.Sprintf("Before it: %s, and a client offered it the command %q (Propose).", state, *s.command)
		if was.Role != raft.Leader {
			return story + fmt.Sprintf("\nWhat applies: only the leader takes a client's command. Section 5.1: the leader handles all client requests "+
				"(if a client contacts a follower, the follower redirects it to the leader). A %v appends nothing to its log: "+
				"raft.Node's Propose, any server but the leader returns isLeader false", was.Role)
		}
		return story + "\nWhat applies: Figure 2, rules for leaders: if command received from client: append entry to local log, respond after entry " +
			"applied to state machine; if last log index ≥ nextIndex for a follower: send AppendEntries RPC with log entries starting at nextIndex"
	case s.msg != nil:
		story := fmt.Sprintf("Before it: %s, and it was handling %v (event #%d).", state, *s.msg, s.msgSeq)
		if rules := h.rulesFor(s); len(rules) > 0 {
			story += "\nWhat applies to this message: " + strings.Join(rules, "; and ")
		}
		return story
	}
	return ""
}

// rulesFor names the rules of the paper that govern the message s.msg, given
// what the trace shows of the server that handled it.
func (h *Harness) rulesFor(s *panicScene) []string {
	m, was := s.msg, s.was
	var rules []string
	switch m.Type {
	case raft.AppendEntries:
		lastNew := m.PrevLogIndex + uint64(len(m.Entries))
		if m.Term < was.Term {
			rules = append(rules, fmt.Sprintf("its term %d is below %v's currentTerm %d: Figure 2, AppendEntries receiver 1, reply false if term < currentTerm", m.Term, s.node, was.Term))
			break
		}
		if was.SnapshotIndex > 0 && m.PrevLogIndex < was.SnapshotIndex {
			what := fmt.Sprintf("its prevLogIndex %d is", m.PrevLogIndex)
			if len(m.Entries) > 0 && m.Entries[0].Index <= was.SnapshotIndex {
				what = fmt.Sprintf("its prevLogIndex %d and its entries through index %d are", m.PrevLogIndex, min(m.Entries[len(m.Entries)-1].Index, was.SnapshotIndex))
			}
			rules = append(rules, fmt.Sprintf("%s at or before index %d, through which %v had compacted its log. Compacted entries are committed, and the leader's log "+
				"holds every committed entry (Leader Completeness): they match, and a follower checks and stores only what follows its snapshot — section 7: "+
				"the last included index and term are preserved to support the AppendEntries consistency check for the first log entry following the snapshot",
				what, was.SnapshotIndex, s.node))
		} else if m.PrevLogIndex > s.lastIndex {
			rules = append(rules, fmt.Sprintf("its prevLogIndex %d is past the end of %v's log (index %d): Figure 2, AppendEntries receiver 2, reply false if log doesn't contain "+
				"an entry at prevLogIndex whose term matches prevLogTerm", m.PrevLogIndex, s.node, s.lastIndex))
		}
		if m.LeaderCommit > was.Commit && m.LeaderCommit > lastNew {
			rules = append(rules, fmt.Sprintf("its leaderCommit %d is past the index of the last new entry it carries (%d): Figure 2, AppendEntries receiver 5, "+
				"if leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)", m.LeaderCommit, lastNew))
		}
	case raft.RequestVoteReply:
		if !m.VoteGranted || was.Role != raft.Candidate || m.Term != was.Term {
			break
		}
		var voters []string
		if was.Vote == s.node && !containsID(s.votes, s.node) {
			voters = append(voters, s.node.String()) // its own vote
		}
		for _, id := range s.votes {
			voters = append(voters, id.String())
		}
		if 2*len(voters) > h.N() {
			rules = append(rules, fmt.Sprintf("with it, %v held the votes of %d of the %d servers (%s), a majority: it was becoming leader of term %d. "+
				"Figure 2, rules for leaders: upon election, send initial empty AppendEntries RPCs (heartbeat) to each server; and the state on leaders, "+
				"reinitialized after election: nextIndex for each server, initialized to leader last log index + 1 (here %d), matchIndex initialized to 0",
				s.node, len(voters), h.N(), strings.Join(voters, ", "), was.Term, s.lastIndex+1))
		}
	case raft.AppendEntriesReply:
		if was.Role == raft.Leader && m.Term == was.Term {
			rules = append(rules, "Figure 2, rules for leaders: if successful, update nextIndex and matchIndex for the follower; if AppendEntries fails because of log "+
				"inconsistency, decrement nextIndex and retry")
			if m.Success {
				rules = append(rules, "then, if there exists an N such that N > commitIndex, a majority of matchIndex[i] ≥ N, and log[N].term == currentTerm: "+
					"set commitIndex = N (Figure 2, rules for leaders); if commitIndex > lastApplied: increment lastApplied, apply log[lastApplied] "+
					"to state machine (rules for all servers)")
			}
		}
	case raft.InstallSnapshot:
		if m.Term < was.Term {
			rules = append(rules, fmt.Sprintf("its term %d is below %v's currentTerm %d: Figure 13, InstallSnapshot receiver 1, reply immediately if term < currentTerm", m.Term, s.node, was.Term))
		}
	}
	return rules
}
