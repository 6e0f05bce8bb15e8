package raft_test

import (
	"context"
	"fmt"
	"log"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// Three servers of the reference implementation in one process, on an
// in-memory network (between processes, NewHTTPTransport carries the same
// messages). A client's command goes to whichever server it reaches; that
// server compares the leader it knows with its own ID and either proposes
// the command or forwards it.
func Example() {
	peers := []raft.Peer{
		{ID: 1, Address: "127.0.0.1:8001"},
		{ID: 2, Address: "127.0.0.1:8002"},
		{ID: 3, Address: "127.0.0.1:8003"},
	}
	network := raft.NewInmemNetwork()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	servers := map[raft.NodeID]*raft.Runtime{}
	changes := map[raft.NodeID]<-chan raft.LeaderInfo{}
	for _, p := range peers {
		config := raft.DefaultConfig() // ElectionTimeout, HeartbeatTimeout, MaxAppendEntries, ...
		config.ID, config.Peers = p.ID, peers
		r, err := raft.NewRaft(config, solutions.New, raft.NewInmemStore(), network.Transport(), raft.RuntimeOptions{})
		if err != nil {
			log.Fatal(err)
		}
		network.Attach(p.ID, r)
		servers[p.ID], changes[p.ID] = r, r.WatchLeader()
		if err := r.Start(ctx); err != nil {
			log.Fatal(err)
		}
	}

	// submit is what a server does with a client's command.
	var submit func(r *raft.Runtime, cmd string) error
	submit = func(r *raft.Runtime, cmd string) error {
		for leader := r.Leader(); ; leader = <-changes[r.Config().ID] {
			switch {
			case leader.ID == raft.None:
				continue // an election is under way: wait for its winner
			case leader.ID != r.Config().ID: // the same as !leader.Self
				return submit(servers[leader.ID], cmd) // forward it to the leader
			}
			_, _, err := r.Propose(ctx, []byte(cmd))
			if _, lost := err.(raft.ErrNotLeader); !lost {
				return err // nil: proposed; Applied will say when it is committed
			}
			// Leadership moved meanwhile: wait for the next leader.
		}
	}
	if err := submit(servers[2], "x=1"); err != nil {
		log.Fatal(err)
	}

	// Every server applies the committed command, at the same index.
	for _, p := range peers {
		e := <-servers[p.ID].Applied()
		fmt.Printf("%v applied %q at index %d\n", p.ID, e.Command, e.Index)
	}
	// Output:
	// n1 applied "x=1" at index 1
	// n2 applied "x=1" at index 1
	// n3 applied "x=1" at index 1
}
