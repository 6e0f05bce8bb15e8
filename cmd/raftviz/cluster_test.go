package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// These tests start real server processes: raftviz is built to a temporary
// folder and run as `raftviz cluster`, which starts its servers as
// `raftviz node`. They wait for what the output and the page say, with
// deadlines far beyond a healthy run; -short skips them.

func buildRaftviz(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real server processes; run without -short")
	}
	exe := filepath.Join(t.TempDir(), "raftviz")
	out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
	require.NoError(t, err, "building raftviz: %s", out)
	return exe
}

// TestClusterKeepsAcknowledgedWritesAcrossLeaderKills: three processes, a
// load of 4 clients, the leader killed with SIGKILL twice (and restarted
// from its folder); each time a new leader is elected, and the history —
// ending with a read of every key after the faults, so that a lost
// acknowledged write would show — is linearizable.
func TestClusterKeepsAcknowledgedWritesAcrossLeaderKills(t *testing.T) {
	exe := buildRaftviz(t)
	cmd := exec.Command(exe, "cluster", "-nodes", "3", "-load", "-kills", "2", "-kill-every", "1s", "-for", "4s",
		"-open=false", "-addr", "127.0.0.1:0", "-dir", t.TempDir(), "-html", filepath.Join(t.TempDir(), "v.html"))
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("raftviz cluster -load did not end within 3 minutes")
	}
	require.NoError(t, err, "%s", out)
	text := string(out)
	require.Contains(t, text, "faults: 2 leaders killed with SIGKILL; a new leader after", text)
	require.Contains(t, text, "linearizable: yes", text)
	require.Regexp(t, `answers came in [3-9]\d* terms`, text, "answers from at least three leaders")
}

// TestClusterPageControlsProcesses drives the page's websocket: the state
// names three servers; crash kills the leader's process and the page then
// shows another leader in a later term; a partition is made in the
// processes' transports, and a command commits on the majority side; seek is refused as unavailable in real time; and
// Ctrl-C (SIGINT) stops every server process.
func TestClusterPageControlsProcesses(t *testing.T) {
	exe := buildRaftviz(t)
	cmd := exec.Command(exe, "cluster", "-nodes", "3", "-open=false", "-addr", "127.0.0.1:0", "-dir", t.TempDir())
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	lines := bufio.NewScanner(stdout)
	var pids []int
	var page string
	pidRe, openRe := regexp.MustCompile(`\(pid (\d+)\)`), regexp.MustCompile(`open (http://\S+)/`)
	for page == "" && lines.Scan() {
		if m := pidRe.FindStringSubmatch(lines.Text()); m != nil {
			var pid int
			pid, _ = strconv.Atoi(m[1])
			pids = append(pids, pid)
		}
		if m := openRe.FindStringSubmatch(lines.Text()); m != nil {
			page = m[1]
		}
	}
	require.NotEmpty(t, page, "the page's address")
	require.Len(t, pids, 3)
	go func() { _, _ = io.Copy(io.Discard, stdout); _ = cmd.Wait(); close(exited) }()

	conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(page, "http://", "ws://", 1)+"/ws", nil)
	require.NoError(t, err)
	defer conn.Close()
	type frame struct {
		Type   string             `json:"type"`
		Op     string             `json:"op"`
		Error  string             `json:"error"`
		Text   string             `json:"text"`
		Nodes  []struct{ ID int } `json:"nodes"`
		Leader struct {
			ID   int    `json:"id"`
			Term uint64 `json:"term"`
		} `json:"leader"`
	}
	read := func() frame {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
		var f frame
		_, data, err := conn.ReadMessage()
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &f), "%s", data)
		return f
	}
	// until reads frames until one satisfies ok.
	until := func(what string, ok func(frame) bool) frame {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if f := read(); ok(f) {
				return f
			}
		}
		t.Fatalf("the page never showed %s", what)
		return frame{}
	}
	require.Equal(t, "hello", read().Type)
	state := read()
	require.Equal(t, "state", state.Type)
	require.Len(t, state.Nodes, 3)
	first := until("a leader", func(f frame) bool { return f.Leader.ID != 0 }).Leader

	send := func(cmd string) frame {
		t.Helper()
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(cmd)))
		return until("an answer to "+cmd, func(f frame) bool { return f.Type == "ack" || f.Type == "error" })
	}
	ack := send(`{"op":"crash","node":` + itoa(first.ID) + `}`)
	require.Equal(t, "ack", ack.Type, ack.Error)
	require.Contains(t, ack.Text, "kill -9")
	until("a new leader in a later term", func(f frame) bool { return f.Leader.ID != 0 && f.Leader.Term > first.Term })

	ack = send(`{"op":"restart","node":` + itoa(first.ID) + `}`)
	require.Equal(t, "ack", ack.Type, ack.Error)
	ack = send(`{"op":"isolate","node":1}`)
	require.Equal(t, "ack", ack.Type, ack.Error)
	require.Contains(t, ack.Text, "partitioned")
	// Across the partition, the majority side commits.
	ack = send(`{"op":"propose","command":"x=1"}`)
	require.Equal(t, "ack", ack.Type, ack.Error)
	require.Contains(t, ack.Text, "committed at index")
	require.NotContains(t, ack.Text, "by n1", "n1 is cut off: it cannot commit")
	ack = send(`{"op":"heal"}`)
	require.Equal(t, "ack", ack.Type, ack.Error)
	refused := send(`{"op":"seek","seq":1}`)
	require.Equal(t, "error", refused.Type)
	require.Contains(t, refused.Error, "unavailable in real time")
	refused = send(`{"op":"crash","node":9}`)
	require.Contains(t, refused.Error, "there is no server n9")

	// Ctrl-C stops every process it started.
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Fatal("raftviz cluster did not stop within a minute of SIGINT")
	}
	for _, pid := range pids {
		if pid == 0 {
			continue
		}
		// Signal 0 tests for the process; a reaped child is gone.
		err := syscall.Kill(pid, 0)
		require.Error(t, err, "server process %d still runs after Ctrl-C", pid)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
