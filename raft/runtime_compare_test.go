package raft_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// BenchmarkCommitsInMemory measures, in one run, commits per second of a
// 3-server cluster in memory — in-memory stores and transports, one
// process, 64 commands of 16 bytes in flight, 20,000 commands — for this
// package's Runtime driving the reference, and for hashicorp/raft (its
// InmemStore and InmemTransport, a state machine that counts). A command
// counts when the leader's state machine has applied it.
//
//	go test -run '^$' -bench CommitsInMemory -benchtime=1x ./raft/
func BenchmarkCommitsInMemory(b *testing.B) {
	const commands, window = 20_000, 64
	b.Run("raftlab", func(b *testing.B) {
		for range b.N {
			b.ReportMetric(raftlabCommits(b, commands, window), "commits/s")
		}
	})
	b.Run("hashicorp", func(b *testing.B) {
		for range b.N {
			b.ReportMetric(hashicorpCommits(b, commands, window), "commits/s")
		}
	})
}

var benchCommand = []byte("0123456789abcdef")

func raftlabCommits(b *testing.B, commands, window int) float64 {
	net := raft.NewInmemNetwork()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &cluster{t: b, servers: make([]*server, 3), leaders: newLeaderBoard()}
	applied := make([]chan struct{}, 3) // one token per entry applied, per server
	for i := range c.servers {
		cfg := raft.ClusterConfig(raft.NodeID(i+1), 3)
		rt, err := raft.NewRaft(cfg, solutions.New, raft.NewInmemStore(), net.Transport(), raft.RuntimeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		net.Attach(cfg.ID, rt)
		c.leaders.follow(cfg.ID, rt)
		applied[i] = make(chan struct{}, commands)
		go func() {
			for range rt.Applied() {
				applied[i] <- struct{}{}
			}
		}()
		if err := rt.Start(ctx); err != nil {
			b.Fatal(err)
		}
		c.servers[i] = &server{id: cfg.ID, rt: rt}
	}
	id := c.waitLeader().ID
	lead, done := c.servers[id-1].rt, applied[id-1]
	start := time.Now()
	for i := range commands {
		if i >= window {
			<-done
		}
		if _, _, err := lead.Propose(ctx, benchCommand); err != nil {
			b.Fatalf("command %d: %v (a leader changed during the benchmark)", i, err)
		}
	}
	for range min(window, commands) {
		<-done
	}
	return float64(commands) / time.Since(start).Seconds()
}

// countFSM is a hashicorp/raft state machine that counts what it applies.
type countFSM struct{ applied chan struct{} }

func (f *countFSM) Apply(*hraft.Log) any {
	f.applied <- struct{}{}
	return nil
}
func (f *countFSM) Snapshot() (hraft.FSMSnapshot, error) { return countSnapshot{}, nil }
func (f *countFSM) Restore(r io.ReadCloser) error        { return r.Close() }

type countSnapshot struct{}

func (countSnapshot) Persist(sink hraft.SnapshotSink) error { return sink.Close() }
func (countSnapshot) Release()                              {}

func hashicorpCommits(b *testing.B, commands, window int) float64 {
	const n = 3
	addrs := make([]hraft.ServerAddress, n)
	trans := make([]*hraft.InmemTransport, n)
	for i := range n {
		addrs[i], trans[i] = hraft.NewInmemTransport(hraft.ServerAddress(fmt.Sprint("s", i+1)))
	}
	var servers []hraft.Server
	for i := range n {
		for j := range n {
			if i != j {
				trans[i].Connect(addrs[j], trans[j])
			}
		}
		servers = append(servers, hraft.Server{ID: hraft.ServerID(addrs[i]), Address: addrs[i]})
	}
	rafts := make([]*hraft.Raft, n)
	fsms := make([]*countFSM, n)
	for i := range n {
		conf := hraft.DefaultConfig()
		conf.LocalID = hraft.ServerID(addrs[i])
		conf.LogOutput = io.Discard
		store := hraft.NewInmemStore()
		fsms[i] = &countFSM{applied: make(chan struct{}, commands+16)}
		r, err := hraft.NewRaft(conf, fsms[i], store, store, hraft.NewInmemSnapshotStore(), trans[i])
		if err != nil {
			b.Fatal(err)
		}
		rafts[i] = r
		defer r.Shutdown()
	}
	if err := rafts[0].BootstrapCluster(hraft.Configuration{Servers: servers}).Error(); err != nil {
		b.Fatal(err)
	}
	var lead *hraft.Raft
	var done chan struct{}
	deadline := time.Now().Add(waitFor)
	for lead == nil { // hashicorp/raft's LeaderCh is one per server: look
		for i, r := range rafts {
			if r.State() == hraft.Leader {
				lead, done = r, fsms[i].applied
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("hashicorp/raft elected no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for len(done) > 0 { // the configuration entry, if the FSM saw it
		<-done
	}
	start := time.Now()
	for i := range commands {
		if i >= window {
			<-done
		}
		lead.Apply(benchCommand, 0)
	}
	for range min(window, commands) {
		<-done
	}
	return float64(commands) / time.Since(start).Seconds()
}
