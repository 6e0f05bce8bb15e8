package visualizer

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/gorilla/websocket"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
)

// ServerOptions configure the HTTP side of the visualizer.
type ServerOptions struct {
	Session *Session
	// Static holds the page (index.html and its files).
	Static fs.FS
	// Token, if set, is required to control the cluster: a viewer without it
	// (?token=… on the page's address) may only watch. Set it whenever the
	// server listens beyond loopback.
	Token string
	// Hosts are the names and addresses, besides the loopback ones, that a
	// request may name in its Host header: the machine's addresses when the
	// server listens beyond loopback (see HostsFor). Any other Host is
	// refused, so that a web page on another site whose name has been made
	// to point at this machine (DNS rebinding) can neither read the page nor
	// drive the cluster.
	Hosts []string
}

// NewHandler returns the visualizer's routes:
//
//	GET /             the page
//	GET /static/...   its files
//	GET /ws           the websocket: state, events and controls (PROTOCOL.md)
//	GET /trace.jsonl  the run so far, as a trace file to share or replay
//	GET /healthz      200 while the session runs
func NewHandler(opts ServerOptions) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(hostCheck(opts.Hosts))
	r.Use(securityHeaders)
	static := http.FileServerFS(opts.Static)
	page := func(w http.ResponseWriter, req *http.Request) {
		http.ServeFileFS(w, req, opts.Static, "index.html")
	}
	r.Get("/", page)
	r.Head("/", page)
	r.Handle("/static/*", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// A name that is not valid UTF-8 or not a valid fs.FS path (an
		// overlong "%c0%ae" for a dot) names no file: 404, not the file
		// system's error.
		if name := strings.TrimPrefix(req.URL.Path, "/"); name != "" && (!utf8.ValidString(name) || !fs.ValidPath(strings.TrimSuffix(name, "/"))) {
			http.NotFound(w, req)
			return
		}
		static.ServeHTTP(w, req)
	})))
	upgrader := websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 64 << 10,
		// CheckOrigin is left nil: the same-origin check stays on.
	}
	r.Get("/ws", func(w http.ResponseWriter, req *http.Request) {
		control := opts.Token == "" || subtle.ConstantTimeCompare([]byte(req.URL.Query().Get("token")), []byte(opts.Token)) == 1
		conn, err := upgrader.Upgrade(w, req, nil)
		if err != nil {
			return // the upgrader has answered with an HTTP error
		}
		newViewer(conn, opts.Session, control).serve()
	})
	r.Get("/trace.jsonl", func(w http.ResponseWriter, req *http.Request) {
		// A download runs the whole run again: only for controllers, and a
		// few at a time.
		if opts.Token != "" && subtle.ConstantTimeCompare([]byte(req.URL.Query().Get("token")), []byte(opts.Token)) != 1 {
			http.Error(w, "raftviz: downloading the run is for the page opened with the control token (?token=…)", http.StatusForbidden)
			return
		}
		select {
		case downloads <- struct{}{}:
			defer func() { <-downloads }()
		default:
			http.Error(w, fmt.Sprintf("raftviz: %d downloads of the run are under way; try again when one has finished", maxDownloads), http.StatusTooManyRequests)
			return
		}
		simOpts, cmds, seq, err := opts.Session.Recording(req.Context())
		if err != nil {
			http.Error(w, "raftviz: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="raftviz-%s-seed%d.jsonl"`, simOpts.Impl, simOpts.Seed))
		if err := WriteTraceContext(req.Context(), w, simOpts, cmds, seq); err != nil {
			// Headers are sent; the truncated file will be refused on reading.
			return
		}
	})
	r.Get("/healthz", func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-opts.Session.Done():
			http.Error(w, "the session has ended", http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ok")
		}
	})
	return r
}

// maxDownloads bounds the downloads of /trace.jsonl under way at once:
// each runs the recording again.
const maxDownloads = 2

var downloads = make(chan struct{}, maxDownloads)

// WriteTrace runs a recording again from its seed and writes it as a trace,
// up to event number seq.
func WriteTrace(w io.Writer, opts lab.Options, cmds []raft.Event, seq uint64) error {
	return WriteTraceContext(context.Background(), w, opts, cmds, seq)
}

// WriteTraceContext is WriteTrace that stops when ctx is done (the one who
// asked for the trace has gone).
func WriteTraceContext(ctx context.Context, w io.Writer, opts lab.Options, cmds []raft.Event, seq uint64) error {
	tw, err := lab.NewTraceWriter(w, lab.HeaderFor(opts))
	if err != nil {
		return err
	}
	opts.Sink = func(e *raft.Event) {
		if e.Seq <= seq {
			tw.Write(e)
		}
	}
	r, err := lab.NewReplayer(opts, cmds)
	if err != nil {
		return err
	}
	if err := r.RunUntilSeqContext(ctx, seq); err != nil {
		return err
	}
	return tw.Flush()
}

// hostCheck refuses a request whose Host is not one this server answers to.
func hostCheck(hosts []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !hostAllowed(r.Host, hosts) {
				http.Error(w, fmt.Sprintf("raftviz: this server does not answer to the name %q: open it by its own address (start it with -hosts NAME to allow another name)", r.Host), http.StatusMisdirectedRequest)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// hostAllowed reports whether a Host header names this server: a loopback
// name or address, or one of hosts. The port is not checked.
func hostAllowed(hostport string, hosts []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return false
		}
		host = host[1 : len(host)-1]
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return true
	}
	for _, h := range hosts {
		if strings.EqualFold(strings.TrimSuffix(strings.Trim(h, "[]"), "."), host) {
			return true
		}
	}
	return false
}

// HostsFor lists the names a server listening on host (the host part of
// its address) answers to besides the loopback ones: none on loopback; the
// address itself when it is a particular one; and every address of the
// machine, and its name, when it is a wildcard (0.0.0.0, ::, or empty).
func HostsFor(host string) []string {
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	switch {
	case host == "localhost" || (err == nil && ip.IsLoopback()):
		return nil
	case host != "" && (err != nil || !ip.IsUnspecified()):
		return []string{host}
	}
	hosts := []string{"0.0.0.0", "::"} // as the address was printed
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, name)
	}
	addrs, _ := net.InterfaceAddrs() // none found: only the names above
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			hosts = append(hosts, p.Addr().WithZone("").String())
		}
	}
	return hosts
}

// Limits of the HTTP server.
const (
	// MaxConnections bounds the connections open at once, websockets
	// included (a session takes at most MaxViewers of those).
	MaxConnections = 512
	// idleTimeout closes a keep-alive connection that sends nothing.
	idleTimeout = 60 * time.Second
	// readHeaderTimeout bounds the time a request's headers may take.
	readHeaderTimeout = 10 * time.Second
)

// NewHTTPServer returns an http.Server for h with the timeouts a server
// open to a room needs: idle connections are closed, and headers must come
// in bounded time. (Websockets keep their own deadlines: see viewer.go.)
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// LimitListener accepts at most n connections open at once; one more is
// answered 503 and closed at once, so it neither waits in line nor holds a
// file descriptor.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n)}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 49\r\n\r\nraftviz: too many connections; try again shortly\n")
			c.Close()
		}
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")
		next.ServeHTTP(w, r)
	})
}
