package grade

import (
	"fmt"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// An election started while a leader was up tells its story from the trace:
// when the leader last sent the candidate an AppendEntries, and when one last
// reached it. Those two facts tell the two classic mistakes apart — a
// follower that does not restart its election timer on a heartbeat, and a
// leader that stops sending them.

// seen is one message event: when, its number, and the message's term.
type seen struct {
	at   time.Duration
	seq  uint64
	term uint64
	ok   bool
}

// heartbeatWatch holds, for each leader and follower (from*n+to), the last
// AppendEntries sent and the last delivered.
type heartbeatWatch struct {
	n               int
	sent, delivered []seen
}

// noteHeartbeats follows the AppendEntries of the run.
func (h *Harness) noteHeartbeats(e *raft.Event) {
	if (e.Kind != raft.EvSend && e.Kind != raft.EvDeliver) || e.Msg == nil || e.Msg.Type != raft.AppendEntries {
		return
	}
	w := &h.heartbeats
	if w.n == 0 {
		w.n = len(h.connected) + 1
		w.sent, w.delivered = make([]seen, w.n*w.n), make([]seen, w.n*w.n)
	}
	from, to := int(e.Msg.From), int(e.Msg.To)
	if from >= w.n || to >= w.n {
		return
	}
	s := seen{at: e.Time, seq: e.Seq, term: e.Msg.Term, ok: true}
	if e.Kind == raft.EvSend {
		w.sent[from*w.n+to] = s
	} else {
		w.delivered[from*w.n+to] = s
	}
}

// lastAppend returns the last AppendEntries leader sent to, and the last
// that reached, server to.
func (h *Harness) lastAppend(leader, to raft.NodeID) (sent, delivered seen) {
	w := &h.heartbeats
	if w.n == 0 || int(leader) >= w.n || int(to) >= w.n {
		return seen{}, seen{}
	}
	return w.sent[int(leader)*w.n+int(to)], w.delivered[int(leader)*w.n+int(to)]
}

// electionWhileLed tells the story of server c moving to term at event rose
// while leader led term led, up and connected. It says what the trace
// shows: whether c had heard from the leader less than an election timeout
// before, or the leader had stopped sending it AppendEntries.
func (h *Harness) electionWhileLed(leader raft.NodeID, led uint64, c raft.NodeID, rose seen, term uint64) string {
	cfg := h.sim.Options().Config
	started := fmt.Sprintf("%v moved to term %d", c, term)
	if h.asked[campaign{c, term}] {
		started = fmt.Sprintf("%v started an election for term %d", c, term)
	}
	started += fmt.Sprintf(" at %s (event #%d), with no failures", raft.FormatTime(rose.at), rose.seq)
	st, up := h.sim.Status(leader)
	leads := up && h.live(leader) && st.Role == raft.Leader && st.Term == led && c != leader
	if leads {
		started += fmt.Sprintf(", while %v led term %d, up and connected", leader, led)
	} else {
		started += fmt.Sprintf(", after %v was elected leader of term %d", leader, led)
	}
	sent, got := h.lastAppend(leader, c)
	sentLed, gotLed := sent.ok && sent.term == led, got.ok && got.term == led
	switch {
	case leads && gotLed && rose.at-got.at < cfg.ElectionTimeout-cfg.TickInterval:
		return fmt.Sprintf("%s: an AppendEntries from %v of term %d had reached %v at %s (event #%d), only %v before — less than ElectionTimeout (%v), "+
			"the shortest election timeout. So %v did not restart its election timer when that AppendEntries arrived, or drew a timeout shorter than ElectionTimeout. "+
			"Figure 2, rules for followers: if election timeout elapses without receiving AppendEntries RPC from current leader or granting vote to candidate: "+
			"convert to candidate — a follower restarts its election timer each time it receives AppendEntries from the current leader (section 5.2)",
			started, leader, led, c, raft.FormatTime(got.at), got.seq, ms(rose.at-got.at), cfg.ElectionTimeout, c)
	case leads && (!sentLed || rose.at-sent.at >= 2*cfg.HeartbeatTimeout):
		silent := fmt.Sprintf("%v had sent %v no AppendEntries in term %d", leader, c, led)
		if sentLed {
			silent = fmt.Sprintf("%v had sent %v no AppendEntries for %v (its last at %s, event #%d)", leader, c, ms(rose.at-sent.at), raft.FormatTime(sent.at), sent.seq)
			if rose.at-sent.at >= cfg.ElectionTimeout {
				silent += fmt.Sprintf(", longer than ElectionTimeout (%v)", cfg.ElectionTimeout)
			}
		}
		if gotLed {
			silent += fmt.Sprintf(", and none had reached %v for %v", c, ms(rose.at-got.at))
		}
		return fmt.Sprintf("%s. But %s: a follower that hears nothing from the leader for an election timeout converts to candidate, as Figure 2 asks — "+
			"the leader must keep sending. Figure 2, rules for leaders: upon election: send initial empty AppendEntries RPCs (heartbeat) to each server; "+
			"repeat during idle periods to prevent election timeouts (section 5.2) — one every HeartbeatTimeout (%v)", started, silent, cfg.HeartbeatTimeout)
	}
	facts := ""
	if sentLed {
		facts += fmt.Sprintf("; the last AppendEntries %v sent %v left at %s (event #%d)", leader, c, raft.FormatTime(sent.at), sent.seq)
	}
	if gotLed {
		facts += fmt.Sprintf("; the last that reached %v arrived at %s (event #%d)", c, raft.FormatTime(got.at), got.seq)
	}
	return fmt.Sprintf("%s%s. Does the leader send AppendEntries every HeartbeatTimeout, and does a follower restart its election timer when it gets one "+
		"or grants a vote? Figure 2, rules for followers: if election timeout elapses without receiving AppendEntries RPC from current leader or granting vote "+
		"to candidate: convert to candidate", started, facts)
}

// ms rounds a duration to the millisecond, as a report gives it.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
