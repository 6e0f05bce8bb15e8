package raft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// RPCPath is where a server receives messages over HTTP (see HandleRPC).
const RPCPath = "/raft/message"

// maxRPCBytes bounds the body of one message over HTTP.
const maxRPCBytes = 64 << 20

// HandleRPC returns the handler that receives this server's messages: POST
// RPCPath with the JSON form of a Message and its AuthHeader. It needs the
// server's Transport to be an HTTPTransport, which holds the cluster secret.
//
// A message is stepped only if it proves it comes from a peer (see the
// package doc, "Peers authenticate"); anything else is answered 403 with the
// reason, counted in Stats().RPCsRefused, and dropped. A malformed body is
// answered 400, a good message 204.
func (r *Runtime) HandleRPC() http.Handler {
	t, _ := r.transport.(*HTTPTransport)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "raft: send messages with POST", http.StatusMethodNotAllowed)
			return
		}
		if t == nil {
			r.rpcsRefused.Add(1)
			http.Error(w, "raft: this server's transport is not an HTTPTransport, so it has no cluster secret to check messages with; build it with NewHTTPTransport", http.StatusForbidden)
			return
		}
		header := req.Header.Get(AuthHeader)
		if t.auth != nil && header == "" {
			// Refused before the body is read: a stranger costs no memory.
			r.rpcsRefused.Add(1)
			http.Error(w, fmt.Sprintf("raft: message refused: no %s header: every server of the cluster must be given the cluster secret", AuthHeader), http.StatusForbidden)
			return
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, maxRPCBytes+1))
		if err != nil {
			http.Error(w, "raft: reading the message: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > maxRPCBytes {
			http.Error(w, fmt.Sprintf("raft: a message over %d bytes", maxRPCBytes), http.StatusRequestEntityTooLarge)
			return
		}
		from := None
		if t.auth != nil {
			if from, err = t.auth.verify(header, body); err != nil {
				r.rpcsRefused.Add(1)
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
		}
		var m Message
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			http.Error(w, "raft: the body is not a message: "+err.Error(), http.StatusBadRequest)
			return
		}
		if from != None && m.From != from {
			// Signed by one peer but naming another as its sender.
			r.rpcsRefused.Add(1)
			http.Error(w, fmt.Sprintf("raft: message refused: signed by %v but names %v as its sender", from, m.From), http.StatusForbidden)
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

// HTTPOptions are the settings of an HTTPTransport.
type HTTPOptions struct {
	// Secret is the cluster secret, the same on every server, at least
	// MinSecretBytes long: every message carries an HMAC made with it, and a
	// message without a valid one is refused. Keep it out of the source.
	Secret []byte
	// Insecure turns authentication off: messages are sent unsigned and any
	// message naming a peer is stepped. FOR TESTS ONLY — anyone who can reach
	// the port can then forge a message and break the cluster's safety.
	Insecure bool
	// Client sends the messages (default: a client with a 2s timeout).
	Client *http.Client
}

// HTTPTransport sends messages to each peer's HandleRPC over HTTP, in order,
// from one goroutine per peer, each signed with the cluster secret; the
// server's HandleRPC checks what arrives with the same secret. A peer that
// does not answer loses messages, as a network would; Raft retries what
// matters.
type HTTPTransport struct {
	auth   *authenticator // nil only when Insecure
	client *http.Client
	queues map[NodeID]chan Message
	urls   map[NodeID]string
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// NewHTTPTransport sends to the peers at their Address (HOST:PORT, or a base
// URL such as https://10.0.0.2:7000; see PeerURL), skipping self, signing every message with
// opts.Secret. It refuses to start without a secret unless opts.Insecure.
func NewHTTPTransport(peers []Peer, self NodeID, opts HTTPOptions) (*HTTPTransport, error) {
	t := &HTTPTransport{
		client: opts.Client,
		queues: map[NodeID]chan Message{},
		urls:   map[NodeID]string{},
		done:   make(chan struct{}),
	}
	if t.client == nil {
		t.client = &http.Client{Timeout: 2 * time.Second}
	}
	switch {
	case opts.Insecure && len(opts.Secret) > 0:
		return nil, errors.New("raft: HTTPOptions has both a Secret and Insecure; drop Insecure (it is for tests only)")
	case !opts.Insecure:
		if len(opts.Secret) == 0 {
			return nil, errors.New("raft: NewHTTPTransport needs the cluster secret (HTTPOptions.Secret, the same on every server) so that peers can prove who they are; Insecure turns this off, for tests only")
		}
		auth, err := newAuthenticator(opts.Secret, self, peers)
		if err != nil {
			return nil, err
		}
		t.auth = auth
	}
	for _, p := range peers {
		if p.ID == self {
			continue
		}
		base, err := PeerURL(p.Address)
		if err != nil {
			return nil, fmt.Errorf("raft: peer %v has %w", p.ID, err)
		}
		t.urls[p.ID] = base + RPCPath
	}
	for id, url := range t.urls {
		q := make(chan Message, 1024)
		t.queues[id] = q
		t.wg.Add(1)
		go t.sendLoop(id, url, q)
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

func (t *HTTPTransport) sendLoop(to NodeID, url string, q chan Message) {
	defer t.wg.Done()
	for {
		select {
		case <-t.done:
			return
		case m := <-q:
			body := m.AppendJSON(nil)
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				continue
			}
			req.Header.Set("Content-Type", "application/json")
			if t.auth != nil {
				// Signed here, in sending order, so each peer sees counters rise.
				req.Header.Set(AuthHeader, t.auth.sign(to, body))
			}
			resp, err := t.client.Do(req)
			if err != nil {
				continue // lost, as on any network
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
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
// each gets a Transport that delivers straight to the others. It does not
// authenticate: its messages never leave the process, so only code already
// running inside it could forge one. Servers can be
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
