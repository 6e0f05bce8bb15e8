package visualizer

import (
	"errors"
	"fmt"

	"github.com/raftlab/raftlab/lab"
)

// Commands on one message on its way: hold it back, release it (deliver it
// now), discard it (the network loses it now), or duplicate it (a copy is
// delivered now, the original keeps its course). A viewer names the message
// by its key, the number of the event that sent it — the key the page draws
// it by (messages.go) and the name lab's Sim.Hold, Release, Discard and
// Duplicate know it by. Each is a command event of the run, so the trace
// replays it exactly.

// msgOps are the message commands, each with what it tells its sender.
var msgOps = map[string]struct {
	do   func(*lab.Sim, uint64) error
	done string
}{
	"hold":      {(*lab.Sim).Hold, "held the message sent at #%d: it waits until you deliver or drop it"},
	"release":   {(*lab.Sim).Release, "delivered the held message sent at #%d"},
	"discard":   {(*lab.Sim).Discard, "dropped the message sent at #%d"},
	"duplicate": {(*lab.Sim).Duplicate, "delivered a copy of the message sent at #%d; the original is still on its way"},
}

// msgOp carries out the message command c.Op on the message c.Seq names.
func (s *Session) msgOp(c Command) (string, error) {
	op, ok := msgOps[c.Op]
	if !ok {
		return "", fmt.Errorf("unknown message command %q", c.Op)
	}
	if c.Seq == nil || *c.Seq == 0 {
		return "", errors.New(c.Op + `: say which message in "seq": the number of the event that sent it`)
	}
	sent := *c.Seq
	if err := s.course.record(op.do(s.course.sim(), sent)); err != nil {
		return "", err
	}
	return fmt.Sprintf(op.done, sent), nil
}
