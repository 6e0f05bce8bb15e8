package raft_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// These tests run the reference for real: goroutines, wall-clock ticks,
// file storage, and a transport. They wait for what must happen through the
// runtime's own notifications (WatchLeader, Applied), with generous
// deadlines, and never poll or sleep: a slow machine only makes them slower.

const waitFor = 30 * time.Second // deadline of every wait: far beyond any healthy run

type server struct {
	id     raft.NodeID
	rt     *raft.Runtime
	store  *raft.FileStore
	cancel context.CancelFunc
	got    *recorder
}

// recorder keeps every entry a server applies, and wakes whoever waits for one.
type recorder struct {
	mu      sync.Mutex
	entries []raft.Entry
	times   []time.Time   // when each entry was applied
	changed chan struct{} // closed at the next entry, then replaced
}

func record(rt *raft.Runtime) *recorder {
	r := &recorder{changed: make(chan struct{})}
	go func() {
		for e := range rt.Applied() {
			r.mu.Lock()
			r.entries = append(r.entries, e)
			r.times = append(r.times, time.Now())
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	return r
}

// waitLen waits until at least n entries were applied.
func (r *recorder) waitLen(t testing.TB, n int) {
	t.Helper()
	r.until(t, fmt.Sprintf("%d entries applied", n), func(es []raft.Entry) bool { return len(es) >= n })
}

// appliedAt is when the i-th applied entry (from 0) was applied.
func (r *recorder) appliedAt(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.times[i]
}

// until waits until the applied entries satisfy done, and returns a copy of them.
func (r *recorder) until(t testing.TB, what string, done func([]raft.Entry) bool) []raft.Entry {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		r.mu.Lock()
		entries, changed := append([]raft.Entry(nil), r.entries...), r.changed
		r.mu.Unlock()
		if done(entries) {
			return entries
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s: not within %v (applied %d entries)", what, waitFor, len(entries))
		}
	}
}

// leaderBoard follows every server's WatchLeader. It wakes whoever waits for
// a change, and keeps each term's leader to check Election Safety: at most
// one leader per term (Figure 3).
type leaderBoard struct {
	mu      sync.Mutex
	current map[raft.NodeID]raft.LeaderInfo
	leaders map[uint64]raft.NodeID // term -> the server that said it led it
	broken  []string
	changed chan struct{} // closed at the next change, then replaced
}

func newLeaderBoard() *leaderBoard {
	return &leaderBoard{current: map[raft.NodeID]raft.LeaderInfo{}, leaders: map[uint64]raft.NodeID{}, changed: make(chan struct{})}
}

// follow reads rt's leader notifications until it stops.
func (b *leaderBoard) follow(id raft.NodeID, rt *raft.Runtime) {
	watch := rt.WatchLeader()
	go func() {
		for {
			select {
			case l := <-watch:
				b.mu.Lock()
				b.current[id] = l
				if l.Self {
					if other, ok := b.leaders[l.Term]; ok && other != id {
						b.broken = append(b.broken, fmt.Sprintf("Election Safety: %v and %v both led term %d", other, id, l.Term))
					}
					b.leaders[l.Term] = id
				}
				close(b.changed)
				b.changed = make(chan struct{})
				b.mu.Unlock()
			case <-rt.Done():
				b.mu.Lock()
				delete(b.current, id)
				b.mu.Unlock()
				return
			}
		}
	}()
}

// until waits until the servers' views of the leader satisfy done.
func (b *leaderBoard) until(t testing.TB, what string, done func(map[raft.NodeID]raft.LeaderInfo) bool) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		b.mu.Lock()
		ok, changed := done(b.current), b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			b.mu.Lock()
			defer b.mu.Unlock()
			t.Fatalf("%s: not within %v; the servers' views: %v", what, waitFor, b.current)
		}
	}
}

// check fails t if two servers led the same term.
func (b *leaderBoard) check(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(t, b.broken)
}

// cluster is servers of the reference in one process.
type cluster struct {
	t       testing.TB
	net     *raft.InmemNetwork
	dir     string
	cfgs    []raft.Config
	servers []*server // servers[id-1]; nil while stopped
	leaders *leaderBoard
}

