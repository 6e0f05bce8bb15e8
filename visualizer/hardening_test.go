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
