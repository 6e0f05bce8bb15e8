package raft

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// RPCPath is where a server receives messages over HTTP (see HandleRPC).
const RPCPath = "/raft/message"

// maxRPCBytes bounds the body of one message over HTTP.
const maxRPCBytes = 64 << 20

// HandleRPC returns the handler that receives this server's messages: POST
// RPCPath with the JSON form of a Message. A malformed message is answered
// 400 with what is wrong; a good one 204.
func (r *Runtime) HandleRPC() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "raft: send messages with POST", http.StatusMethodNotAllowed)
			return
		}
		var m Message
		dec := json.NewDecoder(io.LimitReader(req.Body, maxRPCBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			http.Error(w, "raft: the body is not a message: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := r.checkIncoming(m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Deliver(m)
		w.WriteHeader(http.StatusNoContent)
	})
}

// checkIncoming refuses a message that cannot be for this server.
func (r *Runtime) checkIncoming(m Message) error {
	switch {
	case m.To != r.cfg.ID:
		return fmt.Errorf("raft: a message for %v arrived at %v", m.To, r.cfg.ID)
	case m.Type < RequestVote || m.Type > InstallSnapshotReply:
		return fmt.Errorf("raft: unknown message type %d", m.Type)
	}
	for _, p := range r.cfg.Peers {
		if p.ID == m.From && p.ID != r.cfg.ID {
			return nil
		}
	}
	return fmt.Errorf("raft: a message from %v, which is not a peer of %v", m.From, r.cfg.ID)
}

// HTTPTransport sends messages to each peer's HandleRPC over HTTP, in order,
// from one goroutine per peer. A peer that does not answer loses messages,
// as a network would; Raft retries what matters.
type HTTPTransport struct {
	client *http.Client
	queues map[NodeID]chan Message
	urls   map[NodeID]string
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// NewHTTPTransport sends to the peers at their Address (a base URL such as
// http://10.0.0.2:7000), skipping self.
func NewHTTPTransport(peers []Peer, self NodeID) (*HTTPTransport, error) {
	t := &HTTPTransport{
		client: &http.Client{Timeout: 2 * time.Second},
		queues: map[NodeID]chan Message{},
		urls:   map[NodeID]string{},
		done:   make(chan struct{}),
	}
	for _, p := range peers {
		if p.ID == self {
			continue
		}
		if !strings.HasPrefix(p.Address, "http://") && !strings.HasPrefix(p.Address, "https://") {
			return nil, fmt.Errorf("raft: peer %v has address %q: want a base URL such as http://10.0.0.2:7000", p.ID, p.Address)
		}
		t.urls[p.ID] = strings.TrimSuffix(p.Address, "/") + RPCPath
		q := make(chan Message, 1024)
		t.queues[p.ID] = q
		t.wg.Add(1)
		go t.sendLoop(t.urls[p.ID], q)
	}
	return t, nil
}

// Send queues m for its peer; a full queue drops it.
func (t *HTTPTransport) Send(m Message) {
	q, ok := t.queues[m.To]
	if !ok {
		return
	}
	select {
	case q <- m:
	default:
	}
}

func (t *HTTPTransport) sendLoop(url string, q chan Message) {
	defer t.wg.Done()
	for {
		select {
		case <-t.done:
			return
		case m := <-q:
			body, err := json.Marshal(m)
			if err != nil {
				continue
			}
			resp, err := t.client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				continue // lost, as on any network
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// Close stops the sending goroutines.
func (t *HTTPTransport) Close() {
	t.once.Do(func() { close(t.done) })
	t.wg.Wait()
}

// InmemNetwork connects Runtimes in one process, for tests and examples:
// each gets a Transport that delivers straight to the others. Servers can be
// cut off and reconnected.
type InmemNetwork struct {
	mu    sync.Mutex
	nodes map[NodeID]*Runtime
	cut   map[NodeID]bool
}

// NewInmemNetwork returns an empty network.
func NewInmemNetwork() *InmemNetwork {
	return &InmemNetwork{nodes: map[NodeID]*Runtime{}, cut: map[NodeID]bool{}}
}

// Attach connects r as server id, replacing any server attached as id before.
func (n *InmemNetwork) Attach(id NodeID, r *Runtime) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nodes[id] = r
}

// Cut cuts server id off the network (cut true) or reconnects it.
func (n *InmemNetwork) Cut(id NodeID, cut bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[id] = cut
}

// Transport returns a Transport that sends over this network.
func (n *InmemNetwork) Transport() Transport { return inmemTransport{n} }

type inmemTransport struct{ n *InmemNetwork }

func (t inmemTransport) Send(m Message) {
	t.n.mu.Lock()
	to, ok := t.n.nodes[m.To]
	cut := t.n.cut[m.From] || t.n.cut[m.To]
	t.n.mu.Unlock()
	if ok && !cut {
		to.Deliver(m)
	}
}
