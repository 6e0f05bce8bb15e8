package kv

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client sends requests to a cluster's key/value API, one at a time: it finds
// the leader (following the hints of servers that are not), and retries a
// request that got no answer — at the same or another server, with the same
// client ID and seq, so that it is applied once however often it is sent.
type Client struct {
	mu      sync.Mutex
	servers []string
	id, seq uint64
	next    int    // the server to try first
	leader  string // the leader's URL, when known
	http    *http.Client
	stats   ClientStats
}

// ClientStats counts what a Client did besides succeed at the first try.
type ClientStats struct {
	Attempts  int // requests sent, retries and redirects included
	Redirects int // answers naming another server as the leader
	Retries   int // attempts that got no answer or an error, and were retried
}

// ClientOptions are the settings of a Client.
type ClientOptions struct {
	// AttemptTimeout bounds one attempt at one server (default 2.5s, longer
	// than a server's wait for a commit, so that its answer arrives).
	AttemptTimeout time.Duration
}

// NewClient talks to the servers at the base URLs given (http://host:port).
func NewClient(servers []string, opts ClientOptions) (*Client, error) {
	if len(servers) == 0 {
		return nil, errors.New("kv: a client needs the address of at least one server")
	}
	for _, s := range servers {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("kv: server address %q: want a base URL such as http://127.0.0.1:7001", s)
		}
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 2500 * time.Millisecond
	}
	var b [8]byte
	_, _ = crand.Read(b[:])
	return &Client{
		servers: append([]string(nil), servers...),
		id:      binary.LittleEndian.Uint64(b[:])>>1 | 1, // never 0: 0 means no duplicate detection
		http:    &http.Client{Timeout: opts.AttemptTimeout},
	}, nil
}

// ID is the client's ID, carried by every request for duplicate detection.
func (c *Client) ID() uint64 { return c.id }

// Stats returns what the client counted.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Put sets key to value.
func (c *Client) Put(ctx context.Context, key, value string) (Reply, error) {
	return c.Do(ctx, Command{Op: OpPut, Key: key, Value: value})
}

// Get reads key; Reply.Found says whether it has a value.
func (c *Client) Get(ctx context.Context, key string) (Reply, error) {
	return c.Do(ctx, Command{Op: OpGet, Key: key})
}

// Delete removes key.
func (c *Client) Delete(ctx context.Context, key string) (Reply, error) {
	return c.Do(ctx, Command{Op: OpDelete, Key: key})
}

// errPermanent marks an answer that retrying cannot change (a bad request).
var errPermanent = errors.New("kv: request refused")

// Do sends c (its Client and Seq are set here) until a server answers it, or
// ctx ends. An error after ctx ends leaves it unknown whether c was applied.
func (c *Client) Do(ctx context.Context, cmd Command) (Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	cmd.Client, cmd.Seq = c.id, c.seq
	if err := cmd.Validate(); err != nil {
		return Reply{}, err
	}
	backoff := 10 * time.Millisecond
	var last error
	for {
		server := c.leader
		if server == "" {
			server = c.servers[c.next%len(c.servers)]
		}
		c.stats.Attempts++
		rep, status, err := c.send(ctx, server, cmd)
		switch {
		case err == nil && (status == http.StatusOK || status == http.StatusNotFound):
			c.leader = server
			return rep, nil
		case err == nil && status == http.StatusMisdirectedRequest && rep.LeaderURL != "" && rep.LeaderURL != server:
			c.stats.Redirects++
			c.leader = rep.LeaderURL
			continue
		case err == nil && status == http.StatusBadRequest:
			return rep, fmt.Errorf("%w: %s", errPermanent, rep.Error)
		case err == nil:
			last = fmt.Errorf("kv: %s answered %d: %s", server, status, rep.Error)
		default:
			last = err
		}
		// No answer, or no leader there: try the next server after a pause.
		c.stats.Retries++
		c.leader = ""
		c.next++
		select {
		case <-ctx.Done():
			return Reply{}, fmt.Errorf("kv: %s %q (client %d seq %d) got no answer before the deadline; it may or may not have been applied; last error: %v", cmd.Op, cmd.Key, cmd.Client, cmd.Seq, last)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// send makes one attempt at one server.
func (c *Client) send(ctx context.Context, server string, cmd Command) (Reply, int, error) {
	method := map[string]string{OpPut: http.MethodPut, OpGet: http.MethodGet, OpDelete: http.MethodDelete}[cmd.Op]
	u := fmt.Sprintf("%s%s%s?client=%d&seq=%d", strings.TrimSuffix(server, "/"), Path, url.PathEscape(cmd.Key), cmd.Client, cmd.Seq)
	var body io.Reader
	if cmd.Op == OpPut {
		body = bytes.NewReader([]byte(cmd.Value))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return Reply{}, 0, fmt.Errorf("kv: building the request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Reply{}, 0, err
	}
	defer resp.Body.Close()
	var rep Reply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 2*MaxValueBytes)).Decode(&rep); err != nil {
		return Reply{}, 0, fmt.Errorf("kv: %s answered %d with a body that is not a reply: %v", server, resp.StatusCode, err)
	}
	return rep, resp.StatusCode, nil
}
