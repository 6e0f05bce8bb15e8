package raft

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Peer is one server of the cluster: its ID and, for the real-time runtime, the
// address its RPCs go to — HOST:PORT, or a base URL such as
// https://10.0.0.2:7000 (HOST:PORT means http://HOST:PORT). The simulator
// ignores Address.
//
// IDs are numbers, 1 and up, because Figure 2 stores them (votedFor) and
// messages carry them; their one text form is n1, n2, … (NodeID.String),
// and ParseNodeID reads it back, as it reads a bare 1. ParsePeers reads a
// whole cluster written as n1=127.0.0.1:8001,n2=127.0.0.1:8002.
type Peer struct {
	ID      NodeID `json:"id"`
	Address string `json:"address,omitempty"`
}

// ParseNodeID reads a server's ID written as NodeID.String writes it (n3) or
// as a bare number (3). IDs are 1 or more.
func ParseNodeID(s string) (NodeID, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "n")
	n, err := strconv.Atoi(t)
	if err != nil || n <= 0 || t == "" || t[0] == '+' || t[0] == '-' || n > maxNodeID {
		return None, fmt.Errorf("raft: %q is not a server ID: want n1, n2, … (or 1, 2, …), at most %d", s, maxNodeID)
	}
	return NodeID(n), nil
}

// maxNodeID bounds IDs read from text, far above any cluster's size.
const maxNodeID = 1 << 20

// ParsePeers reads a cluster written as ID=ADDRESS pairs separated by commas,
// e.g. n1=127.0.0.1:8001,n2=127.0.0.1:8002,n3=127.0.0.1:8003 (IDs as
// ParseNodeID reads them, addresses as Peer.Address). It refuses an ID given
// twice and an address that is not HOST:PORT or a base URL.
func ParsePeers(s string) ([]Peer, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("raft: no peers: list every server as ID=HOST:PORT, comma-separated, e.g. n1=127.0.0.1:8001,n2=127.0.0.1:8002,n3=127.0.0.1:8003")
	}
	var peers []Peer
	seen := map[NodeID]bool{}
	for _, part := range strings.Split(s, ",") {
		idText, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("raft: peer %q is not ID=HOST:PORT", part)
		}
		id, err := ParseNodeID(idText)
		if err != nil {
			return nil, fmt.Errorf("raft: peer %q: %w", part, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("raft: peer %v appears twice", id)
		}
		seen[id] = true
		if _, err := PeerURL(addr); err != nil {
			return nil, fmt.Errorf("raft: peer %v: %w", id, err)
		}
		peers = append(peers, Peer{ID: id, Address: addr})
	}
	return peers, nil
}

// PeerURL is the base URL of a peer's Address: HOST:PORT becomes
// http://HOST:PORT; a URL with http or https stays as it is (without a
// trailing slash).
func PeerURL(address string) (string, error) {
	bad := fmt.Errorf("address %q is not HOST:PORT or a base URL such as http://10.0.0.2:7000", address)
	if strings.HasPrefix(address, "http://") || strings.HasPrefix(address, "https://") {
		rest := address[strings.Index(address, "//")+2:]
		host, _, _ := strings.Cut(rest, "/")
		if host == "" {
			return "", bad
		}
		return strings.TrimSuffix(address, "/"), nil
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil || port == "" || strings.ContainsAny(host, "/ ") {
		return "", bad
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("address %q: the port must be a number from 1 to 65535", address)
	}
	return "http://" + address, nil
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
