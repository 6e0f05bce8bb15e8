package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// Path is where the key/value API lives: PUT, GET and DELETE Path+key.
const Path = "/kv/"

// Reply is the body of every answer of the API.
type Reply struct {
	Result
	// Index and Term are where the request sits in the Raft log.
	Index uint64 `json:"index,omitempty"`
	Term  uint64 `json:"term,omitempty"`
	// Server is the server that answered.
	Server raft.NodeID `json:"server"`
	// Error says why the request was not carried out, and what to do.
	Error string `json:"error,omitempty"`
	// Leader and LeaderURL name the leader when Server is not it (status 421).
	Leader    raft.NodeID `json:"leader,omitempty"`
	LeaderURL string      `json:"leaderURL,omitempty"`
}

// ServiceOptions are the settings of a Service.
type ServiceOptions struct {
	// Timeout bounds the wait for a request to be committed and applied
	// (default 3s); the client then retries, with the same seq.
	Timeout time.Duration
}

// Service serves the key/value API of one server: it proposes each request
// to the Raft runtime, waits until the entry is applied, and answers with
// what applying it gave. A server that is not the leader answers 421 with
// the leader's address.
type Service struct {
	rt      *raft.Runtime
	self    raft.NodeID
	urls    map[raft.NodeID]string
	timeout time.Duration
	leader  atomic.Int64

	mu      sync.Mutex
	store   *Store
	waiters map[uint64]chan applied
	recent  [recentSize]applied // answers of the last entries applied, by index % recentSize
	stopped bool
}

// recentSize is how many answers are kept for a request whose entry was
// applied before its handler started waiting for it.
const recentSize = 4096

type applied struct {
	index, term uint64
	result      Result
	ok          bool
}

// NewService serves rt's key/value API. peers gives every server's base URL
// (for telling clients where the leader is). The Service is rt's state
// machine (raft.Runtime.SetStateMachine): rt applies entries to it, and with
// raft.RuntimeOptions.SnapshotEvery compacts its log with its snapshots (the
// map and the client table, see Store.Snapshot). Make one Service per
// Runtime, before Start: it panics otherwise.
func NewService(rt *raft.Runtime, self raft.NodeID, peers []raft.Peer, opts ServiceOptions) *Service {
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Second
	}
	s := &Service{
		rt: rt, self: self, urls: map[raft.NodeID]string{}, timeout: opts.Timeout,
		store: NewStore(), waiters: map[uint64]chan applied{},
	}
	for _, p := range peers {
		s.urls[p.ID], _ = raft.PeerURL(p.Address) // "" for a bad address: then no hint
	}
	if err := rt.SetStateMachine(s); err != nil {
		panic("kv: NewService: " + err.Error())
	}
	go s.stopLoop()
	go s.watchLeader()
	return s
}

// Apply is raft.StateMachine: it applies a committed entry to the store and
// answers the request waiting for it.
func (s *Service) Apply(e raft.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, ok := s.store.Apply(e.Index, e.Command)
	a := applied{index: e.Index, term: e.Term, result: res, ok: ok}
	s.recent[e.Index%recentSize] = a
	if w, waiting := s.waiters[e.Index]; waiting {
		delete(s.waiters, e.Index)
		w <- a
	}
}

// Snapshot is raft.StateMachine: the store's state (Store.Snapshot).
func (s *Service) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.Snapshot()
}

// Restore is raft.StateMachine: the store takes the snapshot's state. A
// request waiting for an entry the snapshot covers is told its answer was
// lost; its client retries with the same seq, and the client table in the
// snapshot answers it as the first time.
func (s *Service) Restore(snap raft.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.Restore(snap.Data); err != nil {
		return err
	}
	if got := s.store.Applied(); got != snap.LastIncludedIndex {
		return fmt.Errorf("kv: a snapshot through index %d holds the store's state through index %d", snap.LastIncludedIndex, got)
	}
	for i, w := range s.waiters {
		if i <= snap.LastIncludedIndex {
			delete(s.waiters, i)
			close(w)
		}
	}
	return nil
}

// stopLoop waits for the server to stop, then releases every request still waiting.
func (s *Service) stopLoop() {
	<-s.rt.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for i, w := range s.waiters {
		delete(s.waiters, i)
		close(w)
	}
}

func (s *Service) watchLeader() {
	leaders := s.rt.WatchLeader()
	for {
		select {
		case l := <-leaders:
			s.leader.Store(int64(l.ID))
		case <-s.rt.Done():
			return
		}
	}
}

// Leader is the leader this server knows of, or raft.None.
func (s *Service) Leader() raft.NodeID { return raft.NodeID(s.leader.Load()) }

// Keys is the number of keys the server's state machine holds, and the index applied.
func (s *Service) Keys() (keys int, appliedIndex uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.Len(), s.store.Applied()
}

