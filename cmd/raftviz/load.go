package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/raft/kv"
)

// loadOptions are what the load client runs with.
type loadOptions struct {
	servers  []string
	clients  int
	keys     int
	duration time.Duration
	html     string // where to save porcupine's visualization of a violation
	// faults, if set, runs beside the clients until they stop (kills, restarts).
	faults func(ctx context.Context) faultReport
}

// faultReport is what the faults did.
type faultReport struct {
	kills      int
	newLeader  []time.Duration // from each kill to a new leader
	elections  []uint64        // for each kill, the terms it took: 1 is one election, more are split or failed ones
	lastErrors []string
}

func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("load", "load -servers http://HOST:PORT,... [-clients N] [-keys N] [-for D] [-html FILE]", stderr)
	servers := fs.String("servers", "", "the servers' base URLs, comma-separated (their key/value API)")
	o := loadOptions{}
	fs.IntVar(&o.clients, "clients", 4, "clients issuing requests at once (1 to 256)")
	fs.IntVar(&o.keys, "keys", 8, "keys the clients share (1 to 10000)")
	fs.DurationVar(&o.duration, "for", 10*time.Second, "how long to run (up to 1h)")
	fs.StringVar(&o.html, "html", "raftviz-violation.html", "where to save porcupine's drawing of a history that is not linearizable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*servers) == "" {
		return usagef("-servers is required: the servers' base URLs, e.g. http://127.0.0.1:7001,http://127.0.0.1:7002 (or run raftviz cluster -load)")
	}
	o.servers = strings.Split(*servers, ",")
	if err := o.check(); err != nil {
		return err
	}
	return runLoad(ctx, o, stdout)
}

func (o loadOptions) check() error {
	switch {
	case o.clients < 1 || o.clients > 256:
		return usagef("-clients %d: from 1 to 256", o.clients)
	case o.keys < 1 || o.keys > 10000:
		return usagef("-keys %d: from 1 to 10000", o.keys)
	case o.duration <= 0 || o.duration > time.Hour:
		return usagef("-for %v: more than 0 and at most 1h", o.duration)
	}
	if _, err := kv.NewClient(o.servers, kv.ClientOptions{}); err != nil {
		return usagef("-servers: %v", err)
	}
	return nil
}

