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
// file storage, and a transport. They wait on channels, never sleep.

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

// waitLen waits until at least n entries were applied, and returns when
// each of the first n was.
func (r *recorder) waitLen(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		r.mu.Lock()
		have, changed := len(r.entries), r.changed
		r.mu.Unlock()
		if have >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%d entries applied, want %d: not within 60s", have, n)
		}
	}
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
	deadline := time.After(20 * time.Second)
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
			t.Fatalf("%s: not within 20s (applied %d entries)", what, len(entries))
		}
	}
}

func startServer(t testing.TB, net *raft.InmemNetwork, dir string, id raft.NodeID, n int) *server {
	t.Helper()
	return startServerWith(t, net, dir, raft.ClusterConfig(id, n))
}

func startServerWith(t testing.TB, net *raft.InmemNetwork, dir string, cfg raft.Config) *server {
	t.Helper()
	id := cfg.ID
	store, err := raft.OpenFileStore(filepath.Join(dir, fmt.Sprintf("n%d.store", id)))
	require.NoError(t, err)
	rt, err := raft.NewRaft(cfg, solutions.New, store, net.Transport(), raft.RuntimeOptions{})
	require.NoError(t, err)
	net.Attach(id, rt)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, rt.Start(ctx))
	return &server{id: id, rt: rt, store: store, cancel: cancel, got: record(rt)}
}

func (s *server) stop() {
	s.cancel()
	<-s.rt.Done()
	s.store.Close()
}

// waitLeader waits for a server to report a leader, and returns it.
func waitLeader(t testing.TB, s *server) raft.NodeID {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l := <-s.rt.WatchLeader():
			if l != raft.None {
				return l
			}
		case <-timeout:
			t.Fatalf("%v saw no leader within 10s", s.id)
		}
	}
}

// waitApplied waits until s has applied cmd, and returns its entry.
func waitApplied(t *testing.T, s *server, cmd string) raft.Entry {
	t.Helper()
	entries := appliedUntil(t, s, cmd)
	return entries[len(entries)-1]
}

// appliedUntil waits until s has applied cmd, and returns every entry it
// applied up to that one.
func appliedUntil(t *testing.T, s *server, cmd string) []raft.Entry {
	t.Helper()
	var upTo int
	s.got.until(t, fmt.Sprintf("%v applies %q", s.id, cmd), func(es []raft.Entry) bool {
		for i, e := range es {
			if string(e.Command) == cmd {
				upTo = i + 1
				return true
			}
		}
		return false
	})
	return s.got.until(t, "", func([]raft.Entry) bool { return true })[:upTo]
}

func propose(t testing.TB, servers []*server, cmd string) uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range servers {
			if s == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			index, _, err := s.rt.Propose(ctx, []byte(cmd))
			cancel()
			if err == nil {
				return index
			}
			var nl raft.ErrNotLeader
			require.True(t, errors.As(err, &nl), "unexpected error: %v", err)
		}
		<-time.After(20 * time.Millisecond) // an election is under way: ask again shortly
	}
	t.Fatalf("no server took %q within 10s", cmd)
	return 0
}

func TestRuntimeClusterSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	net := raft.NewInmemNetwork()
	servers := make([]*server, 3)
	for i := range servers {
		servers[i] = startServer(t, net, dir, raft.NodeID(i+1), 3)
	}
	defer func() {
		for _, s := range servers {
			if s != nil {
				s.stop()
			}
		}
	}()
	leader := waitLeader(t, servers[0])
	require.NotEqual(t, raft.None, leader)

	index := propose(t, servers, "x=1")
	for _, s := range servers {
		require.Equal(t, index, waitApplied(t, s, "x=1").Index)
	}

	// Stop the leader; the others carry on without it.
	old := servers[leader-1]
	old.stop()
	servers[leader-1] = nil
	propose(t, servers, "y=2")
	for _, s := range servers {
		if s != nil {
			waitApplied(t, s, "y=2")
		}
	}

	// Start it again from its file: it restores its log and catches up.
	servers[leader-1] = startServer(t, net, dir, leader, 3)
	back := servers[leader-1]
	require.Equal(t, "x=1", string(waitApplied(t, back, "x=1").Command))
	waitApplied(t, back, "y=2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := back.rt.Status(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(st.Log), 2)
}

func TestRuntimeOverHTTP(t *testing.T) {
	const n = 3
	handlers := make([]http.Handler, n)
	srvs := make([]*httptest.Server, n)
	peers := make([]raft.Peer, n)
	for i := range srvs {
		i := i
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handlers[i].ServeHTTP(w, r) }))
		defer srvs[i].Close()
		peers[i] = raft.Peer{ID: raft.NodeID(i + 1), Address: srvs[i].URL}
	}
	servers := make([]*server, n)
	secret := []byte("a test secret of 32 bytes or more, never use it")
	for i := range servers {
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
		defer cancel()
		require.NoError(t, rt.Start(ctx))
		servers[i] = &server{id: cfg.ID, rt: rt, store: store, cancel: cancel, got: record(rt)}
	}
	waitLeader(t, servers[0])
	propose(t, servers, "over http")
	for _, s := range servers {
		waitApplied(t, s, "over http")
	}

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
	_, err = raft.NewHTTPTransport([]raft.Peer{{ID: 2, Address: "10.0.0.2:7000"}}, 1, raft.HTTPOptions{Insecure: true})
	require.ErrorContains(t, err, `peer n2 has address "10.0.0.2:7000": want a base URL`)
}
