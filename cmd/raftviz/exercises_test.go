package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab/grade"
)

// Real servers of a student's code. On the exercise as shipped, `raftviz
// node` and `raftviz cluster` refuse in one sentence that says the stage is
// not implemented and where to start. With the reference's code in the
// exercise's files — compiled with `go build -overlay`, as
// exercises/drift_test.go does — `raftviz cluster -impl exercises` runs
// three processes that elect a leader, elect another when it is killed, and
// keep a linearizable history.
//
// The overlay replaces each of the exercise's files by the reference's file
// of the same name (package renamed), leaving todo.go: the drift test
// (TestExerciseMatchesReference) holds that this is the exercise with every
// stub's body replaced by the reference's, comments aside.
func TestExercisesOnRealServers(t *testing.T) {
	exe := buildRaftviz(t)
	impl, err := lookupImpl("exercises")
	require.NoError(t, err)
	if st, err := grade.CheckStage(impl, 1); err != nil || st.Started {
		t.Skip("the exercise's stage 1 has been begun in this tree: the refusal is for untouched stubs")
	}
	want := "-impl exercises: stage 1 (leader election) is not implemented yet — its functions are still the r.todo stubs, so these servers would never elect a leader; start with the handout exercises/STAGE1.md and the stubs in exercises/election.go"
	for _, args := range [][]string{
		{"node", "-impl", "exercises", "-id", "1", "-peers", "1=127.0.0.1:1", "-dir", t.TempDir(), "-secret", strings.Repeat("s", 40)},
		{"cluster", "-impl", "exercises", "-open=false", "-addr", "127.0.0.1:0", "-dir", t.TempDir()},
	} {
		var stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a server that starts would run on
		defer cancel()
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.Error(t, err, "raftviz %s on untouched stubs must fail", args[0])
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		require.Len(t, lines, 1, "one sentence:\n%s", stderr.String())
		require.Equal(t, "raftviz "+args[0]+": "+want, lines[0])
		require.NotContains(t, string(out), "listening", "no server was started")
	}

	// The reference's code in the exercise's files.
	dir := t.TempDir()
	replace := map[string]string{}
	exDir, err := filepath.Abs("../../exercises")
	require.NoError(t, err)
	refs, err := filepath.Glob("../../solutions/*.go")
	require.NoError(t, err)
	for _, ref := range refs {
		name := filepath.Base(ref)
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(ref)
		require.NoError(t, err)
		clause := regexp.MustCompile(`(?m)^package solutions$`)
		require.True(t, clause.Match(src), "%s: its package clause", ref)
		src = clause.ReplaceAll(src, []byte("package exercises"))
		target := filepath.Join(exDir, name)
		_, err = os.Stat(target)
		require.NoError(t, err, "the exercise has every file of the reference")
		out := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(out, src, 0o644))
		replace[target] = out
	}
	ov, err := json.Marshal(map[string]any{"Replace": replace})
	require.NoError(t, err)
	ovPath := filepath.Join(dir, "overlay.json")
	require.NoError(t, os.WriteFile(ovPath, ov, 0o644))
	finished := filepath.Join(dir, "raftviz")
	out, err := exec.Command("go", "build", "-overlay", ovPath, "-o", finished, ".").CombinedOutput()
	require.NoError(t, err, "building raftviz with the reference in the exercise: %s", out)

	cmd := exec.Command(finished, "cluster", "-impl", "exercises", "-nodes", "3", "-load", "-kills", "1", "-kill-every", "1s", "-for", "3s",
		"-open=false", "-addr", "127.0.0.1:0", "-dir", t.TempDir(), "-html", filepath.Join(dir, "v.html"))
	done := make(chan struct{})
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("raftviz cluster -impl exercises -load did not end within 3 minutes:\n%s", out)
	}
	require.NoError(t, err, "%s", out)
	text := string(out)
	require.Contains(t, text, "real server processes of exercises", text)
	require.Contains(t, text, "faults: 1 leaders killed with SIGKILL; a new leader after", text)
	require.Contains(t, text, "linearizable: yes", text)
}
