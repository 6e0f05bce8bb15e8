package visualizer

import (
	"net/http"
	"strings"
	"testing"

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
