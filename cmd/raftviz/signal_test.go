package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLongCommandsStopOnSignal runs the built raftviz and interrupts each
// long command once it is busy: each must stop, say where it was, and exit
// 130 (serve: stop cleanly, 0). How long each took to stop is logged (under
// a second on an idle machine); the test only bounds it loosely, so that it
// holds on a loaded one.
func TestLongCommandsStopOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds raftviz and runs it")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc to tell when a command is busy")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "raftviz")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	trace := filepath.Join(dir, "run.jsonl")
	code, _, stderr := raftviz(t, "sim", "-for", "1m", "-propose", "20", "-trace", trace)
	require.Equal(t, 0, code, stderr)

	for _, tc := range []struct {
		name string
		args []string
		sig  syscall.Signal
		code int
		want string
	}{
		{"sim", []string{"sim", "-for", "100000h"}, syscall.SIGINT, 130, "raftviz sim: interrupted at seed 1, "},
		{"sim-seeds", []string{"sim", "-seeds", "1000000", "-for", "10s"}, syscall.SIGTERM, 130, "clean seeds"},
		{"grade", []string{"grade", "-impl", "solutions"}, syscall.SIGINT, 130, "raftviz grade: interrupted while grading stage 1"},
		{"grade-one", []string{"grade", "-impl", "solutions", "-test", "3/Figure8Unreliable", "-seeds", "100000"}, syscall.SIGINT, 130, "interrupted while running 3/Figure8Unreliable"},
		{"replay-verify", []string{"replay", "-verify", trace}, syscall.SIGINT, 130, "raftviz replay: interrupted "},
		{"replay-serve", []string{"replay", "-open=false", "-addr", "127.0.0.1:0", trace}, syscall.SIGINT, -1, ""},
		{"serve", []string{"-open=false", "-addr", "127.0.0.1:0"}, syscall.SIGTERM, 0, "raftviz: stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			if tc.name == "serve" {
				require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "Ctrl-C to stop") }, time.Minute, 10*time.Millisecond)
			} else {
				waitBusy(t, cmd.Process.Pid, done)
			}
			sent := time.Now()
			require.NoError(t, cmd.Process.Signal(tc.sig))
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				_ = cmd.Process.Kill()
				t.Fatalf("raftviz %s did not stop on %v", tc.name, tc.sig)
			}
			t.Logf("raftviz %s stopped %v after the signal: %s", tc.name, time.Since(sent), strings.TrimSpace(stderr.String()))
			got := cmd.ProcessState.ExitCode()
			require.NotEqual(t, -1, got, "killed by the signal instead of stopping: %v", err)
			if tc.code >= 0 {
				require.Equal(t, tc.code, got, "stderr: %s", stderr.String())
				require.Contains(t, stdout.String()+stderr.String(), tc.want)
			}
		})
	}
}

// waitBusy waits until process pid has used 100ms of CPU time: it has
// long since set up its signal handling and is at work.
func waitBusy(t *testing.T, pid int, done chan error) {
	t.Helper()
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		require.NoError(t, err)
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		utime, _ := strconv.Atoi(f[11])
		stime, _ := strconv.Atoi(f[12])
		if utime+stime >= 10 {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("the command ended before it was interrupted: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