// runLoad runs the clients, then checks and summarises their history. A
// history that is not linearizable is an error (exit status 1).
func runLoad(ctx context.Context, o loadOptions, stdout io.Writer) error {
	if o.html == "" {
		o.html = "raftviz-violation.html"
	}
	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var (
		mu      sync.Mutex
		history []kv.Op
		errs    int
		lastErr string
		terms   = map[uint64]bool{}
		wg      sync.WaitGroup
	)
	var faults chan faultReport
	if o.faults != nil {
		faults = make(chan faultReport, 1)
		go func() { faults <- o.faults(runCtx) }()
	}
	started := time.Now()
	for i := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client, _ := kv.NewClient(o.servers, kv.ClientOptions{})
			rng := rand.New(rand.NewPCG(uint64(i), uint64(started.UnixNano())))
			for n := 0; runCtx.Err() == nil; n++ {
				cmd := kv.Command{Op: kv.OpGet, Key: fmt.Sprint("k", rng.IntN(o.keys))}
				if rng.IntN(2) == 0 {
					cmd.Op, cmd.Value = kv.OpPut, fmt.Sprintf("c%d-%d", i, n)
				}
				// The run's end stops new requests; one under way finishes.
				op := doOp(ctx, client, i, cmd)
				mu.Lock()
				if op.Unknown {
					errs++
					lastErr = op.Result.Value
					op.Result.Value = ""
				}
				history = append(history, op.Op)
				if op.term > 0 {
					terms[op.term] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	var fr faultReport
	if faults != nil {
		fr = <-faults
	}
	// Last, read every key once the faults are over: a write that was
	// acknowledged and then lost makes these reads fail the check.
	final, cancelFinal := context.WithTimeout(ctx, 30*time.Second)
	defer cancelFinal()
	client, _ := kv.NewClient(o.servers, kv.ClientOptions{})
	for k := range o.keys {
		history = append(history, doOp(final, client, o.clients, kv.Command{Op: kv.OpGet, Key: fmt.Sprint("k", k)}).Op)
	}
	return reportLoad(o, history, errs, lastErr, len(terms), elapsed, fr, stdout)
}

// timedOp is one operation with the term its answer came in.
type timedOp struct {
	kv.Op
	term uint64
}

func doOp(ctx context.Context, c *kv.Client, client int, cmd kv.Command) timedOp {
	op := kv.Op{Client: client, Cmd: cmd, Start: time.Now()}
	opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rep, err := c.Do(opCtx, cmd)
	op.End = time.Now()
	if err != nil {
		op.Unknown = true
		op.Result.Value = err.Error() // the error, moved out by the caller
		return timedOp{Op: op}
	}
	op.Result = rep.Result
	return timedOp{Op: op, term: rep.Term}
}

func reportLoad(o loadOptions, history []kv.Op, errs int, lastErr string, terms int, elapsed time.Duration, fr faultReport, stdout io.Writer) error {
	var lat []time.Duration
	for _, op := range history {
		if !op.Unknown {
			lat = append(lat, op.End.Sub(op.Start))
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	ok := len(lat) - o.keys
	fmt.Fprintf(stdout, "load: %d clients, %d keys, %v: %d operations answered (%.0f ops/s), p50 %v, p99 %v; %d without an answer; answers came in %d terms (%d leader changes)\n",
		o.clients, o.keys, elapsed.Round(time.Millisecond), ok, float64(ok)/elapsed.Seconds(),
		pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), errs, terms, max(terms-1, 0))
	if errs > 0 {
		fmt.Fprintf(stdout, "  last error: %s\n", lastErr)
	}
	if fr.kills > 0 {
		nl := slices.Clone(fr.newLeader)
		slices.Sort(nl)
		fmt.Fprintf(stdout, "  faults: %d leaders killed with SIGKILL; a new leader after p50 %v, max %v\n", fr.kills, median(nl).Round(time.Millisecond), nl[len(nl)-1].Round(time.Millisecond))
		// How many terms each took: a kill that took long because a vote
		// split (two candidates at once, each needing another timeout) is told
		// apart from one that took long with a single election (a slow server).
		byTerms := map[uint64][]time.Duration{}
		var counts []uint64
		for i, n := range fr.elections {
			if _, ok := byTerms[n]; !ok {
				counts = append(counts, n)
			}
			byTerms[n] = append(byTerms[n], fr.newLeader[i])
		}
		slices.Sort(counts)
		for _, n := range counts {
			d := byTerms[n]
			slices.Sort(d)
			fmt.Fprintf(stdout, "    %d kill(s) won in %d term(s) after the old one: p50 %v, max %v\n", len(d), n, median(d).Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
		}
		for _, e := range fr.lastErrors {
			fmt.Fprintf(stdout, "  fault: %s\n", e)
		}
	}
	res, v := kv.Check(history, time.Minute)
	switch res {
	case porcupine.Ok:
		fmt.Fprintf(stdout, "  linearizable: yes (porcupine, %d operations)\n", len(history))
		return nil
	case porcupine.Unknown:
		fmt.Fprintln(stdout, "  linearizable: not decided within 1m (a shorter run or fewer clients decides)")
		return nil
	}
	fmt.Fprint(stdout, v.String())
	if err := v.SaveHTML(o.html); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  porcupine's drawing of the history: %s\n", o.html)
	return exitError{1}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)/2]
}

// leaderOf asks every running server who it is and returns the leader with
// the highest term, if one says it leads.
func (c *procCluster) leaderOf(ctx context.Context) (raft.NodeID, uint64) {
	var best raft.NodeID
	var term uint64
	for _, p := range c.cfg.Peers {
		if c.pid(p.ID) == 0 {
			continue
		}
		st, err := c.status(ctx, p)
		if err == nil && st.Role == raft.Leader && st.Term >= term {
			best, term = p.ID, st.Term
		}
	}
	return best, term
}

func (c *procCluster) status(ctx context.Context, p raft.Peer) (nodeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Address+"/status", nil)
	if err != nil {
		return nodeStatus{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nodeStatus{}, err
	}
	defer resp.Body.Close()
	var st nodeStatus
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st)
	return st, err
}

// killLeaders kills the leader with SIGKILL every interval, up to kills
// times, measures how long until another server leads, and restarts the
// killed one from its folder.
func (c *procCluster) killLeaders(kills int, every time.Duration) func(ctx context.Context) faultReport {
	return func(ctx context.Context) faultReport {
		var fr faultReport
		for fr.kills < kills {
			select {
			case <-ctx.Done():
				return fr
			case <-time.After(every):
			}
			old, oldTerm := c.leaderOf(ctx)
			if old == raft.None {
				continue
			}
			killed := time.Now()
			if _, err := c.Crash(old); err != nil {
				fr.lastErrors = append(fr.lastErrors, err.Error())
				continue
			}
			fr.kills++
			for ctx.Err() == nil { // the tool's own clock: a new leader in a later term
				if id, term := c.leaderOf(ctx); id != raft.None && term > oldTerm {
					fr.newLeader = append(fr.newLeader, time.Since(killed))
					fr.elections = append(fr.elections, term-oldTerm)
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Millisecond):
				}
			}
			if _, err := c.Restart(old); err != nil {
				fr.lastErrors = append(fr.lastErrors, err.Error())
			}
		}
		return fr
	}
}
