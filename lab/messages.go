package lab

import (
	"fmt"

	"github.com/raftlab/raftlab/raft"
)

// Message-level control: commands that act on one message on its way, named
// by the number of its send event (InFlight.Sent). A test uses them to force
// an interleaving the network would produce only by luck — a message held
// back and delivered late, after later ones; a message delivered twice; a
// reply that arrives after its term is over — and the page uses them to let
// a viewer do the same by hand. Each is a command event, so a replay of the
// trace does exactly the same again.
//
// A held message keeps the fate the network gave it when it was sent: a
// message the network was going to lose is lost when released, and one sent
// across a partition that still stands, or to a server that is down when it
// arrives, is dropped then, as it would have been.

// findInFlight returns the position in the queue of the earliest-arriving
// copy of the message sent at event sent, or -1.
func (s *Sim) findInFlight(sent uint64) int {
	found := -1
	for i := range s.q.items {
		it := &s.q.items[i]
		if it.kind == itemArrive && it.sent == sent && (found < 0 || s.q.less(i, found)) {
			found = i
		}
	}
	return found
}

func (s *Sim) findHeld(sent uint64) int {
	for i := range s.held {
		if s.held[i].sent == sent {
			return i
		}
	}
	return -1
}

// notOnItsWay explains why no message sent at event sent can be acted on.
func notOnItsWay(sent uint64) error {
	return fmt.Errorf("lab: no message sent at event #%d is on its way: it has been delivered or dropped, or event #%d is not a send; InFlight lists the messages on their way", sent, sent)
}

// Hold takes the message sent at event sent off the network: it does not
// arrive until Release delivers it (or Discard drops it). If the network
// duplicated the message, Hold takes the copy due first.
func (s *Sim) Hold(sent uint64) error {
	i := s.findInFlight(sent)
	if i < 0 {
		if s.findHeld(sent) >= 0 {
			return fmt.Errorf("lab: the message sent at event #%d is already held: Release or Discard it", sent)
		}
		return notOnItsWay(sent)
	}
	it := s.q.remove(i)
	s.held = append(s.held, it)
	s.command(raft.Event{Kind: raft.EvHold, Node: it.msg.To, Msg: it.msg, Cause: sent})
	return nil
}

// Release delivers the held message sent at event sent, now.
func (s *Sim) Release(sent uint64) error {
	i := s.findHeld(sent)
	if i < 0 {
		if s.findInFlight(sent) >= 0 {
			return fmt.Errorf("lab: the message sent at event #%d is on its way, not held: Hold it first", sent)
		}
		return notOnItsWay(sent)
	}
	it := s.held[i]
	s.held = append(s.held[:i], s.held[i+1:]...)
	s.drain()
	s.command(raft.Event{Kind: raft.EvRelease, Node: it.msg.To, Msg: it.msg, Cause: sent})
	s.arrive(it)
	return nil
}

// Discard makes the network lose the message sent at event sent now, held
// or on its way.
func (s *Sim) Discard(sent uint64) error {
	var it item
	if i := s.findHeld(sent); i >= 0 {
		it = s.held[i]
		s.held = append(s.held[:i], s.held[i+1:]...)
	} else if i := s.findInFlight(sent); i >= 0 {
		it = s.q.remove(i)
	} else {
		return notOnItsWay(sent)
	}
	s.command(raft.Event{Kind: raft.EvDiscard, Node: it.msg.To, Msg: it.msg, Cause: sent})
	s.drop(it.msg, "discarded by a command")
	return nil
}

// Duplicate delivers a copy of the message sent at event sent now, held or
// on its way; the original keeps its course.
func (s *Sim) Duplicate(sent uint64) error {
	i := s.findHeld(sent)
	var it item
	if i >= 0 {
		it = s.held[i]
	} else if j := s.findInFlight(sent); j >= 0 {
		it = s.q.items[j]
	} else {
		return notOnItsWay(sent)
	}
	s.drain()
	s.command(raft.Event{Kind: raft.EvDuplicate, Node: it.msg.To, Msg: it.msg, Cause: sent})
	// The copy is a new delivery: the fate the network gave the original
	// (lost or not) is the original's.
	it.dup, it.lost = true, false
	s.arrive(it)
	return nil
}

// Held lists the messages taken off the network by Hold, in the order they
// were held.
func (s *Sim) Held() []InFlight {
	out := make([]InFlight, 0, len(s.held))
	for _, it := range s.held {
		out = append(out, InFlight{Msg: it.msg, Arrive: it.at, Sent: it.sent, Lost: it.lost, Dup: it.dup, Held: true})
	}
	return out
}

// HoldMatching holds every message match accepts as it is sent, until
// HoldMatching(nil). Each hold is a command event of its own, so a replay
// needs no predicate to hold the same messages.
func (s *Sim) HoldMatching(match func(*raft.Message) bool) { s.holdIf = match }
