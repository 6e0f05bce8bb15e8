package raft_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// captured is one genuine request as it crossed the wire.
type captured struct {
	header http.Header
	body   []byte
}

// TestForgedAndReplayedRPCsChangeNothing runs 3 servers of the reference
// over the HTTP transport on loopback while a client keeps proposing, and
// attacks the followers: an AppendEntries of term 1000000 from the leader's
// ID that would cut their logs, sent with no proof, with a made-up proof, and
// signed with a wrong secret; and a replay of a genuine AppendEntries
// captured on the wire. Each is refused and counted, and none is stepped: no
// server ever reaches the forged term, and every server applies the same
// commands at the same indexes.
func TestForgedAndReplayedRPCsChangeNothing(t *testing.T) {
	const n = 3
	secret := make([]byte, raft.MinSecretBytes)
	_, _ = rand.Read(secret)

	var mu sync.Mutex
	genuine := map[raft.NodeID]*captured{} // the latest AppendEntries with entries, per receiver
	handlers := make([]http.Handler, n)
	urls := make([]string, n)
	peers := make([]raft.Peer, n)
	for i := range n {
		id := raft.NodeID(i + 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if bytes.Contains(body, []byte(`"type":"AppendEntries"`)) && bytes.Contains(body, []byte(`"entries":[{`)) {
				mu.Lock()
				genuine[id] = &captured{header: r.Header.Clone(), body: body}
				mu.Unlock()
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			handlers[i].ServeHTTP(w, r)
		}))
		defer srv.Close()
		urls[i] = srv.URL
		peers[i] = raft.Peer{ID: id, Address: srv.URL}
	}
	servers := make([]*server, n)
	c := &cluster{t: t, servers: servers, leaders: newLeaderBoard()}
	for i := range servers {
		cfg := raft.ClusterConfig(raft.NodeID(i+1), n)
		cfg.Peers = peers
		tr, err := raft.NewHTTPTransport(peers, cfg.ID, raft.HTTPOptions{Secret: secret})
		require.NoError(t, err)
		defer tr.Close()
		rt, err := raft.NewRaft(cfg, solutions.New, raft.NewInmemStore(), tr, raft.RuntimeOptions{})
		require.NoError(t, err)
		handlers[i] = rt.HandleRPC()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c.leaders.follow(cfg.ID, rt)
		require.NoError(t, rt.Start(ctx))
		servers[i] = &server{id: cfg.ID, rt: rt, cancel: cancel, got: record(rt)}
	}

	// Load: one client proposes commands one after another, to whoever leads.
	const commands = 200
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for i := range commands {
			proposeQuietly(servers, c.leaders, fmt.Sprintf("c%d", i))
		}
	}()
	leader := c.waitLeader().ID
	appliedUntil(t, servers[0], "c20")

	secretOfAnother := bytes.Repeat([]byte("x"), raft.MinSecretBytes)
	for _, s := range servers {
		if s.id == leader {
			continue
		}
		url := urls[s.id-1] + raft.RPCPath
		forged := raft.Message{Type: raft.AppendEntries, From: leader, To: s.id, Term: 1000000,
			Entries: []raft.Entry{{Index: 1, Term: 1000000, Command: []byte("forged")}}, LeaderCommit: 1}
		body := forged.AppendJSON(nil)
		before := s.rt.Stats().RPCsRefused
		mu.Lock()
		replay := genuine[s.id] // taken before the forgers below send theirs
		mu.Unlock()
		require.NotNil(t, replay, "the load sent %v an AppendEntries with entries", s.id)

		post(t, url, body, nil, http.StatusForbidden, "no Raft-Auth header")
		post(t, url, body, http.Header{raft.AuthHeader: {fmt.Sprintf("v1 %d %d 1 99 %s", leader, s.id, strings.Repeat("ab", 32))}},
			http.StatusForbidden, "fails its authentication")
		post(t, url, replay.body, replay.header, http.StatusForbidden, "repeats or predates")
		require.GreaterOrEqual(t, s.rt.Stats().RPCsRefused, before+3)

		// A forger with the wrong secret, using the real transport to sign.
		wrong, err := raft.NewHTTPTransport([]raft.Peer{{ID: leader}, {ID: s.id, Address: urls[s.id-1]}}, leader, raft.HTTPOptions{Secret: secretOfAnother})
		require.NoError(t, err)
		wrong.Send(forged)
		waitRefused(t, s, before+4)
		wrong.Close()
	}

	<-loadDone
	last := fmt.Sprintf("c%d", commands-1)
	logs := make([][]raft.Entry, n)
	for i, s := range servers {
		logs[i] = appliedUntil(t, s, last)
		st := status(t, s)
		require.Less(t, st.Term, uint64(1000000), "%v stepped the forged AppendEntries", s.id)
		for _, e := range st.Log {
			require.NotEqual(t, "forged", string(e.Command), "%v took the forged entry", s.id)
		}
	}
	for i := 1; i < n; i++ {
		require.Equal(t, logs[0], logs[i], "%v and %v applied different entries", servers[0].id, servers[i].id)
	}
	c.leaders.check(t)
}

// proposeQuietly proposes cmd until some server takes it (waiting for a
// change of leader when an election is under way), and waits for nothing else.
func proposeQuietly(servers []*server, leaders *leaderBoard, cmd string) {
	for {
		leaders.mu.Lock()
		changed := leaders.changed
		leaders.mu.Unlock()
		for _, s := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, _, err := s.rt.Propose(ctx, []byte(cmd))
			cancel()
			var nl raft.ErrNotLeader
			if err == nil {
				// Wait for it to apply at the leader before the next one.
				return
			}
			if !errors.As(err, &nl) {
				return
			}
		}
		select { // an election is under way
		case <-changed:
		case <-time.After(waitFor):
			return
		}
	}
}

func post(t *testing.T, url string, body []byte, header http.Header, wantCode int, wantText string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	require.Equal(t, wantCode, resp.StatusCode, "answer: %s", text)
	require.Contains(t, string(text), wantText)
}

// waitRefused waits until s has refused at least want messages.
func waitRefused(t *testing.T, s *server, want uint64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for s.rt.Stats().RPCsRefused < want {
		select {
		case <-deadline:
			t.Fatalf("%v refused %d messages, want %d", s.id, s.rt.Stats().RPCsRefused, want)
		case <-time.After(time.Millisecond):
		}
	}
}

func status(t *testing.T, s *server) raft.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := s.rt.Status(ctx)
	require.NoError(t, err)
	return st
}
