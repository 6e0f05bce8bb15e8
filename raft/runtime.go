package raft

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Runtime drives a Node in real time, for using an implementation for real:
// one goroutine ticks it every TickInterval, steps it on every message the
// Transport delivers, hands it proposals, and carries out what it does —
// saving to Storage before the messages of the same step are sent, sending
// through the Transport, and delivering committed entries on Applied. The
// Node itself stays a deterministic state machine; all the concurrency is here.
//
// NewRaft returns a *Runtime, not a *Raft: in this package the Raft protocol
// is the Node (an implementation's code), and the Runtime is what runs one
// for real. The constructor keeps the name users of other Raft libraries
// look for (hashicorp/raft's NewRaft).
type Runtime struct {
	cfg       Config
	newNode   Constructor
	store     Storage
	transport Transport

	inbox     chan Message
	proposals chan proposal
	statuses  chan chan Status
	applied   chan Entry

	watchMu  sync.Mutex
	watchers []chan LeaderInfo // each a buffer of one: the newest value wins
	leader   LeaderInfo        // the last value sent to watchers

	rpcsRefused  atomic.Uint64
	inboxDropped atomic.Uint64

	sm            StateMachine // nil: entries go to Applied (see SetStateMachine)
	snapshotEvery uint64
	snapshots     atomic.Uint64
	restores      atomic.Uint64

	done    chan struct{}
	mu      sync.Mutex
	err     error
	started bool
	logf    func(format string, args ...any)
}

// Transport carries a cluster's messages. Send must not block for long: a
// transport that cannot deliver a message drops it, as a network may.
type Transport interface {
	Send(m Message)
}

// ErrNotLeader is returned by Propose on a server that is not the leader.
// Leader says which server leads, when this one knows.
type ErrNotLeader struct{ Leader NodeID }

func (e ErrNotLeader) Error() string {
	if e.Leader == None {
		return "raft: this server is not the leader, and knows of none yet"
	}
	return fmt.Sprintf("raft: this server is not the leader; %v is", e.Leader)
}

type proposal struct {
	cmd   []byte
	reply chan proposed
}

type proposed struct {
	index, term uint64
	leader      NodeID
	ok          bool
}

// RuntimeOptions are optional settings of a Runtime.
type RuntimeOptions struct {
	// Logf receives the node's notes (Env.Logf); nil drops them.
	Logf func(format string, args ...any)
	// InboxSize bounds the messages waiting for the node; more are dropped (default 1024).
	InboxSize int
	// AppliedBuffer bounds the committed entries waiting on Applied
	// (default 1024). When that many wait, the server waits for its reader:
	// it takes no message, tick or proposal until one is read. No entry is
	// ever dropped.
	AppliedBuffer int
	// SnapshotEvery, if not 0, has the server compact its log (stage 4,
	// section 7 of the Raft paper) each time its state machine has applied
	// SnapshotEvery entries past its last snapshot: the runtime takes the
	// state machine's snapshot and hands it to the node, which discards its
	// log through that index. It needs a StateMachine (SetStateMachine), a
	// node that implements Compactor, and a SnapshotStorage (NewInmemStore
	// and OpenFileStore are). 0, the default, never compacts: the log and
	// the store grow with every entry. See the package documentation.
	SnapshotEvery uint64
}

// LeaderInfo is what WatchLeader reports: the leader a server knows of and
// its term. Self says whether the leader is that server itself — the same as
// ID == Config().ID — so a program can tell whether to serve a request or
// forward it to the leader.
type LeaderInfo struct {
	// ID is the leader, or None while the server knows of none.
	ID NodeID
	// Term is the server's currentTerm when it learnt of this leader.
	Term uint64
	// Self is true when this server is the leader.
	Self bool
}

func (l LeaderInfo) String() string {
	if l.ID == None {
		return fmt.Sprintf("no leader known in term %d", l.Term)
	}
	if l.Self {
		return fmt.Sprintf("%v leads term %d (this server)", l.ID, l.Term)
	}
	return fmt.Sprintf("%v leads term %d", l.ID, l.Term)
}

// NewRaft prepares a server: cfg says who it is, newNode which implementation
// runs, store where its state lives (what it holds is restored), transport how
// its messages travel. Start runs it. (It returns a *Runtime: see Runtime.)
func NewRaft(cfg Config, newNode Constructor, store Storage, transport Transport, opts RuntimeOptions) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if newNode == nil || store == nil || transport == nil {
		return nil, errors.New("raft: NewRaft needs an implementation, a Storage and a Transport")
	}
	if opts.InboxSize <= 0 {
		opts.InboxSize = 1024
	}
	if opts.AppliedBuffer <= 0 {
		opts.AppliedBuffer = 1024
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Runtime{
		cfg: cfg, newNode: newNode, store: store, transport: transport,
		inbox:         make(chan Message, opts.InboxSize),
		proposals:     make(chan proposal),
		statuses:      make(chan chan Status),
		applied:       make(chan Entry, opts.AppliedBuffer),
		leader:        LeaderInfo{ID: None},
		done:          make(chan struct{}),
		logf:          logf,
		snapshotEvery: opts.SnapshotEvery,
	}, nil
}

