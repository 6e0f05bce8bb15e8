package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNodeBadFlagsGiveOneLine(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("too short\n"), 0o600))
	good := filepath.Join(dir, "good")
	require.NoError(t, os.WriteFile(good, []byte(strings.Repeat("s", 40)+"\n"), 0o600))
	peers := "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "-id", "1", "-dir", dir, "-secret-file", good}, "-peers is required"},
		{[]string{"node", "-id", "1", "-peers", "1=x", "-dir", dir, "-secret-file", good}, `-peers: peer n1: address "x" is not HOST:PORT`},
		{[]string{"node", "-id", "1", "-peers", "one=127.0.0.1:1", "-dir", dir, "-secret-file", good}, `"one" is not a server ID`},
		{[]string{"node", "-id", "1", "-peers", "1=127.0.0.1:1,1=127.0.0.1:2", "-dir", dir, "-secret-file", good}, "-peers: peer n1 appears twice"},
		{[]string{"node", "-peers", peers, "-dir", dir, "-secret-file", good}, "-id is required"},
		{[]string{"node", "-id", "4", "-peers", peers, "-dir", dir, "-secret-file", good}, "ID n4 is not in Peers"},
		{[]string{"node", "-id", "1", "-peers", peers, "-secret-file", good}, "-dir is required"},
		{[]string{"node", "-id", "1", "-peers", peers, "-dir", dir}, "the cluster secret is required"},
		{[]string{"node", "-id", "1", "-peers", peers, "-dir", dir, "-secret-file", short}, "the cluster secret is 9 bytes; it must be at least 32"},
		{[]string{"node", "-id", "1", "-peers", peers, "-dir", dir, "-secret-file", filepath.Join(dir, "none")}, "-secret-file: open"},
		{[]string{"node", "-id", "1", "-peers", peers, "-dir", dir, "-secret-file", good, "-secret", "x"}, "not both"},
		{[]string{"node", "-id", "1", "-peers", peers, "-dir", dir, "-secret-file", good, "-heartbeat", "1s"}, "ElectionTimeout (150ms) must be at least twice HeartbeatTimeout (1s)"},
		{[]string{"node", "-impl", "nope"}, `unknown implementation "nope"`},
		{[]string{"node", "-id", "x", "-peers", peers, "-dir", dir, "-secret-file", good}, `-id: "x" is not a server ID`},
		{[]string{"node", "-id", "1", "-peers", "1=127.0.0.1:0", "-dir", dir, "-secret-file", good}, "the port must be a number from 1 to 65535"},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			code, _, stderr := raftviz(t, tc.args...)
			require.Equal(t, 2, code, "stderr: %s", stderr)
			require.Contains(t, stderr, tc.want)
			require.True(t, strings.HasPrefix(stderr, "raftviz node: "), stderr)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
}