// Do carries out c through the log: it returns once c is applied, with what
// applying it gave. A server that is not the leader returns raft.ErrNotLeader.
func (s *Service) Do(ctx context.Context, c Command) (Reply, error) {
	if err := c.Validate(); err != nil {
		return Reply{}, err
	}
	cmd, _ := json.Marshal(c) // a struct of strings and numbers always encodes
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	index, term, err := s.rt.Propose(ctx, cmd)
	if err != nil {
		return Reply{}, err
	}
	w := make(chan applied, 1)
	s.mu.Lock()
	switch {
	case s.stopped:
		s.mu.Unlock()
		return Reply{}, errors.New("kv: the server stopped before the request was applied; retry it")
	case s.store.Applied() >= index:
		// Applied before this handler came to wait for it.
		if a := s.recent[index%recentSize]; a.index == index {
			w <- a
		} else {
			close(w)
		}
	default:
		s.waiters[index] = w
	}
	s.mu.Unlock()
	select {
	case a, ok := <-w:
		switch {
		case !ok:
			return Reply{}, errors.New("kv: the request's answer was lost (the server stopped or fell far behind); retry it with the same seq")
		case a.term != term:
			return Reply{}, fmt.Errorf("kv: this server lost its leadership before the request was committed (another entry took index %d); retry it with the same seq", index)
		}
		return Reply{Result: a.result, Index: index, Term: term, Server: s.self}, nil
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.waiters, index)
		s.mu.Unlock()
		return Reply{}, fmt.Errorf("kv: the request was not committed within %v (is a majority of servers up and connected?); retry it with the same seq", s.timeout)
	}
}

// ServeHTTP serves PUT, GET and DELETE Path+key. PUT's body is the value.
// The query parameters client and seq (both or neither) make a retried
// request apply once.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, status, err := parseRequest(r)
	if err != nil {
		s.reply(w, status, Reply{Error: err.Error()})
		return
	}
	rep, err := s.Do(r.Context(), c)
	var nl raft.ErrNotLeader
	switch {
	case errors.As(err, &nl):
		rep := Reply{Leader: nl.Leader, LeaderURL: s.urls[nl.Leader]}
		if nl.Leader == raft.None || nl.Leader == s.self {
			rep.Error = "kv: no leader is known yet (an election is under way); retry shortly"
			s.reply(w, http.StatusServiceUnavailable, rep)
			return
		}
		rep.Error = fmt.Sprintf("kv: server %v is not the leader; send the request to %v at %s", s.self, nl.Leader, rep.LeaderURL)
		w.Header().Set("Location", rep.LeaderURL+r.URL.RequestURI())
		s.reply(w, http.StatusMisdirectedRequest, rep)
	case err != nil && (errors.Is(err, context.Canceled) || r.Context().Err() != nil):
		// The client went away; nobody reads an answer.
	case err != nil:
		s.reply(w, http.StatusServiceUnavailable, Reply{Error: err.Error()})
	default:
		status := http.StatusOK
		if c.Op == OpGet && !rep.Found {
			status = http.StatusNotFound
		}
		s.reply(w, status, rep)
	}
}

func (s *Service) reply(w http.ResponseWriter, status int, rep Reply) {
	rep.Server = s.self
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rep)
}

// parseRequest reads a Command from an API request.
func parseRequest(r *http.Request) (Command, int, error) {
	var c Command
	switch r.Method {
	case http.MethodPut:
		c.Op = OpPut
	case http.MethodGet:
		c.Op = OpGet
	case http.MethodDelete:
		c.Op = OpDelete
	default:
		return c, http.StatusMethodNotAllowed, fmt.Errorf("kv: method %s: use PUT, GET or DELETE %skey", r.Method, Path)
	}
	if len(r.URL.Path) <= len(Path) || r.URL.Path[:len(Path)] != Path {
		return c, http.StatusBadRequest, fmt.Errorf("kv: no key in %q: use %skey", r.URL.Path, Path)
	}
	c.Key = r.URL.Path[len(Path):]
	q := r.URL.Query()
	for _, f := range []struct {
		name string
		v    *uint64
	}{{"client", &c.Client}, {"seq", &c.Seq}} {
		if s := q.Get(f.name); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return c, http.StatusBadRequest, fmt.Errorf("kv: %s=%q is not a whole number", f.name, s)
			}
			*f.v = n
		}
	}
	if c.Op == OpPut {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxValueBytes+1))
		if err != nil {
			return c, http.StatusBadRequest, fmt.Errorf("kv: reading the value: %v", err)
		}
		c.Value = string(body)
	}
	if err := c.Validate(); err != nil {
		return c, http.StatusBadRequest, err
	}
	return c, 0, nil
}
