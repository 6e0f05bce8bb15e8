package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/visualizer"
	"github.com/raftlab/raftlab/web"
)

// serveFlags are the flags shared by serve and replay.
type serveFlags struct {
	addr  string
	open  bool
	speed float64
	hosts string
}

func addServeFlags(fs *flagSet) *serveFlags {
	var f serveFlags
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on; beyond loopback, controlling the cluster needs the token printed at start-up")
	fs.BoolVar(&f.open, "open", true, "open the page in a browser")
	fs.Float64Var(&f.speed, "speed", visualizer.DefaultSpeed, "virtual seconds per second of wall time")
	fs.StringVar(&f.hosts, "hosts", "", "comma-separated names the page may also be reached by (e.g. the DNS name of a lecture room's machine, with -addr 0.0.0.0:8080); the server answers only requests addressed to loopback names, to this machine's own addresses and name when listening beyond loopback, and to these, so that a web page on another site cannot reach it by DNS rebinding")
	return &f
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "[serve] [-impl NAME] [-nodes N] [-seed N] [-speed X] [-addr HOST:PORT] [-hosts NAMES] [-open=false]", stderr)
	implOf := implFlag(fs, "solutions", "implementation to run")
	nodes := fs.Int("nodes", 5, "number of servers")
	seed := fs.Uint64("seed", 1, "seed of the run")
	sf := addServeFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	impl, err := implOf()
	if err != nil {
		return err
	}
	if err := checkNodes(*nodes); err != nil {
		return err
	}
	opts := visualizer.SessionOptions{Impl: impl, Nodes: *nodes, Seed: *seed}
	what := fmt.Sprintf("%s, %d nodes, seed %d", impl.Name, *nodes, *seed)
	return serve(ctx, opts, what, sf, stdout)
}

// serveReplay opens the browser on a recorded run.
func serveReplay(ctx context.Context, impl lab.Implementation, tr *lab.Trace, path string, sf *serveFlags, stdout io.Writer) error {
	opts := visualizer.SessionOptions{Impl: impl, Recording: tr}
	what := fmt.Sprintf("a replay of %s (%s, %d nodes, seed %d, %d events)", path, impl.Name, tr.Header.Nodes, tr.Header.Seed, len(tr.Events))
	return serve(ctx, opts, what, sf, stdout)
}

func serve(ctx context.Context, opts visualizer.SessionOptions, what string, sf *serveFlags, stdout io.Writer) error {
	if !(sf.speed >= visualizer.MinSpeed && sf.speed <= visualizer.MaxSpeed) {
		return usagef("-speed %v: between %g and %g virtual seconds per second", sf.speed, visualizer.MinSpeed, visualizer.MaxSpeed)
	}
	opts.Speed = sf.speed
	host, _, err := net.SplitHostPort(sf.addr)
	if err != nil {
		return usagef("-addr %q: want host:port, e.g. 127.0.0.1:8080 (%v)", sf.addr, err)
	}
	session, err := visualizer.NewSessionContext(ctx, opts)
	var ie *lab.InterruptedError
	if errors.As(err, &ie) {
		return interrupted("while checking the recording, at event %d of %d (%v of virtual time)", ie.Event, ie.Of, ie.Time)
	}
	if err != nil {
		return err
	}
	token := ""
	if !isLoopback(host) {
		token = newToken()
	}
	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s is already in use (another raftviz?): pick another address with -addr, e.g. -addr 127.0.0.1:8081", sf.addr)
		}
		return fmt.Errorf("cannot listen on %s: %w", sf.addr, err)
	}
	srv := visualizer.NewHTTPServer(visualizer.NewHandler(visualizer.ServerOptions{Session: session, Static: web.Static(), Token: token,
		Hosts: append(visualizer.HostsFor(host), splitHosts(sf.hosts)...)}))
	ln = visualizer.LimitListener(ln, visualizer.MaxConnections)
	go session.Run(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	urls := pageURLs(ln.Addr()) // pageurls.go: LAN addresses, not [::]
	url := urls[0]
	fmt.Fprintf(stdout, "raftviz: serving %s\n", what)
	if token == "" {
		fmt.Fprintf(stdout, "  open %s\n", url)
	} else {
		fmt.Fprintf(stdout, "  listening beyond loopback: anyone can watch at %s\n", strings.Join(urls, " or "))
		fmt.Fprintf(stdout, "  to control the cluster, open %s?token=%s (the page takes the token out of its address bar)\n", url, token)
	}
	fmt.Fprintln(stdout, "  Ctrl-C to stop")
	if sf.open {
		target := url
		if token != "" {
			// Not the token URL itself: a command line is visible to every
			// user of the machine (ps). A private file that leads there is.
			if target, err = tokenPage(url + "?token=" + token); err != nil {
				fmt.Fprintf(stdout, "  (not opening a browser: %v)\n", err)
			} else {
				defer os.Remove(target)
			}
		}
		if err == nil {
			openBrowser(target)
		}
	}

	select {
	case err := <-served:
		return fmt.Errorf("the server stopped: %w", err)
	case <-ctx.Done():
	}
	// Requests under way get half a second to finish; then their
	// connections are closed, so that Ctrl-C stops raftviz within a second.
	shutdown, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(shutdown); errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
	} else if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stopping the server: %w", err)
	}
	<-session.Done()
	fmt.Fprintln(stdout, "raftviz: stopped")
	return nil
}

// tokenPage writes a page, readable by this user only, that sends the
// browser on to url; it returns the page's path.
func tokenPage(url string) (string, error) {
	f, err := os.CreateTemp("", "raftviz-*.html") // created 0600
	if err != nil {
		return "", err
	}
	defer f.Close()
	u := html.EscapeString(url)
	_, err = fmt.Fprintf(f, "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url=%s\"><title>raftviz</title><a href=\"%s\">open raftviz</a>\n", u, u)
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// splitHosts reads the -hosts list.
func splitHosts(list string) []string {
	var hosts []string
	for _, h := range strings.Split(list, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// openBrowser tries to open url; on a machine without a browser it does nothing.
func openBrowser(url string) {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if cmd.Start() == nil {
		go cmd.Wait() //nolint:errcheck // the browser's exit status is of no interest
	}
}
