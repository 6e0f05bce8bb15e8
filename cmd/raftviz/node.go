package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/lab/grade"
	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/raft/kv"
)

// nodeOptions are what `raftviz node` runs with.
type nodeOptions struct {
	impl   lab.Implementation
	cfg    raft.Config
	dir    string
	secret []byte
	listen string
	// snapshotEvery is raft.RuntimeOptions.SnapshotEvery (0 for a stage 4 not begun).
	snapshotEvery uint64
}

func nodeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("node", "node -id N -peers 1=HOST:PORT,2=HOST:PORT,... -dir DIR -secret-file FILE [-impl NAME] [-listen HOST:PORT]", stderr)
	implOf := implFlag(fs, "solutions", "implementation to run")
	id := fs.String("id", "", "this server's ID, one of those in -peers (3 or n3)")
	peers := fs.String("peers", "", "every server of the cluster, this one included: ID=HOST:PORT,... (its Raft messages, key/value API and admin endpoints share that address)")
	dir := fs.String("dir", "", "folder of this server's store (created if missing); restart a server with the same folder")
	secret := fs.String("secret", "", "the cluster secret, the same on every server, at least 32 bytes (other users can read it in the process list: prefer -secret-file)")
	secretFile := fs.String("secret-file", "", "file holding the cluster secret")
	listen := fs.String("listen", "", "address to listen on (default: this server's address in -peers)")
	def := raft.DefaultConfig()
	election := fs.Duration("election-timeout", def.ElectionTimeout, "shortest wait without a leader before an election (each wait is drawn from [t, 2t))")
	heartbeat := fs.Duration("heartbeat", def.HeartbeatTimeout, "how often a leader sends AppendEntries when idle")
	snapshotEvery := fs.Uint64("snapshot-every", 1000, "compact the log with a snapshot of the key/value state every N applied entries (stage 4; 0 never; an implementation that has not begun stage 4 never compacts)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	impl, err := implOf()
	if err != nil {
		return err
	}
	if err := canServe(impl); err != nil {
		return err
	}
	opts := nodeOptions{impl: impl, dir: *dir, listen: *listen, snapshotEvery: *snapshotEvery}
	if st, err := grade.CheckStage(impl, 4); err != nil || !st.Started {
		opts.snapshotEvery = 0 // a student's stage 4 stubs are never asked to compact
	}
	opts.cfg = def
	if opts.cfg.ID, err = raft.ParseNodeID(*id); *id != "" && err != nil {
		return usagef("-id: %v", strings.TrimPrefix(err.Error(), "raft: "))
	}
	opts.cfg.ElectionTimeout, opts.cfg.HeartbeatTimeout = *election, *heartbeat
	if opts.cfg.Peers, err = parsePeers(*peers); err != nil {
		return err
	}
	if *id == "" {
		return usagef("-id is required: give this server's ID, one of those in -peers")
	}
	if err := opts.cfg.Validate(); err != nil {
		return usagef("%v", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if *dir == "" {
		return usagef("-dir is required: the folder of this server's store")
	}
	if opts.secret, err = readSecret(*secret, *secretFile); err != nil {
		return err
	}
	if opts.listen == "" {
		for _, p := range opts.cfg.Peers {
			if p.ID == opts.cfg.ID {
				opts.listen = strings.TrimPrefix(p.Address, "http://")
			}
		}
	}
	return runNode(ctx, opts, stdout)
}

// canServe refuses to run real servers of an implementation that has not
// begun stage 1: its servers would never elect a leader, and nothing would
// say why. One sentence says where to start.
func canServe(impl lab.Implementation) error {
	st, err := grade.CheckStage(impl, 1)
	if err != nil || st.Started {
		return nil
	}
	file := ""
	for _, s := range grade.Stages {
		if s.Number == 1 {
			file = s.File
		}
	}
	return fmt.Errorf("-impl %s: stage 1 (%s) is not implemented yet — its functions are still the r.todo stubs, so these servers would never elect a leader; start with the handout %s/STAGE1.md and the stubs in %s/%s",
		impl.Name, grade.StageName(1), impl.Dir, impl.Dir, file)
}

// parsePeers reads -peers: 1=127.0.0.1:7001,2=127.0.0.1:7002,... (or
// n1=..., see raft.ParsePeers), each address HOST:PORT with a fixed port.
func parsePeers(s string) ([]raft.Peer, error) {
	if strings.TrimSpace(s) == "" {
		return nil, usagef("-peers is required: every server as ID=HOST:PORT, comma-separated, e.g. 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003")
	}
	peers, err := raft.ParsePeers(s)
	if err != nil {
		return nil, usagef("-peers: %v", strings.TrimPrefix(err.Error(), "raft: "))
	}
	for i, p := range peers {
		addr := strings.TrimPrefix(p.Address, "http://")
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
			return nil, usagef("-peers: server %d's address %q is not HOST:PORT with a fixed port", p.ID, addr)
		}
		peers[i].Address = "http://" + addr
	}
	return peers, nil
}

// readSecret takes the cluster secret from -secret or from -secret-file.
func readSecret(secret, file string) ([]byte, error) {
	switch {
	case secret != "" && file != "":
		return nil, usagef("give the cluster secret once: -secret or -secret-file, not both")
	case secret != "":
		return checkSecret([]byte(secret), "-secret")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, usagef("-secret-file: %v", err)
		}
		return checkSecret([]byte(strings.TrimSpace(string(b))), "-secret-file "+file)
	}
	return nil, usagef("the cluster secret is required (-secret-file FILE, or -secret): every server must hold the same one, so that only they can send each other Raft messages; make one with `head -c 32 /dev/urandom | base64 > secret`")
}

