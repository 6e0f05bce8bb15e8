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
// NewRaft wraps a Node in a Runtime with real goroutines: Start ticks it with
// a wall-clock ticker, Deliver (or HandleRPC, over HTTP) feeds it messages,
// Propose submits commands, Applied yields committed entries in order,
// Config says who the server is, and Leader and WatchLeader say who leads:
// a LeaderInfo with the leader's ID, its term, and Self, true on the leader
// itself. NewHTTPTransport carries messages between processes;
// NewInmemNetwork connects Runtimes in one process. This is the package's
// Example, which runs as written (go test -run Example ./raft):
//
//	peers := []raft.Peer{
//		{ID: 1, Address: "127.0.0.1:8001"},
//		{ID: 2, Address: "127.0.0.1:8002"},
//		{ID: 3, Address: "127.0.0.1:8003"},
//	}
//	network := raft.NewInmemNetwork()
//	servers := map[raft.NodeID]*raft.Runtime{}
//	changes := map[raft.NodeID]<-chan raft.LeaderInfo{}
//	for _, p := range peers {
//		config := raft.DefaultConfig() // ElectionTimeout, HeartbeatTimeout, MaxAppendEntries, ...
//		config.ID, config.Peers = p.ID, peers
//		r, err := raft.NewRaft(config, solutions.New, raft.NewInmemStore(), network.Transport(), raft.RuntimeOptions{})
//		...
//		network.Attach(p.ID, r)
//		servers[p.ID], changes[p.ID] = r, r.WatchLeader()
//		r.Start(ctx)
//	}
//
//	// submit is what a server does with a client's command.
//	submit = func(r *raft.Runtime, cmd string) error {
//		for leader := r.Leader(); ; leader = <-changes[r.Config().ID] {
//			switch {
//			case leader.ID == raft.None:
//				continue // an election is under way: wait for its winner
//			case leader.ID != r.Config().ID: // the same as !leader.Self
//				return submit(servers[leader.ID], cmd) // forward it to the leader
//			}
//			_, _, err := r.Propose(ctx, []byte(cmd))
//			if _, lost := err.(raft.ErrNotLeader); !lost {
//				return err // nil: proposed; Applied will say when it is committed
//			}
//		}
//	}
//	submit(servers[2], "x=1")
//	for _, p := range peers {
//		e := <-servers[p.ID].Applied()
//		fmt.Printf("%v applied %q at index %d\n", p.ID, e.Command, e.Index)
//	}
//	// n1 applied "x=1" at index 1 (and the same on n2, n3)
//
// Between processes, each server makes an HTTPTransport with the cluster
// secret and serves HandleRPC at RPCPath on its Address:
//
//	secret := []byte(os.Getenv("RAFT_SECRET")) // the same 32+ random bytes on every server
//	store, _ := raft.OpenFileStore("n1.store")
//	transport, _ := raft.NewHTTPTransport(config.Peers, config.ID, raft.HTTPOptions{Secret: secret})
//	r, _ := raft.NewRaft(config, solutions.New, store, transport, raft.RuntimeOptions{})
//	http.Handle(raft.RPCPath, r.HandleRPC())
//
// `raftviz node` is such a server, with a key/value API; `raftviz cluster`
// starts several on one machine.
//
// # Log compaction
//
// By default a Runtime never compacts: every entry stays in the node's log
// and in the store, and Applied gives the entries to whoever reads it. To
// bound them (section 7 of the Raft paper; stage 4 of the lab), give the
// server a StateMachine with SetStateMachine before Start, and set
// RuntimeOptions.SnapshotEvery to N: the runtime then applies each committed
// entry to the state machine itself, and each time it has applied N entries
// past its last snapshot it hands the node the state machine's Snapshot
// (Compactor); the node discards its log through that index and saves the
// snapshot to its SnapshotStorage — OpenFileStore rewrites its file to the
// hard state, the snapshot and the log after it. A follower behind the
// leader's snapshot receives it in InstallSnapshot, and the runtime
// Restores its state machine from it; a restart restores it from the stored
// snapshot, then applies the log after it. The default is off because only
// the program knows its state machine, and because a node must implement
// stage 4 for it: a node written for stages 1–3 is never handed a snapshot
// under the default options. kv.NewService is such a state machine (the map
// and its client table); `raftviz node` snapshots every 1,000 entries
// (-snapshot-every), when its implementation has begun stage 4.
//
// How this API differs from hashicorp/raft's, and why:
//
//   - NewRaft takes the implementation (a Constructor) as an argument,
//     because the lab runs the reference or a student's code, and returns a
//     *Runtime: the protocol is the Node, the Runtime what runs it for real.
//   - NewRaft takes the Transport: the same server runs over HTTP between
//     processes, or over an InmemNetwork in tests and examples.
//   - Server IDs are numbers (NodeID: 1, 2, …), because Figure 2's votedFor
//     and every message carry them; their text form is n1, n2, …, which
//     ParseNodeID and ParsePeers read back ("n1=127.0.0.1:8001,…").
//   - Applied is a channel of at most RuntimeOptions.AppliedBuffer entries:
//     when the reader falls that far behind, the server waits for it rather
//     than dropping an entry or growing without bound. Read it from a
//     goroutine of its own.
//
// # Peers authenticate
//
// A Raft server believes what its peers tell it: one AppendEntries with a high
// term from a stranger would make a follower cut its log and so break State
// Machine Safety. So every message the HTTP transport sends carries, in the
// Raft-Auth header, an HMAC-SHA256 keyed with the cluster secret over the
// whole body and over its sender, its receiver, the sender's boot epoch and a
// counter. HandleRPC steps a message only if that HMAC is right, the sender is
// a peer, the receiver is this server, the body names the same sender, and
// the (epoch, counter) is newer than every one accepted from that sender;
// anything else is answered 403 and counted in Stats().RPCsRefused. Without a
// secret NewHTTPTransport refuses to start; HTTPOptions.Insecure turns all of
// this off and is for tests only. The in-memory network does not
// authenticate: its messages never leave the process.
//
// Replay. The epoch is the sender's wall-clock time when its transport was
// made, in nanoseconds, and the counter rises by one per message. A receiver
// remembers, per sender, the newest (epoch, counter) it accepted, and refuses
// an older epoch or, within one epoch, a counter already passed. So:
//
//   - a captured message replayed while its sender runs is refused (its
//     counter has been passed), and so is one from an earlier boot, once the
//     receiver has heard from the current one;
//   - a restarted sender is accepted at once: its new epoch is later. It is
//     refused only if its clock went back past its previous boot — and then
//     only until the clock passes that time again, or the receiver restarts.
//   - a restarted receiver remembers nothing, so until it first hears from a
//     sender's current boot, an attacker can replay that sender's old
//     messages to it, each at most once per boot, in order. That gains
//     nothing: a replayed message is a genuine message delivered late, and
//     Raft is safe under messages that are delayed, duplicated and reordered
//     (section 5.1, "messages may be lost, delayed or duplicated"); it cannot
//     carry a term or an entry its sender never sent. An attacker on the
//     path can also drop messages, which no authentication prevents: that
//     costs liveness, never safety.
//
// The secret is the whole of the trust: anyone who has it is a member. Keep
// it out of the source and the command line. Messages are signed, not
// encrypted: use https addresses (and a Client that trusts them) to keep
// commands private.
package raft
