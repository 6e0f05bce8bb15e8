// Package raft is the contract every Raft implementation of the lab shares,
// and the runtime that runs one for real.
//
// # A server is a deterministic state machine
//
// An implementation — the reference in package solutions, or a student's in
// package exercises — is a Node: a value with four methods, called one at a
// time by a runtime.
//
//	Tick()                           one TickInterval of its clock has passed
//	Step(m Message)                  a message arrived from another server
//	Propose(cmd []byte) (index, term, isLeader)   a client asks to add a command
//	Status() Status                  what an observer may see
//
// A Node never starts a goroutine, reads the clock, sleeps, takes a lock or
// uses the global random source. It acts only through the Env it was built
// with: Send a message, SaveHardState and SaveLog to storage, Apply a committed
// entry, draw from Rand, write a note with Logf. The runtime carries out those
// actions in the order the node made them, so a node that saves before it
// sends knows its state is stored before the message leaves.
//
// Because of this one rule, a run is a pure function of its seed and of what
// happened from outside: the lab's simulator can replay any run exactly, test
// it at hundreds of seeds a second in virtual time, and show it in a browser
// one event at a time.
//
// # Messages
//
// Message carries the RPCs of Figure 2 of the Raft paper — RequestVote,
// AppendEntries and their replies — with Figure 2's field names, plus the
// reason a request was refused (Reject) and the hints for backing up a
// follower quickly (ConflictIndex, ConflictTerm). Every message has one short
// text form, used in traces, test failures and the browser:
//
//	n1->n2 RequestVote term=3 last=5/2
//	n1->n2 AppendEntries term=3 prev=5/2 entries=6..8 commit=5
//	n2->n1 AppendEntriesReply term=3 refused=term-mismatch conflict=4/2
//
// # Storage
//
// Storage keeps a server's HardState (currentTerm, votedFor) and its log.
// NewInmemStore keeps them in memory — it survives the lab's simulated
// crashes; OpenFileStore keeps them in one crash-safe file, for real use.
//
// # Running for real
//
// NewRaft wraps a Node in a Runtime with real goroutines: Start ticks it with a
// wall-clock ticker, Deliver (or HandleRPC, over HTTP) feeds it messages,
// Propose submits commands, Applied yields committed entries in order and
// WatchLeader reports leadership changes. NewHTTPTransport carries messages
// between processes; NewInmemNetwork connects Runtimes in one process.
//
//	store, _ := raft.OpenFileStore("n1.store")
//	transport, _ := raft.NewHTTPTransport(cfg.Peers, cfg.ID)
//	r, _ := raft.NewRaft(cfg, solutions.New, store, transport, raft.RuntimeOptions{})
//	http.Handle(raft.RPCPath, r.HandleRPC())
//	r.Start(ctx)
//	for e := range r.Applied() { apply(e.Command) }
package raft
