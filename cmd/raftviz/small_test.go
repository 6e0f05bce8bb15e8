package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSmallInputMistakes: issue 14, item 10's command-line cases.
func TestSmallInputMistakes(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "run.jsonl")
	code, _, stderr := raftviz(t, "sim", "-for", "1s", "-nodes", "3", "-trace", trace)
	require.Equal(t, 0, code, stderr)

	// -impl bogus is the flag's fault, not the trace's.
	code, _, stderr = raftviz(t, "replay", "-impl", "bogus", "-verify", trace)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `-impl "bogus": there is no such implementation`)
	require.NotContains(t, stderr, "recorded with")

	code, _, stderr = raftviz(t, "sim", "-propose", "NaN", "-for", "1s")
	require.Equal(t, 2, code, "NaN proposals a second must be refused")
	require.Contains(t, stderr, "-propose NaN")

	code, stdout, stderr := raftviz(t, "sim", "-seed", "18446744073709551615", "-seeds", "2", "-for", "1s")
	require.Equal(t, 2, code, "seeds past 2^64-1 must be refused, not wrap: %s", stdout)
	require.Contains(t, stderr, "past the largest seed")
	code, _, _ = raftviz(t, "sim", "-seed", "18446744073709551615", "-seeds", "1", "-for", "1s", "-nodes", "3")
	require.Equal(t, 0, code, "the largest seed itself runs")

	// A trailing blank line is allowed; a trace cut at a line boundary is not.
	data, err := os.ReadFile(trace)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(trace, append(data, '\n', '\n'), 0o600))
	code, stdout, _ = raftviz(t, "replay", "-verify", trace)
	require.Equal(t, 0, code, stdout)
	lines := strings.SplitAfter(strings.TrimSpace(string(data)), "\n")
	require.NoError(t, os.WriteFile(trace, []byte(strings.Join(lines[:len(lines)/2], "")), 0o600))
	code, _, stderr = raftviz(t, "replay", "-verify", trace)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "truncated")
}

// TestTokenNotOnCommandLine: the browser is opened on a private file that
// leads to the token URL, so the token never appears in a command line.
func TestTokenNotOnCommandLine(t *testing.T) {
	url := "http://192.0.2.1:8080/?token=0123abcd"
	path, err := tokenPage(url)
	require.NoError(t, err)
	defer os.Remove(path)
	require.NotContains(t, path, "0123abcd")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(data), url)
}
