package raft

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Peer is one server of the cluster: its ID and, for the real-time runtime, the
// address its RPCs go to. The simulator ignores Address.
type Peer struct {
	ID      NodeID `json:"id"`
	Address string `json:"address,omitempty"`
}

// Config is what a server needs to know to start. Times are durations; a node
// counts them in ticks of TickInterval (see ElectionTicks and HeartbeatTicks).
type Config struct {
	// ID is this server's ID. It must appear in Peers.
	ID NodeID `json:"id"`
	// Peers is every server of the cluster, this one included.
	Peers []Peer `json:"peers"`

	// TickInterval is how often the runtime calls Node.Tick.
	TickInterval time.Duration `json:"tickInterval"`
	// ElectionTimeout is the shortest time a follower waits without hearing from
	// a leader before it starts an election. Each wait is drawn at random from
	// [ElectionTimeout, 2×ElectionTimeout), so that split votes are rare and
	// resolve quickly (section 5.2).
	ElectionTimeout time.Duration `json:"electionTimeout"`
	// HeartbeatTimeout is how often a leader sends AppendEntries to each
	// follower when it has nothing else to send (section 5.2).
	HeartbeatTimeout time.Duration `json:"heartbeatTimeout"`
	// MaxAppendEntries is the most entries one AppendEntries may carry.
	MaxAppendEntries int `json:"maxAppendEntries"`
}

// DefaultConfig returns the timings of the Raft paper (section 9.3: election
// timeouts of 150–300ms), a 50ms heartbeat and a 10ms tick. ID and Peers are
// left for the caller.
func DefaultConfig() Config {
	return Config{
		TickInterval:     10 * time.Millisecond,
		ElectionTimeout:  150 * time.Millisecond,
		HeartbeatTimeout: 50 * time.Millisecond,
		MaxAppendEntries: 64,
	}
}

// ClusterConfig returns DefaultConfig for server id of a cluster of n servers
// with IDs 1..n.
func ClusterConfig(id NodeID, n int) Config {
	c := DefaultConfig()
	c.ID = id
	c.Peers = make([]Peer, n)
	for i := range c.Peers {
		c.Peers[i] = Peer{ID: NodeID(i + 1)}
	}
	return c
}

// ElectionTicks is ElectionTimeout counted in ticks.
func (c Config) ElectionTicks() int { return c.ticks(c.ElectionTimeout) }

// HeartbeatTicks is HeartbeatTimeout counted in ticks.
func (c Config) HeartbeatTicks() int { return c.ticks(c.HeartbeatTimeout) }

func (c Config) ticks(d time.Duration) int {
	if c.TickInterval <= 0 {
		return 0
	}
	return int(d / c.TickInterval)
}

// PeerIDs returns the IDs of every server, this one included, in ascending order.
func (c Config) PeerIDs() []NodeID {
	ids := make([]NodeID, len(c.Peers))
	for i, p := range c.Peers {
		ids[i] = p.ID
	}
	slices.Sort(ids)
	return ids
}

// Validate reports every way c is wrong, each in a sentence that says what to change.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("raft: "+format, args...))
	}
	if c.ID <= 0 {
		bad("ID (%d) must be 1 or more", c.ID)
	}
	seen := make(map[NodeID]bool, len(c.Peers))
	for _, p := range c.Peers {
		if p.ID <= 0 {
			bad("peer ID %d must be 1 or more", p.ID)
		}
		if seen[p.ID] {
			bad("peer %v appears twice in Peers", p.ID)
		}
		seen[p.ID] = true
	}
	if c.ID > 0 && !seen[c.ID] {
		bad("ID %v is not in Peers %v: list every server, this one included", c.ID, c.PeerIDs())
	}
	switch {
	case c.TickInterval <= 0:
		bad("TickInterval (%v) must be positive", c.TickInterval)
	case c.HeartbeatTimeout < c.TickInterval:
		bad("HeartbeatTimeout (%v) must be at least TickInterval (%v)", c.HeartbeatTimeout, c.TickInterval)
	}
	if c.ElectionTimeout < 2*c.HeartbeatTimeout {
		bad("ElectionTimeout (%v) must be at least twice HeartbeatTimeout (%v): a follower must hear a heartbeat before it times out, even when one is late",
			c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.MaxAppendEntries < 1 {
		bad("MaxAppendEntries (%d) must be 1 or more", c.MaxAppendEntries)
	}
	return errors.Join(errs...)
}
