package visualizer

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// TestForeignHostRefused: DNS rebinding. A page on evil.example whose name
// has been made to point at 127.0.0.1 reaches raftviz with Host:
// evil.example:PORT and a matching Origin, so the same-origin check passes;
// only the Host check stops it from driving the cluster.
func TestForeignHostRefused(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 1}, "")
	port := ts.srv.URL[strings.LastIndex(ts.srv.URL, ":")+1:]
	url := "ws" + strings.TrimPrefix(ts.srv.URL, "http") + "/ws"
	evil := "evil.example:" + port
	conn, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Host": {evil}, "Origin": {"http://" + evil}})
	if conn != nil {
		conn.Close()
	}
	require.Error(t, err, "an upgrade for Host %s must be refused", evil)
	require.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode)

	for _, path := range []string{"/", "/trace.jsonl"} {
		req, err := http.NewRequest("GET", ts.srv.URL+path, nil)
		require.NoError(t, err)
		req.Host = evil
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode, path)
	}
	// The loopback names are welcome.
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, "LocalHost"} {
		req, err := http.NewRequest("GET", ts.srv.URL+"/healthz", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, host)
	}
}

func TestHostAllowed(t *testing.T) {
	extra := []string{"lab.example.edu", "10.1.2.3", "fe80::1"}
	for host, want := range map[string]bool{
		"localhost": true, "localhost:8080": true, "LOCALHOST.": true, "127.0.0.1:1": true, "127.9.9.9": true,
		"[::1]:80": true, "[::1]": true, "lab.example.edu:8080": true, "10.1.2.3:8080": true, "[fe80::1]:8080": true,
		"": false, "evil.example": false, "evil.example:8080": false, "10.1.2.4": false, "localhost.evil.example": false,
		"[::1": false, "127.0.0.1.evil.example": false,
	} {
		require.Equal(t, want, hostAllowed(host, extra), host)
	}
	require.Nil(t, HostsFor("127.0.0.1"))
	require.Nil(t, HostsFor("localhost"))
	require.Equal(t, []string{"10.1.2.3"}, HostsFor("10.1.2.3"))
	require.Contains(t, HostsFor("0.0.0.0"), "127.0.0.1", "a wildcard address answers to every address of the machine")
}

// TestIdleConnectionsClosed: a keep-alive connection that sends nothing is
// closed by the server (IdleTimeout), so idle connections cannot pile up
// until the server runs out of file descriptors.
func TestIdleConnectionsClosed(t *testing.T) {
	srv := NewHTTPServer(http.NotFoundHandler())
	require.Positive(t, srv.IdleTimeout, "idle keep-alive connections must be closed")
	require.Positive(t, srv.ReadHeaderTimeout, "a request's headers must come in bounded time")
	srv.IdleTimeout = 50 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln) //nolint:errcheck // closed below
	defer srv.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
	require.NoError(t, err)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Now idle: the server hangs up (well within the deadline on any machine).
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Minute)))
	_, err = r.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server should close an idle connection")
}

// TestConnectionLimit: past the limit, a connection is answered 503 and
// closed at once, never queued or served.
func TestConnectionLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := LimitListener(inner, 2)
	srv := NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	go srv.Serve(ln) //nolint:errcheck // closed below
	defer srv.Close()
	get := func(conn net.Conn) (*http.Response, error) {
		if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
			return nil, err
		}
		return http.ReadResponse(bufio.NewReader(conn), nil)
	}
	var held []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer conn.Close()
		resp, err := get(conn) // served, and then kept open
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		held = append(held, conn)
	}
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a third connection is over the limit of 2")

	held[0].Close() // a slot frees up once the server has seen it close
	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return false
		}
		defer conn.Close()
		resp, err := get(conn)
		return err == nil && resp.StatusCode == http.StatusOK
	}, time.Minute, 10*time.Millisecond)
}

// TestTraceDownloadLimits: with a token, only controllers may download the
// run (each download runs it again); and at most maxDownloads run at once.
func TestTraceDownloadLimits(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 2, Speed: 1}, "s3cret")
	get := func(query string) int {
		resp, err := http.Get(ts.srv.URL + "/trace.jsonl" + query)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	require.Equal(t, http.StatusForbidden, get(""))
	require.Equal(t, http.StatusForbidden, get("?token=guess"))
	require.Equal(t, http.StatusOK, get("?token=s3cret"))
	for range maxDownloads {
		downloads <- struct{}{}
	}
	defer func() {
		for range maxDownloads {
			<-downloads
		}
	}()
	require.Equal(t, http.StatusTooManyRequests, get("?token=s3cret"))
}

