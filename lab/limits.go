package lab

import (
	"errors"
	"fmt"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Bounds on a simulated cluster's timing. raft.Config.Validate checks that a
// configuration is coherent; these keep the work of a run finite and in
// proportion to what it shows: a crafted trace whose header asks for an
// election timeout of 2^62 ns with a 1 ns tick would otherwise tick for
// ever before anything happened.
const (
	// MinTick is the shortest tick the simulator runs.
	MinTick = time.Microsecond
	// MaxTick is the longest.
	MaxTick = time.Minute
	// MaxElectionTicks bounds ElectionTimeout in ticks (the default is 15).
	MaxElectionTicks = 10_000
	// MaxAppendEntriesBound bounds Config.MaxAppendEntries.
	MaxAppendEntriesBound = 1 << 16
)

// checkTiming reports a configuration whose timing is out of the bounds above.
func checkTiming(c raft.Config) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("lab: "+format, args...)) }
	if c.TickInterval > 0 && (c.TickInterval < MinTick || c.TickInterval > MaxTick) {
		bad("TickInterval (%v) must be between %v and %v", c.TickInterval, MinTick, MaxTick)
	}
	if c.TickInterval > 0 && c.ElectionTimeout/c.TickInterval > MaxElectionTicks {
		bad("ElectionTimeout (%v) is %d ticks of %v; at most %d ticks", c.ElectionTimeout, c.ElectionTimeout/c.TickInterval, c.TickInterval, MaxElectionTicks)
	}
	if c.MaxAppendEntries > MaxAppendEntriesBound {
		bad("MaxAppendEntries (%d) must be at most %d", c.MaxAppendEntries, MaxAppendEntriesBound)
	}
	return errors.Join(errs...)
}
