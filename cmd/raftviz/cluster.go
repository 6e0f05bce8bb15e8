package main

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/raft/kv"
	"github.com/raftlab/raftlab/visualizer"
	"github.com/raftlab/raftlab/web"
)

// clusterOptions are what `raftviz cluster` runs with.
type clusterOptions struct {
	impl     lab.Implementation
	nodes    int
	dir      string
	cfg      raft.Config // timings; Peers filled in by start
	nodeArgs []string    // extra flags for every node
}

func clusterCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cluster", "cluster [-nodes N] [-impl NAME] [-dir DIR] [-addr HOST:PORT] [-open=false] [-load]", stderr)
	implOf := implFlag(fs, "solutions", "implementation every server runs")
	nodes := fs.Int("nodes", 3, "number of server processes (1 to 9)")
	dir := fs.String("dir", "", "folder for the servers' folders and the cluster secret (default: a new temporary folder, removed at the end)")
	def := raft.DefaultConfig()
	election := fs.Duration("election-timeout", def.ElectionTimeout, "shortest wait without a leader before an election")
	heartbeat := fs.Duration("heartbeat", def.HeartbeatTimeout, "how often a leader sends AppendEntries when idle")
	snapshotEvery := fs.Uint64("snapshot-every", 1000, "every server compacts its log with a snapshot of its key/value state every N applied entries (stage 4; 0 never)")
	load := fs.Bool("load", false, "run the load client against the cluster while killing leaders (-kills), print its summary and stop")
	kills := fs.Int("kills", 5, "with -load: leaders to kill with SIGKILL, one every -kill-every (each restarted from its folder)")
	killEvery := fs.Duration("kill-every", time.Second, "with -load: time between two leader kills")
	loadFor := fs.Duration("for", 10*time.Second, "with -load: how long the clients run")
	clients := fs.Int("clients", 4, "with -load: clients issuing requests at once")
	html := fs.String("html", "raftviz-violation.html", "with -load: where to save porcupine's drawing of a history that is not linearizable")
	sf := addServeFlags(fs)
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
	if *nodes < 1 || *nodes > 9 {
		return usagef("-nodes %d: a cluster of processes has 1 to 9 servers", *nodes)
	}
	cfg := def
	cfg.ElectionTimeout, cfg.HeartbeatTimeout = *election, *heartbeat
	cfg.ID, cfg.Peers = 1, []raft.Peer{{ID: 1}}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if _, _, err := net.SplitHostPort(sf.addr); err != nil {
		return usagef("-addr %q: want host:port, e.g. 127.0.0.1:8080 (%v)", sf.addr, err)
	}
	lo := loadOptions{clients: *clients, keys: 8, duration: *loadFor, html: *html, servers: []string{"http://127.0.0.1:1"}}
	if *load {
		if err := lo.check(); err != nil {
			return err
		}
		if *kills < 0 || *killEvery <= 0 {
			return usagef("-kills %d -kill-every %v: a number of kills of 0 or more, a positive time between them", *kills, *killEvery)
		}
	}
	o := clusterOptions{impl: impl, nodes: *nodes, dir: *dir, cfg: cfg,
		nodeArgs: []string{"-election-timeout", election.String(), "-heartbeat", heartbeat.String(), "-snapshot-every", fmt.Sprint(*snapshotEvery)}}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "raftviz-cluster-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.dir)
	}
	c, err := startCluster(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer c.stop()
	live := visualizer.NewLive(visualizer.LiveOptions{Impl: impl.Name, Config: c.cfg, Cluster: c})
	c.live = live
	c.followEvents(ctx)

	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s is already in use (another raftviz?): pick another address with -addr, e.g. -addr 127.0.0.1:8081", sf.addr)
		}
		return fmt.Errorf("cannot listen on %s: %w", sf.addr, err)
	}
	host, _, _ := net.SplitHostPort(sf.addr)
	if !isLoopback(host) {
		ln.Close()
		return usagef("-addr %s: the page of a cluster of processes controls them (kill -9, restart); it listens on loopback only", sf.addr)
	}
	srv := &http.Server{Handler: visualizer.NewLiveHandler(live, web.Static()), ReadHeaderTimeout: 10 * time.Second}
	go live.Run(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(stdout, "raftviz: %d real server processes of %s, folders and secret in %s\n", o.nodes, impl.Name, o.dir)
	for _, p := range c.cfg.Peers {
		fmt.Fprintf(stdout, "  %v  %s  (pid %d)\n", p.ID, p.Address, c.pid(p.ID))
	}
	fmt.Fprintf(stdout, "  open %s\n  Ctrl-C stops every server\n", url)
	if sf.open {
		openBrowser(url)
	}
	if *load {
		lo.servers = c.urls()
		lo.faults = c.killLeaders(*kills, *killEvery)
		err := runLoad(ctx, lo, stdout)
		_ = srv.Close()
		return err
	}
	select {
	case err := <-served:
		return fmt.Errorf("the page's server stopped: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	fmt.Fprintln(stdout, "raftviz: stopped every server")
	return nil
}

// procCluster is the server processes started by `raftviz cluster`.
type procCluster struct {
	exe    string
	o      clusterOptions
	cfg    raft.Config
	secret []byte
	stderr io.Writer
	live   *visualizer.Live

	mu    sync.Mutex
	procs map[raft.NodeID]*exec.Cmd
	exits map[raft.NodeID]chan struct{}
}

// freePorts picks n ports that are free now on loopback.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startCluster writes a new cluster secret (or reads the one in o.dir) and
// starts every server, each in its own folder under o.dir.
func startCluster(ctx context.Context, o clusterOptions, stderr io.Writer) (*procCluster, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding raftviz's own executable to start the servers: %w", err)
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return nil, err
	}
	secretFile := filepath.Join(o.dir, "secret")
	secret, err := os.ReadFile(secretFile)
	if errors.Is(err, os.ErrNotExist) {
		b := make([]byte, 32)
		_, _ = crand.Read(b)
		secret = []byte(base64.StdEncoding.EncodeToString(b))
		err = os.WriteFile(secretFile, append(secret, '\n'), 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("the cluster secret %s: %w", secretFile, err)
	}
	secret = bytes.TrimSpace(secret)
	ports, err := freePorts(o.nodes)
	if err != nil {
		return nil, err
	}
	c := &procCluster{exe: exe, o: o, cfg: o.cfg, secret: secret, stderr: stderr,
		procs: map[raft.NodeID]*exec.Cmd{}, exits: map[raft.NodeID]chan struct{}{}}
	c.cfg.Peers = nil
	for i, port := range ports {
		c.cfg.Peers = append(c.cfg.Peers, raft.Peer{ID: raft.NodeID(i + 1), Address: fmt.Sprintf("http://127.0.0.1:%d", port)})
	}
	for _, p := range c.cfg.Peers {
		if err := c.startNode(p.ID); err != nil {
			c.stop()
			return nil, err
		}
	}
	for _, p := range c.cfg.Peers {
		if err := c.waitUp(ctx, p); err != nil {
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

// waitUp waits until server p answers /status, or its process ends.
func (c *procCluster) waitUp(ctx context.Context, p raft.Peer) error {
	c.mu.Lock()
	exited := c.exits[p.ID]
	c.mu.Unlock()
	deadline := time.After(30 * time.Second)
	for {
		if _, err := c.status(ctx, p); err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("server %v ended at start-up (its error is above)", p.ID)
		case <-deadline:
			return fmt.Errorf("server %v did not answer at %s within 30s", p.ID, p.Address)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *procCluster) peersFlag() string {
	var parts []string
	for _, p := range c.cfg.Peers {
		parts = append(parts, fmt.Sprintf("%d=%s", p.ID, strings.TrimPrefix(p.Address, "http://")))
	}
	return strings.Join(parts, ",")
}

func (c *procCluster) startNode(id raft.NodeID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.procs[id] != nil {
		return fmt.Errorf("%v is already running (pid %d)", id, c.procs[id].Process.Pid)
	}
	args := append([]string{"node", "-id", fmt.Sprint(int(id)), "-peers", c.peersFlag(), "-impl", c.o.impl.Name,
		"-dir", filepath.Join(c.o.dir, id.String()), "-secret-file", filepath.Join(c.o.dir, "secret")}, c.o.nodeArgs...)
	cmd := exec.Command(c.exe, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, c.stderr
	cmd.SysProcAttr = serverProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %v: %w", id, err)
	}
	exited := make(chan struct{})
	c.procs[id], c.exits[id] = cmd, exited
	go func() {
		_ = cmd.Wait()
		close(exited)
		c.mu.Lock()
		if c.procs[id] == cmd {
			delete(c.procs, id)
		}
		c.mu.Unlock()
	}()
	return nil
}

func (c *procCluster) pid(id raft.NodeID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.procs[id]; p != nil {
		return p.Process.Pid
	}
	return 0
}

func (c *procCluster) urls() []string {
	var out []string
	for _, p := range c.cfg.Peers {
		out = append(out, p.Address)
	}
	return out
}

// Crash kills the server's process with SIGKILL and waits for it to end.
func (c *procCluster) Crash(id raft.NodeID) (string, error) {
	c.mu.Lock()
	p, exited := c.procs[id], c.exits[id]
	c.mu.Unlock()
	if p == nil {
		return "", fmt.Errorf("%v is not running: restart it first", id)
	}
	_ = p.Process.Signal(syscall.SIGKILL)
	<-exited
	if c.live != nil {
		c.live.Note(raft.Event{Kind: raft.EvCrash, Node: id, Text: "kill -9"})
	}
	return fmt.Sprintf("kill -9 %d: %v is down; its folder keeps what it saved", p.Process.Pid, id), nil
}

// Restart starts the server again from its folder, and waits until it answers.
func (c *procCluster) Restart(id raft.NodeID) (string, error) {
	if id < 1 || int(id) > len(c.cfg.Peers) {
		return "", fmt.Errorf("there is no server %v", id)
	}
	if c.pid(id) != 0 {
		return "", fmt.Errorf("%v is already running (pid %d)", id, c.pid(id))
	}
	// Noted before the process starts, so that the page places the restart
	// before anything the new process reports (its state, when the page's
	// event stream reaches it: see tracedNode.whole).
	if c.live != nil {
		c.live.Note(raft.Event{Kind: raft.EvRestart, Node: id, Text: "process started from its folder"})
	}
	if err := c.startNode(id); err != nil {
		c.noteDown(id, "did not start")
		return "", err
	}
	if err := c.waitUp(context.Background(), c.cfg.Peers[id-1]); err != nil {
		c.noteDown(id, "did not answer")
		return "", err
	}
	return fmt.Sprintf("%v started again from its folder (pid %d)", id, c.pid(id)), nil
}

// noteDown tells the page that server id is down after all.
func (c *procCluster) noteDown(id raft.NodeID, why string) {
	if c.live != nil {
		c.live.Note(raft.Event{Kind: raft.EvCrash, Node: id, Text: why})
	}
}

// Partition tells every running server which peers it is cut off from:
// those outside its group (a server named in no group is alone).
func (c *procCluster) Partition(groups [][]raft.NodeID) (string, error) {
	groupOf := map[raft.NodeID]int{}
	for g, ids := range groups {
		for _, id := range ids {
			if id < 1 || int(id) > len(c.cfg.Peers) {
				return "", fmt.Errorf("there is no server %v: the servers are n1 to n%d", id, len(c.cfg.Peers))
			}
			if _, twice := groupOf[id]; twice {
				return "", fmt.Errorf("%v is in two groups", id)
			}
			groupOf[id] = g + 1
		}
	}
	if len(groups) > 0 {
		for _, p := range c.cfg.Peers {
			if _, ok := groupOf[p.ID]; !ok {
				groupOf[p.ID] = -int(p.ID) // alone
			}
		}
	}
	var errs []error
	var down []string
	for _, p := range c.cfg.Peers {
		cut := []raft.NodeID{}
		for _, q := range c.cfg.Peers {
			if q.ID != p.ID && len(groups) > 0 && groupOf[q.ID] != groupOf[p.ID] {
				cut = append(cut, q.ID)
			}
		}
		if c.pid(p.ID) == 0 {
			down = append(down, p.ID.String())
			continue
		}
		if err := c.cut(p.ID, cut); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	if c.live != nil {
		var gs [][]raft.NodeID
		if len(groups) > 0 {
			byGroup := map[int][]raft.NodeID{}
			var order []int
			for _, p := range c.cfg.Peers {
				g := groupOf[p.ID]
				if _, ok := byGroup[g]; !ok {
					order = append(order, g)
				}
				byGroup[g] = append(byGroup[g], p.ID)
			}
			for _, g := range order {
				gs = append(gs, byGroup[g])
			}
		} else {
			// Healed: one group of every server, as the simulator says it.
			var all []raft.NodeID
			for _, p := range c.cfg.Peers {
				all = append(all, p.ID)
			}
			gs = [][]raft.NodeID{all}
		}
		c.live.Note(raft.Event{Kind: raft.EvPartition, Groups: gs})
	}
	text := "the network is whole again"
	if len(groups) > 0 {
		text = "partitioned in the servers' transports"
	}
	if len(down) > 0 {
		text += "; not told (down): " + strings.Join(down, ", ") + " — a restarted server starts connected"
	}
	return text, nil
}

// cut posts the set of peers id is cut off from to its admin endpoint.
func (c *procCluster) cut(id raft.NodeID, peers []raft.NodeID) error {
	body, _ := json.Marshal(cutRequest{Peers: peers})
	req, err := http.NewRequest(http.MethodPost, c.cfg.Peers[id-1].Address+"/admin/cut", bytes.NewReader(body))
	if err != nil {
		return err
	}
	signAdmin(req, c.secret, body)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("telling %v its partition: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%v refused its partition: %s", id, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Propose sends a put through the key/value API: "key=value", or the text
// as a key with an empty value.
func (c *procCluster) Propose(ctx context.Context, node raft.NodeID, command string) (string, error) {
	servers := c.urls()
	if node != raft.None {
		if node < 1 || int(node) > len(servers) {
			return "", fmt.Errorf("there is no server %v", node)
		}
		servers = []string{servers[node-1]}
	}
	client, err := kv.NewClient(servers, kv.ClientOptions{})
	if err != nil {
		return "", err
	}
	key, value, _ := strings.Cut(command, "=")
	rep, err := client.Put(ctx, key, value)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("put %q=%q committed at index %d by %v", key, value, rep.Index, rep.Server), nil
}

// followEvents reads every server's /events, across its restarts, into live.
func (c *procCluster) followEvents(ctx context.Context) {
	for _, p := range c.cfg.Peers {
		go func() {
			for ctx.Err() == nil {
				c.readEvents(ctx, p)
				select { // the server is down or restarting: try again shortly
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
	}
}

func (c *procCluster) readEvents(ctx context.Context, p raft.Peer) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Address+"/events", nil)
	if err != nil {
		return
	}
	signAdmin(req, c.secret, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e visualizer.WallEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			c.live.Add(p.ID, e)
		}
	}
}

// stop kills every server it started (SIGKILL after SIGTERM has had 2s).
func (c *procCluster) stop() {
	c.mu.Lock()
	procs := map[raft.NodeID]*exec.Cmd{}
	exits := map[raft.NodeID]chan struct{}{}
	for id, p := range c.procs {
		procs[id], exits[id] = p, c.exits[id]
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	c.mu.Unlock()
	for id, p := range procs {
		select {
		case <-exits[id]:
		case <-time.After(2 * time.Second):
			_ = p.Process.Kill()
			<-exits[id]
		}
	}
}