// TestHostileViewerCannotFloodOthers: one viewer with control sends
// commands as fast as its connection takes them — seeks, resets, steps,
// resumes, each of which makes the session send frames to every viewer.
// Another viewer's frames, counted per frame of the session (so the figure
// is the same on a slow machine as on a fast one), may grow only by what
// the other's rate limit lets through: a frame or so per creditEvery
// frames, which is under twice a viewer's usual traffic.
func TestHostileViewerCannotFloodOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("watches two windows of 300 frames")
	}
	ts := startServer(t, SessionOptions{Seed: 3, Speed: 1, Nodes: 5, FrameInterval: 5 * time.Millisecond}, "s3cret")
	victim := ts.dial("")
	victim.next("state")
	const window = 300
	count := func() int {
		start := ts.session.frames.Load()
		n := 0
		for ts.session.frames.Load() < start+window {
			select {
			case _, ok := <-victim.frames:
				require.True(t, ok, "the victim's connection ended")
				n++
			case <-time.After(10 * time.Millisecond):
			}
		}
		return n
	}
	baseline := count()

	hostile := ts.dialRaw2("?token=s3cret")
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		cmds := []string{`{"op":"seek","t":0}`, `{"op":"live"}`, `{"op":"reset","seed":%d}`, `{"op":"step","count":50}`, `{"op":"resume"}`, `{"op":"state"}`, `{"op":"pause"}`, `{"op":"crash","node":1}`, `{"op":"restart","node":1}`}
		n := 0
		for {
			select {
			case <-stop:
				sent <- n
				return
			default:
			}
			cmd := cmds[n%len(cmds)]
			if strings.Contains(cmd, "%d") {
				cmd = fmt.Sprintf(cmd, n)
			}
			_ = hostile.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			if hostile.WriteMessage(websocket.TextMessage, []byte(cmd)) == nil {
				n++
			}
		}
	}()
	flooded := count()
	close(stop)
	t.Logf("the victim got %d frames in %d frames of the session alone, %d while another viewer sent %d commands", baseline, window, flooded, <-sent)
	// Each command makes at most 3 frames for everyone (the events so far,
	// a new state or a branch, the status); the limit lets through the
	// burst and one per creditEvery frames.
	// (Figures of the limit as designed: a burst of 20, one per 4 frames.)
	allowed := 3 * (20 + window/4 + 1)
	require.LessOrEqual(t, flooded, baseline+allowed, "one viewer's commands raised another's frames past what its rate limit allows")
	// At a session's usual pace a viewer gets about a frame per frame of the
	// session, so that is at most twice as many.
	require.LessOrEqual(t, baseline+allowed, 2*max(baseline, window)+60)
}

// dialRaw2 opens a websocket with a query and nothing reading it.
func (ts *testServer) dialRaw2(query string) *websocket.Conn {
	ts.t.Helper()
	url := "ws" + strings.TrimPrefix(ts.srv.URL, "http") + "/ws" + query
	conn, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {ts.srv.URL}})
	require.NoError(ts.t, err)
	ts.t.Cleanup(func() { conn.Close() })
	return conn
}

// TestOddRequests: issue 14, item 10's HTTP cases.
func TestOddRequests(t *testing.T) {
	ts := startServer(t, SessionOptions{Seed: 1}, "")
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/static/%c0%ae", http.StatusNotFound},
		{"GET", "/static/%c0%ae%c0%ae/etc/passwd", http.StatusNotFound},
		{"GET", "/static/..%2f..%2fetc%2fpasswd", http.StatusNotFound},
		{"HEAD", "/", http.StatusOK},
		{"GET", "/", http.StatusOK},
	} {
		req, err := http.NewRequest(tc.method, ts.srv.URL+tc.path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tc.want, resp.StatusCode, "%s %s", tc.method, tc.path)
	}
}

// TestProposalsBoundedPerRun: however small the commands, one run takes a
// bounded number of them, and then refuses more with a clear error.
func TestProposalsBoundedPerRun(t *testing.T) {
	s, err := NewSession(SessionOptions{Impl: reference, Seed: 1, Nodes: 3})
	require.NoError(t, err)
	require.NoError(t, s.course.advance(5*time.Second, func(time.Time, int, int) bool { return false }))
	taken := 0
	for i := range 1 << 20 {
		_, err := s.propose(Command{Op: "propose", Text: "x"})
		if err != nil {
			require.ErrorContains(t, err, "reset the cluster to start a new run")
			break
		}
		taken = i + 1
	}
	t.Logf("one run took %d one-byte proposals", taken)
	require.Positive(t, taken)
	require.LessOrEqual(t, taken, 5000, "one-byte proposals must be bounded by count, not only by bytes")
}