// Start loads the server's state from storage and runs it until ctx ends or
// storage fails (see Err). It returns at once.
func (r *Runtime) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("raft: this server has already been started; make a new Runtime to start it again")
	}
	saved, err := r.store.Load()
	if err != nil {
		return fmt.Errorf("raft: loading the server's state: %w", err)
	}
	var seed [16]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails on supported platforms
	env := &runtimeEnv{r: r, ctx: ctx, rng: rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))}
	if err := r.startStateMachine(saved, env); err != nil {
		return err
	}
	r.started = true
	node := r.newNode(r.cfg, saved, env)
	if node == nil {
		return errors.New("raft: the constructor returned a nil Node")
	}
	go r.loop(ctx, node, env)
	return nil
}

// Deliver hands the server a message from the network. A full inbox drops it.
func (r *Runtime) Deliver(m Message) {
	select {
	case r.inbox <- m:
	default:
		r.inboxDropped.Add(1)
	}
}

// RuntimeStats counts what a server refused or dropped since it was made.
type RuntimeStats struct {
	// RPCsRefused counts messages HandleRPC refused as unauthenticated,
	// tampered with or replayed: none of them reached the node.
	RPCsRefused uint64
	// InboxDropped counts messages dropped because the node's inbox was full.
	InboxDropped uint64
	// Snapshots counts the snapshots the server handed its node
	// (RuntimeOptions.SnapshotEvery); Restores, the times its state machine
	// was reset to a snapshot the node installed from its leader
	// (InstallSnapshot), not counting one restored at Start.
	Snapshots, Restores uint64
}

// Stats returns the server's counters.
func (r *Runtime) Stats() RuntimeStats {
	return RuntimeStats{RPCsRefused: r.rpcsRefused.Load(), InboxDropped: r.inboxDropped.Load(),
		Snapshots: r.snapshots.Load(), Restores: r.restores.Load()}
}