// newCluster starts n servers on file stores in a fresh folder over an
// in-memory network. adjust, if not nil, adjusts each server's Config.
func newCluster(t testing.TB, n int, adjust func(*raft.Config)) *cluster {
	t.Helper()
	return newClusterIn(t, t.TempDir(), n, adjust)
}

// newClusterIn is newCluster with the stores in dir.
func newClusterIn(t testing.TB, dir string, n int, adjust func(*raft.Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, net: raft.NewInmemNetwork(), dir: dir, servers: make([]*server, n), leaders: newLeaderBoard()}
	for i := range n {
		cfg := raft.ClusterConfig(raft.NodeID(i+1), n)
		if adjust != nil {
			adjust(&cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		c.start(cfg.ID)
	}
	t.Cleanup(func() {
		c.stopAll()
		c.leaders.check(t)
	})
	return c
}

// stopAll stops every running server.
func (c *cluster) stopAll() {
	for _, s := range c.servers {
		if s != nil {
			c.stop(s.id)
		}
	}
}

// start starts server id from its store.
func (c *cluster) start(id raft.NodeID) *server {
	c.t.Helper()
	store, err := raft.OpenFileStore(filepath.Join(c.dir, fmt.Sprintf("n%d.store", id)))
	require.NoError(c.t, err)
	rt, err := raft.NewRaft(c.cfgs[id-1], solutions.New, store, c.net.Transport(), raft.RuntimeOptions{})
	require.NoError(c.t, err)
	c.net.Attach(id, rt)
	s := &server{id: id, rt: rt, store: store, got: record(rt)}
	c.leaders.follow(id, rt)
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	require.NoError(c.t, rt.Start(ctx))
	c.servers[id-1] = s
	return s
}

func (c *cluster) stop(id raft.NodeID) {
	c.servers[id-1].stop()
	c.servers[id-1] = nil
}

func (s *server) stop() {
	s.cancel()
	<-s.rt.Done()
	s.store.Close()
}

// waitLeader waits until one running server leads and every other running
// server knows it, and returns what the leader reported.
func (c *cluster) waitLeader() raft.LeaderInfo {
	c.t.Helper()
	var lead raft.LeaderInfo
	c.leaders.until(c.t, "one leader, known to every running server", func(seen map[raft.NodeID]raft.LeaderInfo) bool {
		lead = raft.LeaderInfo{}
		for _, s := range c.servers {
			// Only a running server's claim counts: a stopped one's last
			// notification may still be on the board.
			if s != nil && seen[s.id].Self {
				lead = seen[s.id]
			}
		}
		if lead.ID == raft.None {
			return false
		}
		for _, s := range c.servers {
			if s != nil && (seen[s.id].ID != lead.ID || seen[s.id].Term != lead.Term) {
				return false
			}
		}
		return true
	})
	return lead
}

// propose offers cmd to every running server until one takes it, waiting
// for a change of leader between rounds; it returns the entry's index.
func (c *cluster) propose(cmd string) uint64 {
	c.t.Helper()
	deadline := time.After(waitFor)
	for {
		c.leaders.mu.Lock()
		changed := c.leaders.changed
		c.leaders.mu.Unlock()
		for _, s := range c.servers {
			if s == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			index, _, err := s.rt.Propose(ctx, []byte(cmd))
			cancel()
			if err == nil {
				return index
			}
			var nl raft.ErrNotLeader
			require.True(c.t, errors.As(err, &nl), "unexpected error: %v", err)
		}
		select { // no server leads: an election is under way
		case <-changed:
		case <-deadline:
			c.t.Fatalf("no server took %q within %v", cmd, waitFor)
		}
	}
}

// appliedUntil waits until s has applied cmd, and returns every entry it
// applied up to that one.
func appliedUntil(t testing.TB, s *server, cmd string) []raft.Entry {
	t.Helper()
	upTo := -1
	entries := s.got.until(t, fmt.Sprintf("%v applies %q", s.id, cmd), func(es []raft.Entry) bool {
		for i, e := range es {
			if string(e.Command) == cmd {
				upTo = i + 1
				return true
			}
		}
		return false
	})
	return entries[:upTo]
}

// TestRuntimeClusterSurvivesRestart: a committed entry survives the loss of
// the leader (section 5.4, Leader Completeness), and a server restarted from
// its file finds its log there and ends with the same applied entries, in the
// same order, as the others (State Machine Safety).
func TestRuntimeClusterSurvivesRestart(t *testing.T) {
	c := newCluster(t, 3, nil)
	first := c.waitLeader()

	index := c.propose("x=1")
	for _, s := range c.servers {
		e := appliedUntil(t, s, "x=1")
		require.Equal(t, index, e[len(e)-1].Index, "%v applied x=1 at another index", s.id)
	}

	// Stop the leader; the others elect a new one and carry on without it.
	c.stop(first.ID)
	second := c.waitLeader()
	require.NotEqual(t, first.ID, second.ID)
	require.Greater(t, second.Term, first.Term, "a new leader is elected in a later term (section 5.2)")
	c.propose("y=2")
	var want []raft.Entry
	for _, s := range c.servers {
		if s != nil {
			want = appliedUntil(t, s, "y=2")
		}
	}

	// Start it again from its file, cut off: what it knows comes from disk.
	c.net.Cut(first.ID, true)
	back := c.start(first.ID)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	st, err := back.rt.Status(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, st.Term, first.Term, "currentTerm restored from the store")
	require.GreaterOrEqual(t, st.LastIndex(), index, "log restored from the store")
	require.Equal(t, "x=1", string(st.Log[index-1].Command), "log restored from the store")

	// Reconnected, it catches up and applies what the others applied.
	c.net.Cut(first.ID, false)
	require.Equal(t, want, appliedUntil(t, back, "y=2"))
}

// TestWatchLeaderTellsEveryReader: each WatchLeader channel starts with the
// current value and carries the leader's term and whether it is this server.
func TestWatchLeaderTellsEveryReader(t *testing.T) {
	c := newCluster(t, 3, nil)
	lead := c.waitLeader()
	for _, s := range c.servers {
		for range 2 { // two readers see the same value
			l := <-s.rt.WatchLeader()
			require.Equal(t, lead.ID, l.ID)
			require.Equal(t, lead.Term, l.Term)
			require.Equal(t, s.id == lead.ID, l.Self, "Self on %v", s.id)
			require.Equal(t, s.rt.Config().ID == l.ID, l.Self)
		}
	}
}

// TestAppliedIsBoundedAndLosesNothing: with a buffer of 2 and a reader that
// reads only after proposing, the server waits for the reader instead of
// dropping entries: every command arrives, once, in index order.
func TestAppliedIsBoundedAndLosesNothing(t *testing.T) {
	const commands = 40
	store := raft.NewInmemStore()
	net := raft.NewInmemNetwork()
	rt, err := raft.NewRaft(raft.ClusterConfig(1, 1), solutions.New, store, net.Transport(), raft.RuntimeOptions{AppliedBuffer: 2})
	require.NoError(t, err)
	require.Equal(t, 2, cap(rt.Applied()))
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-rt.Done() }()
	require.NoError(t, rt.Start(ctx))
	leads := rt.WatchLeader()
	for l := <-leads; !l.Self; l = <-leads {
	}
	proposed := make(chan error, 1)
	go func() {
		for i := range commands {
			if _, _, err := rt.Propose(ctx, []byte(fmt.Sprint("c", i))); err != nil {
				proposed <- err
				return
			}
		}
		proposed <- nil
	}()
	for i := range commands {
		select {
		case e := <-rt.Applied():
			require.Equal(t, uint64(i+1), e.Index)
			require.Equal(t, fmt.Sprint("c", i), string(e.Command))
		case <-time.After(waitFor):
			t.Fatalf("entry %d not applied within %v", i+1, waitFor)
		}
	}
	require.NoError(t, <-proposed)
}

func TestRuntimeOverHTTP(t *testing.T) {
	const n = 3
	handlers := make([]http.Handler, n)
	srvs := make([]*httptest.Server, n)
	peers := make([]raft.Peer, n)
	for i := range srvs {
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handlers[i].ServeHTTP(w, r) }))
		defer srvs[i].Close()
		// HOST:PORT, the short form of an address.
		peers[i] = raft.Peer{ID: raft.NodeID(i + 1), Address: strings.TrimPrefix(srvs[i].URL, "http://")}
	}
	c := &cluster{t: t, servers: make([]*server, n), leaders: newLeaderBoard()}
	secret := []byte("a test secret of 32 bytes or more, never use it")
	for i := range c.servers {
		cfg := raft.ClusterConfig(raft.NodeID(i+1), n)
		cfg.Peers = peers
		tr, err := raft.NewHTTPTransport(peers, cfg.ID, raft.HTTPOptions{Secret: secret})
		require.NoError(t, err)
		defer tr.Close()
		store, err := raft.OpenFileStore(filepath.Join(t.TempDir(), "store"))
		require.NoError(t, err)
		rt, err := raft.NewRaft(cfg, solutions.New, store, tr, raft.RuntimeOptions{})
		require.NoError(t, err)
		mux := http.NewServeMux()
		mux.Handle(raft.RPCPath, rt.HandleRPC())
		handlers[i] = mux
		ctx, cancel := context.WithCancel(context.Background())
		c.leaders.follow(cfg.ID, rt)
		require.NoError(t, rt.Start(ctx))
		c.servers[i] = &server{id: cfg.ID, rt: rt, store: store, cancel: cancel, got: record(rt)}
		defer c.servers[i].stop()
	}
	c.waitLeader()
	index := c.propose("over http")
	for _, s := range c.servers {
		e := appliedUntil(t, s, "over http")
		require.Equal(t, index, e[len(e)-1].Index)
	}
	c.leaders.check(t)

	// A message without the cluster's proof is refused with a reason.
	resp, err := http.Post(srvs[0].URL+raft.RPCPath, "application/json", strings.NewReader(`{"type":"RequestVote","from":9,"to":1,"term":1}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestNewRaftRefusesBadConfig(t *testing.T) {
	cfg := raft.ClusterConfig(4, 3)
	_, err := raft.NewRaft(cfg, solutions.New, raft.NewInmemStore(), raft.NewInmemNetwork().Transport(), raft.RuntimeOptions{})
	require.ErrorContains(t, err, "raft: ID n4 is not in Peers [n1 n2 n3]")
	for addr, want := range map[string]string{
		"10.0.0.2":            `peer n2 has address "10.0.0.2" is not HOST:PORT or a base URL`,
		"10.0.0.2:70000":      "the port must be a number from 1 to 65535",
		"http://":             `peer n2 has address "http://" is not HOST:PORT`,
		"ftp://10.0.0.2:7000": `is not HOST:PORT or a base URL`,
	} {
		_, err = raft.NewHTTPTransport([]raft.Peer{{ID: 2, Address: addr}}, 1, raft.HTTPOptions{Insecure: true})
		require.ErrorContains(t, err, want, addr)
	}
}

func TestParsePeers(t *testing.T) {
	peers, err := raft.ParsePeers("n1=127.0.0.1:8001, 2=http://127.0.0.1:8002,n3=https://h:8003/")
	require.NoError(t, err)
	require.Equal(t, []raft.Peer{{ID: 1, Address: "127.0.0.1:8001"}, {ID: 2, Address: "http://127.0.0.1:8002"}, {ID: 3, Address: "https://h:8003/"}}, peers)
	for in, want := range map[string]string{
		"":                           "no peers",
		"n1":                         `peer "n1" is not ID=HOST:PORT`,
		"x1=h:1":                     `"x1" is not a server ID`,
		"n0=h:1":                     `"n0" is not a server ID`,
		"n-1=h:1":                    `"n-1" is not a server ID`,
		"n1=h:1,1=h:2":               "peer n1 appears twice",
		"n1=h":                       `peer n1: address "h" is not HOST:PORT`,
		"n1=h:1,n99999999999999=h:2": "is not a server ID",
	} {
		_, err := raft.ParsePeers(in)
		require.ErrorContains(t, err, want, in)
	}
	id, err := raft.ParseNodeID(raft.NodeID(12).String())
	require.NoError(t, err)
	require.Equal(t, raft.NodeID(12), id)
}