func checkSecret(b []byte, from string) ([]byte, error) {
	if len(b) < raft.MinSecretBytes {
		return nil, usagef("%s: the cluster secret is %d bytes; it must be at least %d (e.g. `head -c 32 /dev/urandom | base64`)", from, len(b), raft.MinSecretBytes)
	}
	return b, nil
}

// nodeStatus is the body of GET /status.
type nodeStatus struct {
	ID           raft.NodeID   `json:"id"`
	PID          int           `json:"pid"`
	Role         raft.Role     `json:"role"`
	Term         uint64        `json:"term"`
	VotedFor     raft.NodeID   `json:"votedFor"`
	Leader       raft.NodeID   `json:"leader"`
	CommitIndex  uint64        `json:"commitIndex"`
	LastApplied  uint64        `json:"lastApplied"`
	LogLength    uint64        `json:"logLength"`
	Keys         int           `json:"keys"`
	CutFrom      []raft.NodeID `json:"cutFrom"`
	RPCsRefused  uint64        `json:"rpcsRefused"`
	InboxDropped uint64        `json:"inboxDropped"`
}

// runNode runs one server until ctx ends or its storage fails.
func runNode(ctx context.Context, o nodeOptions, stdout io.Writer) error {
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("making the store's folder: %w", err)
	}
	store, err := raft.OpenFileStore(filepath.Join(o.dir, "raft.store"))
	if err != nil {
		return err
	}
	defer store.Close()
	transport, err := raft.NewHTTPTransport(o.cfg.Peers, o.cfg.ID, raft.HTTPOptions{Secret: o.secret})
	if err != nil {
		return usagef("%v", err)
	}
	defer transport.Close()
	hub := newEventHub(o.cfg.ID)
	cut := &cutSet{}
	rt, err := raft.NewRaft(o.cfg, traced(o.impl.New, hub, cut), store, transport, raft.RuntimeOptions{SnapshotEvery: o.snapshotEvery})
	if err != nil {
		return err
	}
	svc := kv.NewService(rt, o.cfg.ID, o.cfg.Peers, kv.ServiceOptions{})
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another server using it?)", o.listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := rt.Start(ctx); err != nil {
		ln.Close()
		return err
	}

	mux := http.NewServeMux()
	mux.Handle(raft.RPCPath, dropCut(cut, rt.HandleRPC()))
	mux.Handle(kv.Path, svc)
	mux.Handle("/events", requireAdmin(o.secret, http.HandlerFunc(hub.serveEvents)))
	mux.Handle("/admin/cut", requireAdmin(o.secret, serveCut(cut, o.cfg.ID, o.cfg.Peers, hub)))
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := rt.Status(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		keys, _ := svc.Keys()
		stats := rt.Stats()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(nodeStatus{
			ID: st.ID, PID: os.Getpid(), Role: st.Role, Term: st.Term, VotedFor: st.VotedFor, Leader: st.Leader,
			CommitIndex: st.CommitIndex, LastApplied: st.LastApplied, LogLength: st.LastIndex(), Keys: keys,
			CutFrom: cut.list(), RPCsRefused: stats.RPCsRefused, InboxDropped: stats.InboxDropped,
		})
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		// Requests end with the server: event streams and waiting proposals
		// return at once on Ctrl-C.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "raftviz node %v (%s, pid %d): listening on http://%s — Raft messages at %s, key/value API at %s, store in %s\n",
		o.cfg.ID, o.impl.Name, os.Getpid(), ln.Addr(), raft.RPCPath, kv.Path, o.dir)

	var runErr error
	select {
	case <-ctx.Done():
	case <-rt.Done():
		runErr = rt.Err()
	case err := <-served:
		runErr = fmt.Errorf("serving: %w", err)
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 2*time.Second)
	defer done()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	<-rt.Done()
	if runErr == nil {
		runErr = rt.Err()
	}
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}