// Propose asks the server to add cmd to the replicated log. It returns the
// index and term the entry will have if it is committed; watch Applied to
// learn that it was. A server that is not the leader returns ErrNotLeader.
func (r *Runtime) Propose(ctx context.Context, cmd []byte) (index, term uint64, err error) {
	p := proposal{cmd: append([]byte(nil), cmd...), reply: make(chan proposed, 1)}
	select {
	case r.proposals <- p:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-r.done:
		return 0, 0, r.stopped()
	}
	select {
	case res := <-p.reply:
		if !res.ok {
			return 0, 0, ErrNotLeader{Leader: res.leader}
		}
		return res.index, res.term, nil
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

// Status reports the node's Status, read between two of its steps.
func (r *Runtime) Status(ctx context.Context) (Status, error) {
	reply := make(chan Status, 1)
	select {
	case r.statuses <- reply:
	case <-ctx.Done():
		return Status{}, ctx.Err()
	case <-r.done:
		return Status{}, r.stopped()
	}
	select {
	case st := <-reply:
		return st, nil
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
}

// Config returns the configuration the server was made with.
func (r *Runtime) Config() Config {
	c := r.cfg
	c.Peers = append([]Peer(nil), c.Peers...)
	return c
}

// Leader returns the leader this server knows of now, and its term.
func (r *Runtime) Leader() LeaderInfo {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	return r.leader
}

// WatchLeader returns a new channel that gives the leader this server knows
// of, and its term: first the current value, then each change (ID None while
// it knows of none). Each call makes its own channel, so several readers do
// not take values from each other; the channel lives as long as the server,
// so call WatchLeader once per reader, not once per request (Leader reads
// the current value). It never blocks the server: a channel holds one value,
// and a value not yet read is replaced by the newer one. The channel is
// never closed; watch Done to learn that the server stopped.
func (r *Runtime) WatchLeader() <-chan LeaderInfo {
	c := make(chan LeaderInfo, 1)
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	c <- r.leader
	r.watchers = append(r.watchers, c)
	return c
}

// notifyLeader tells every watcher of a new leader value. Only the server's
// goroutine sends on the watchers' channels, so emptying one and then
// sending cannot block.
func (r *Runtime) notifyLeader(l LeaderInfo) {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	r.leader = l
	for _, c := range r.watchers {
		select { // newest wins
		case <-c:
		default:
		}
		c <- l
	}
}

// Applied gives the committed entries, in index order, as the node applies
// them. After a restart it gives them again from index 1: the state machine
// is rebuilt from the log. A server with a StateMachine (SetStateMachine)
// applies entries to it instead, and Applied gives nothing. Nothing is dropped: at most
// RuntimeOptions.AppliedBuffer entries wait on it, and when that many do the
// server waits for them to be read (see AppliedBuffer) — so read it, from a
// goroutine that does not wait on this server. It is closed when the server
// stops.
func (r *Runtime) Applied() <-chan Entry { return r.applied }

// Done is closed when the server has stopped.
func (r *Runtime) Done() <-chan struct{} { return r.done }

// Err says why the server stopped early (a storage failure), or nil.
func (r *Runtime) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Runtime) stopped() error {
	if err := r.Err(); err != nil {
		return err
	}
	return errors.New("raft: the server has stopped")
}

func (r *Runtime) loop(ctx context.Context, node Node, env *runtimeEnv) {
	defer close(r.done)
	defer close(r.applied)
	ticker := time.NewTicker(r.cfg.TickInterval)
	defer ticker.Stop()
	last := LeaderInfo{ID: -1}
	after := func() bool {
		env.maybeSnapshot(node)
		if !env.flush() {
			return false
		}
		st := node.Status()
		if st.Leader != last.ID || (st.Leader != None && st.Term != last.Term) {
			last = LeaderInfo{ID: st.Leader, Term: st.Term, Self: st.Leader == r.cfg.ID && st.Leader != None}
			r.notifyLeader(last)
		}
		return true
	}
	if !after() {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			node.Tick()
		case m := <-r.inbox:
			node.Step(m)
		case p := <-r.proposals:
			index, term, ok := node.Propose(p.cmd)
			st := node.Status()
			p.reply <- proposed{index: index, term: term, ok: ok, leader: st.Leader}
		case reply := <-r.statuses:
			st := node.Status()
			st.Log = append([]Entry(nil), st.Log...)
			st.Progress = append([]Progress(nil), st.Progress...)
			reply <- st
			continue
		}
		if !after() {
			return
		}
	}
}

// runtimeEnv is the Env of a Runtime: saves go to storage at once, in call
// order; messages wait until the end of the step, so every save of a step
// reaches storage before any of its messages leaves.
type runtimeEnv struct {
	r      *Runtime
	ctx    context.Context // the server's run: an Apply waiting for a reader ends with it
	rng    *rand.Rand
	outbox []Message
	failed error
	// applied is the index of the last entry applied to the StateMachine
	// (or restored into it); lastSnap, of the last snapshot it took or
	// restored.
	applied, lastSnap uint64
}

func (e *runtimeEnv) Send(m Message) {
	if e.failed != nil {
		return
	}
	m.From = e.r.cfg.ID
	e.outbox = append(e.outbox, m.Clone())
}

func (e *runtimeEnv) SaveHardState(hs HardState) {
	if e.failed == nil {
		e.fail(e.r.store.SaveHardState(hs))
	}
}

func (e *runtimeEnv) SaveLog(from uint64, entries []Entry) {
	if e.failed == nil {
		e.fail(e.r.store.SaveLog(from, entries))
	}
}

// fail stops the server at a storage error: it must not send what depends
// on a save that did not happen.
func (e *runtimeEnv) fail(err error) {
	if err == nil {
		return
	}
	e.stop(fmt.Errorf("raft: %v stopped: storage failed: %w", e.r.cfg.ID, err))
}

// stop stops the server at err: nothing more of the step is saved or sent.
func (e *runtimeEnv) stop(err error) {
	e.failed = err
	e.outbox = nil
	e.r.mu.Lock()
	e.r.err = err
	e.r.mu.Unlock()
}

// Apply hands en to the reader of Applied, waiting while AppliedBuffer
// entries wait there: the server's backpressure. If the server is stopped
// meanwhile, the rest of the step is abandoned (nothing more is saved or
// sent); a restart delivers the entries again from the log.
func (e *runtimeEnv) Apply(en Entry) {
	if e.failed != nil {
		return
	}
	en.Command = append([]byte(nil), en.Command...)
	if e.r.sm != nil {
		e.r.sm.Apply(en)
		e.applied = en.Index
		return
	}
	select {
	case e.r.applied <- en:
	case <-e.ctx.Done():
		e.failed = e.ctx.Err()
		e.outbox = nil
	}
}

func (e *runtimeEnv) Rand() *rand.Rand { return e.rng }

func (e *runtimeEnv) Logf(format string, args ...any) {
	e.r.logf("%v: "+format, append([]any{e.r.cfg.ID}, args...)...)
}

// flush sends the step's messages; false if storage has failed or the
// server was stopped in the middle of the step.
func (e *runtimeEnv) flush() bool {
	if e.failed != nil {
		return false
	}
	for _, m := range e.outbox {
		e.r.transport.Send(m)
	}
	clear(e.outbox)
	e.outbox = e.outbox[:0]
	return true
}
