package kv_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/raft/kv"
	"github.com/raftlab/raftlab/solutions"
)

// cluster is three servers of the reference in this process, on an
// in-memory network, each with its key/value API on a real HTTP server.
type cluster struct {
	net  *raft.InmemNetwork
	rts  map[raft.NodeID]*raft.Runtime
	urls map[raft.NodeID]string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	const n = 3
	c := &cluster{net: raft.NewInmemNetwork(), rts: map[raft.NodeID]*raft.Runtime{}, urls: map[raft.NodeID]string{}}
	servers := map[raft.NodeID]*httptest.Server{}
	var peers []raft.Peer
	for id := raft.NodeID(1); id <= n; id++ {
		srv := httptest.NewUnstartedServer(nil)
		servers[id] = srv
		c.urls[id] = "http://" + srv.Listener.Addr().String()
		peers = append(peers, raft.Peer{ID: id, Address: c.urls[id]})
	}
	ctx, cancel := context.WithCancel(context.Background())
	for id := raft.NodeID(1); id <= n; id++ {
		cfg := raft.DefaultConfig()
		cfg.ID, cfg.Peers = id, peers
		rt, err := raft.NewRaft(cfg, solutions.New, raft.NewInmemStore(), c.net.Transport(), raft.RuntimeOptions{})
		require.NoError(t, err)
		c.net.Attach(id, rt)
		c.rts[id] = rt
		svc := kv.NewService(rt, id, peers, kv.ServiceOptions{Timeout: 500 * time.Millisecond})
		servers[id].Config.Handler = svc
		servers[id].Start()
		require.NoError(t, rt.Start(ctx))
	}
	t.Cleanup(func() {
		cancel()
		for id, srv := range servers {
			srv.Close()
			<-c.rts[id].Done()
		}
	})
	return c
}

// leader waits until a server leads and says which.
func (c *cluster) leader(t *testing.T, not raft.NodeID) raft.NodeID {
	t.Helper()
	var lead raft.NodeID
	require.Eventually(t, func() bool {
		for id, rt := range c.rts {
			st, err := rt.Status(context.Background())
			if err == nil && st.Role == raft.Leader && id != not {
				lead = id
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond)
	return lead
}

func (c *cluster) all() []string {
	return []string{c.urls[1], c.urls[2], c.urls[3]}
}

func TestServiceFollowerNamesTheLeader(t *testing.T) {
	c := newCluster(t)
	lead := c.leader(t, raft.None)
	// Ask until the follower has heard from the leader (it may not have yet).
	follower := lead%3 + 1
	var rep kv.Reply
	require.Eventually(t, func() bool {
		resp, err := http.Get(c.urls[follower] + kv.Path + "x")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&rep))
		return resp.StatusCode == http.StatusMisdirectedRequest
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, lead, rep.Leader)
	require.Equal(t, c.urls[lead], rep.LeaderURL)
	require.Equal(t, follower, rep.Server)
	require.Contains(t, rep.Error, "is not the leader")
}

func TestServiceAppliesARetriedPutOnce(t *testing.T) {
	c := newCluster(t)
	lead := c.leader(t, raft.None)
	do := func(method, path, body string) (int, kv.Reply) {
		t.Helper()
		req, err := http.NewRequest(method, c.urls[lead]+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var rep kv.Reply
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&rep))
		return resp.StatusCode, rep
	}
	code, first := do(http.MethodPut, kv.Path+"x?client=5&seq=1", "a")
	require.Equal(t, http.StatusOK, code, first.Error)
	code, _ = do(http.MethodPut, kv.Path+"x?client=6&seq=1", "b")
	require.Equal(t, http.StatusOK, code)
	// Client 5's put again (say its answer was lost): applied once, so x stays b.
	code, again := do(http.MethodPut, kv.Path+"x?client=5&seq=1", "a")
	require.Equal(t, http.StatusOK, code)
	require.True(t, again.Duplicate)
	require.Greater(t, again.Index, first.Index, "the retry went through the log too")
	code, got := do(http.MethodGet, kv.Path+"x", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "b", got.Value)

	code, rep := do(http.MethodDelete, kv.Path+"x", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "b", rep.Value)
	code, _ = do(http.MethodGet, kv.Path+"x", "")
	require.Equal(t, http.StatusNotFound, code)

	for _, tc := range []struct{ method, path, want string }{
		{http.MethodPost, kv.Path + "x", "use PUT, GET or DELETE"},
		{http.MethodGet, kv.Path, "no key"},
		{http.MethodGet, kv.Path + "x?seq=abc", `seq="abc" is not a whole number`},
		{http.MethodGet, kv.Path + "x?client=3", "give both client and seq"},
	} {
		code, rep := do(tc.method, tc.path, "")
		require.Contains(t, []int{http.StatusBadRequest, http.StatusMethodNotAllowed}, code)
		require.Contains(t, rep.Error, tc.want)
	}
}

func TestClientFollowsTheLeaderAcrossACutOff(t *testing.T) {
	c := newCluster(t)
	cl, err := kv.NewClient(c.all(), kv.ClientOptions{AttemptTimeout: time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = cl.Put(ctx, "k", "1")
	require.NoError(t, err)

	old := c.leader(t, raft.None)
	c.net.Cut(old, true)
	_, err = cl.Put(ctx, "k", "2")
	require.NoError(t, err)
	rep, err := cl.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "2", rep.Value)
	require.NotEqual(t, old, rep.Server, "the cut-off leader cannot commit: another server answered")
	require.Positive(t, cl.Stats().Retries+cl.Stats().Redirects)

	_, err = kv.NewClient([]string{"localhost:80"}, kv.ClientOptions{})
	require.ErrorContains(t, err, "want a base URL")
}
