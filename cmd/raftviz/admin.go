package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raftlab/raftlab/raft"
)

// The admin endpoints of a node (its events, and cutting it off from peers)
// are for the cluster's operator only: each request carries
//
//	Raftviz-Admin: <unix seconds> <hex HMAC-SHA256>
//
// made with the cluster secret over a fixed prefix, the time, the method,
// the path with its query, and the body. A node refuses a request whose mac
// fails or whose time is more than adminSkew away from its own clock. Within
// that window a recorded request could be sent again; every admin request
// sets a state (it does not toggle one), so a replay only repeats it.
const adminHeader = "Raftviz-Admin"

const adminSkew = 60 * time.Second

func adminMAC(secret []byte, ts, method, uri string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	fmt.Fprintf(h, "raftviz-admin-v1\n%s\n%s\n%s\n", ts, method, uri)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// signAdmin adds the admin header to req, whose body is body.
func signAdmin(req *http.Request, secret, body []byte) {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set(adminHeader, ts+" "+adminMAC(secret, ts, req.Method, req.URL.RequestURI(), body))
}

// requireAdmin lets through only requests signed with secret. It reads the
// body (at most 1 MiB) to check it, and hands the handler a fresh copy.
func requireAdmin(secret []byte, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := strings.Fields(r.Header.Get(adminHeader))
		if len(f) != 2 {
			http.Error(w, "raftviz: admin request refused: no "+adminHeader+" header (only the cluster's operator, who holds the secret, may do this)", http.StatusForbidden)
			return
		}
		ts, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			http.Error(w, "raftviz: admin request refused: the "+adminHeader+" header has no time", http.StatusForbidden)
			return
		}
		if d := time.Since(time.Unix(ts, 0)); d > adminSkew || d < -adminSkew {
			http.Error(w, fmt.Sprintf("raftviz: admin request refused: it was signed %v away from this server's clock (more than %v); sync the clocks", d.Round(time.Second), adminSkew), http.StatusForbidden)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "raftviz: reading the admin request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !hmac.Equal([]byte(f[1]), []byte(adminMAC(secret, f[0], r.Method, r.URL.RequestURI(), body))) {
			http.Error(w, "raftviz: admin request refused: its signature fails (another cluster secret, or the request was changed)", http.StatusForbidden)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// cutSet is the peers a node is cut off from: it drops the messages it would
// send them and the messages they send it — a partition made in the
// transport, between the processes.
type cutSet struct {
	mu  sync.RWMutex
	ids map[raft.NodeID]bool
}

func (c *cutSet) has(id raft.NodeID) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ids[id]
}

func (c *cutSet) set(ids []raft.NodeID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = map[raft.NodeID]bool{}
	for _, id := range ids {
		c.ids[id] = true
	}
}

func (c *cutSet) list() []raft.NodeID {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := make([]raft.NodeID, 0, len(c.ids))
	for id := range c.ids {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// cutRequest is the body of POST /admin/cut and of its answer.
type cutRequest struct {
	// Peers is the whole set of peers to be cut off from ([] heals).
	Peers []raft.NodeID `json:"peers"`
}

// serveCut sets (POST) or reports (GET) the peers a node is cut off from.
func serveCut(c *cutSet, self raft.NodeID, peers []raft.Peer, hub *eventHub) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			var req cutRequest
			dec := json.NewDecoder(r.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				http.Error(w, `raftviz: the body is not {"peers":[ids]}: `+err.Error(), http.StatusBadRequest)
				return
			}
			for _, id := range req.Peers {
				if id == self || !slices.ContainsFunc(peers, func(p raft.Peer) bool { return p.ID == id }) {
					http.Error(w, fmt.Sprintf("raftviz: %v is not another server of the cluster", id), http.StatusBadRequest)
					return
				}
			}
			c.set(req.Peers)
			if hub.active() {
				groups := [][]raft.NodeID{{self}}
				if len(req.Peers) == 0 {
					groups = nil
				} else {
					groups = append(groups, c.list())
				}
				hub.emit(raft.Event{Kind: raft.EvPartition, Groups: groups, Text: "cut off from " + fmt.Sprint(c.list())})
			}
		} else if r.Method != http.MethodGet {
			http.Error(w, "raftviz: use GET or POST /admin/cut", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(cutRequest{Peers: c.list()})
	}
}

// dropCut wraps the RPC handler: a message from a peer this node is cut off
// from is dropped unread. The sender is read from the (not yet verified)
// auth header; a forger naming a cut-off peer only gets its message dropped.
func dropCut(c *cutSet, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := strings.Fields(r.Header.Get(raft.AuthHeader)); len(f) >= 2 {
			if id, err := strconv.Atoi(f[1]); err == nil && c.has(raft.NodeID(id)) {
				http.Error(w, "raftviz: dropped: this server is cut off from "+raft.NodeID(id).String(), http.StatusServiceUnavailable)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
