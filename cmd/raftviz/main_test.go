package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/raftlab/raftlab/lab/grade"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// raftviz runs the command in-process and returns its exit status and output.
func raftviz(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestBadFlagsGiveOneLineAndExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sim", "-impl", "nope"}, `raftviz sim: unknown implementation "nope": use exercises or solutions`},
		{[]string{"sim", "-nodes", "0"}, "raftviz sim: -nodes 0: a cluster has 1 to 15 nodes"},
		{[]string{"sim", "-nodes", "99"}, "raftviz sim: -nodes 99: a cluster has 1 to 15 nodes"},
		{[]string{"sim", "-loss", "1.5"}, "raftviz sim: -loss 1.5: a probability is between 0 and 1"},
		{[]string{"sim", "-loss", "-0.1"}, "raftviz sim: -loss -0.1: a probability is between 0 and 1"},
		{[]string{"sim", "-for", "0s"}, "raftviz sim: -for 0s: the run must last a positive time"},
		{[]string{"sim", "-seeds", "3", "-trace", "x.jsonl"}, "raftviz sim: -trace writes one run"},
		{[]string{"sim", "-bogus"}, "raftviz sim: flag provided but not defined: -bogus"},
		{[]string{"sim", "-for", "soon"}, `raftviz sim: invalid value "soon" for flag -for`},
		{[]string{"grade", "-impl", "nope"}, `raftviz grade: unknown implementation "nope"`},
		{[]string{"grade", "-stage", "9"}, `raftviz grade: -stage "9": the stages are 1 (election), 2 (replication), 3 (persistence), 4 (compaction), or all`},
		{[]string{"grade", "-test", "NoSuchTest"}, `raftviz grade: lab: there is no test "NoSuchTest"`},
		{[]string{"grade", "-seed", "4"}, "raftviz grade: -seed goes with -test"},
		{[]string{"serve", "-nodes", "-1"}, "raftviz serve: -nodes -1: a cluster has 1 to 15 nodes"},
		{[]string{"serve", "-speed", "0"}, "raftviz serve: -speed 0: between 0.001 and 1000"},
		{[]string{"serve", "-addr", "nonsense"}, `raftviz serve: -addr "nonsense": want host:port`},
		{[]string{"replay"}, "raftviz replay: give one trace file to replay (got 0 arguments)"},
		{[]string{"explode"}, `raftviz: unknown command "explode"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := raftviz(t, tc.args...)
			require.Equal(t, 2, code, "stderr: %s", stderr)
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
}

func TestSimPrintsSummaryAndWritesReplayableTrace(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	args := []string{"sim", "-seed", "7", "-nodes", "5", "-for", "10s", "-loss", "0.1", "-churn"}
	code, out, stderr := raftviz(t, append(args, "-trace", a)...)
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"raftviz sim: solutions, 5 nodes, seed 7, 10s of virtual time", "leaders:", "elections:", "messages:", "commands:", "violations:  none"} {
		require.Contains(t, out, want)
	}
	require.Regexp(t, regexp.MustCompile(`leaders:\s+1:n\d`), out)

	// The same flags give the same trace, byte for byte.
	code, _, _ = raftviz(t, append(args, "-trace", b)...)
	require.Equal(t, 0, code)
	ta, _ := os.ReadFile(a)
	tb, _ := os.ReadFile(b)
	require.True(t, bytes.Equal(ta, tb), "two runs with the same flags gave different traces")

	code, out, _ = raftviz(t, "replay", "-verify", a)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "replays exactly with solutions")
}

func TestSimExitsNonZeroOnViolation(t *testing.T) {
	implementations["votes-for-all"] = lab.Implementation{Name: "votes-for-all", New: votesForAll}
	defer delete(implementations, "votes-for-all")
	code, out, _ := raftviz(t, "sim", "-impl", "votes-for-all", "-seeds", "20", "-for", "20s", "-churn")
	require.Equal(t, 1, code, out)
	require.Regexp(t, `violations:  \d+\n  \S.* broken at [0-9.]+s on n\d`, out)
	require.Contains(t, out, "write its trace with:")
}

// votesForAll is the reference, except that it grants every vote it is asked for.
func votesForAll(cfg raft.Config, saved raft.Saved, env raft.Env) raft.Node {
	return &greedy{Node: solutions.New(cfg, saved, env), env: env, term: saved.HardState.CurrentTerm}
}

type greedy struct {
	raft.Node
	env  raft.Env
	term uint64
}

func (g *greedy) Step(m raft.Message) {
	if m.Type == raft.RequestVote {
		g.env.Send(raft.Message{Type: raft.RequestVoteReply, To: m.From, Term: max(m.Term, g.Status().Term), VoteGranted: true})
	}
	g.Node.Step(m)
}

func TestGrade(t *testing.T) {
	code, out, stderr := raftviz(t, "grade", "-impl", "solutions", "-stage", "1", "-seeds", "3")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "Stage 1: leader election")
	require.Contains(t, out, "InitialElection")
	require.Contains(t, out, "3/3")
	require.Regexp(t, `total +(\d+)/(\d+) .*\n`, out)
	require.Contains(t, out, "correctness")
	require.Contains(t, out, "efficiency")
	full := 0
	for _, test := range grade.Tests(1) {
		full += test.Points
	}
	require.Contains(t, out, fmt.Sprintf("%d/%d", full, full))

	// A fresh exercise: every stage is not started yet, and says where to begin.
	code, out, _ = raftviz(t, "grade", "-impl", "exercises", "-seeds", "2")
	require.Equal(t, 0, code)
	require.Contains(t, out, "not started — stage 1 (leader election) is not started yet")
	require.Contains(t, out, "exercises/election.go")
	require.Contains(t, out, "Total for exercises: 0/")

	code, out, _ = raftviz(t, "grade", "-impl", "solutions", "-test", "2/BasicAgree", "-seeds", "2")
	require.Equal(t, 0, code)
	require.Contains(t, out, "2 of 2 seeds passed")
}

func TestReplayRefusesBadTraces(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"format":"raftlab-trace","version":1,"impl":"solutions","nodes":3}`+"\n"+`{"seq":1,"t":0,"kind":"crash","node":1`), 0o644))
	code, _, stderr := raftviz(t, "replay", "-verify", bad)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "line 2: the line ends in the middle of an event: the file is truncated")

	code, _, stderr = raftviz(t, "replay", filepath.Join(dir, "missing.jsonl"))
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "cannot read the trace")

	other := filepath.Join(dir, "other.jsonl")
	require.NoError(t, os.WriteFile(other, []byte(`{"format":"raftlab-trace","version":1,"impl":"mine","nodes":3}`+"\n"), 0o644))
	code, _, stderr = raftviz(t, "replay", "-verify", other)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `the trace was recorded with "mine", which this raftviz does not have: pass -impl`)
}

// syncBuffer is a buffer that the server writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeStartsAndStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-open=false", "-nodes", "3"}, &out, &out) }()
	var url string
	require.Eventually(t, func() bool {
		m := regexp.MustCompile(`open (http://\S+)`).FindStringSubmatch(out.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 10*time.Second, 10*time.Millisecond, "the URL is printed")
	resp, err := http.Get(url + "healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel() // as Ctrl-C does
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(10 * time.Second):
		t.Fatal("raftviz did not stop within 10s of Ctrl-C")
	}
	require.Contains(t, out.String(), "raftviz: stopped")
}

func TestServeReportsPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	code, _, stderr := raftviz(t, "-addr", ln.Addr().String(), "-open=false")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "is already in use (another raftviz?): pick another address with -addr")
}

func TestServeBeyondLoopbackNeedsToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"-addr", "0.0.0.0:0", "-open=false", "-nodes", "3"}, &out, &out) }()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "?token=") }, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, out.String(), "anyone can watch at")
	// The address printed is one the server answers to (its Host allowed).
	url := strings.Fields(out.String()[strings.Index(out.String(), "anyone can watch at"):])[4]
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	cancel()
	require.Equal(t, 0, <-done)
}
