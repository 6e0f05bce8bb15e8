package kv_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft/kv"
)

func cmd(t *testing.T, c kv.Command) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return b
}

func TestStoreAppliesARetriedRequestOnce(t *testing.T) {
	s := kv.NewStore()
	put := cmd(t, kv.Command{Op: kv.OpPut, Key: "x", Value: "1", Client: 7, Seq: 1})
	res, ok := s.Apply(1, put)
	require.True(t, ok)
	require.Equal(t, kv.Result{Found: false}, res)

	// Another client overwrites x; then client 7's put arrives again (its
	// answer was lost): it must not overwrite x a second time.
	_, ok = s.Apply(2, cmd(t, kv.Command{Op: kv.OpPut, Key: "x", Value: "2", Client: 8, Seq: 1}))
	require.True(t, ok)
	res, ok = s.Apply(3, put)
	require.True(t, ok)
	require.Equal(t, kv.Result{Found: false, Duplicate: true}, res, "a repeat gets the first answer")

	res, _ = s.Apply(4, cmd(t, kv.Command{Op: kv.OpGet, Key: "x", Client: 7, Seq: 2}))
	require.Equal(t, kv.Result{Value: "2", Found: true}, res)
	res, _ = s.Apply(5, cmd(t, kv.Command{Op: kv.OpDelete, Key: "x", Client: 7, Seq: 3}))
	require.Equal(t, kv.Result{Value: "2", Found: true}, res)
	res, _ = s.Apply(6, cmd(t, kv.Command{Op: kv.OpGet, Key: "x"}))
	require.Equal(t, kv.Result{}, res)
	require.Equal(t, uint64(6), s.Applied())
	require.Equal(t, 0, s.Len())
}

func TestStoreSkipsEntriesThatAreNotCommands(t *testing.T) {
	s := kv.NewStore()
	for i, c := range [][]byte{nil, []byte("x=1"), []byte(`{"op":"explode","key":"x"}`), []byte(`{"op":"put","key":""}`)} {
		_, ok := s.Apply(uint64(i+1), c)
		require.False(t, ok, "%q", c)
	}
	require.Equal(t, 0, s.Len())
	require.Equal(t, uint64(4), s.Applied())
}

func TestCommandValidate(t *testing.T) {
	for _, tc := range []struct {
		c    kv.Command
		want string
	}{
		{kv.Command{Op: "cas", Key: "x"}, `unknown operation "cas"`},
		{kv.Command{Op: kv.OpGet}, "the key is empty"},
		{kv.Command{Op: kv.OpGet, Key: strings.Repeat("k", kv.MaxKeyBytes+1)}, "keep it under 1024"},
		{kv.Command{Op: kv.OpPut, Key: "x", Value: strings.Repeat("v", kv.MaxValueBytes+1)}, "keep it under 65536"},
		{kv.Command{Op: kv.OpGet, Key: "x", Value: "v"}, "a get carries no value"},
		{kv.Command{Op: kv.OpGet, Key: "x", Client: 1}, "give both client and seq"},
		{kv.Command{Op: kv.OpPut, Key: "x", Value: "v", Client: 1, Seq: 1}, ""},
	} {
		t.Run(tc.want, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "kv: "))
		})
	}
}

// op builds a history entry at ms offsets from a fixed start.
func op(client int, c kv.Command, start, end int, res kv.Result) kv.Op {
	t0 := time.Unix(1_700_000_000, 0)
	o := kv.Op{Client: client, Cmd: c, Start: t0.Add(time.Duration(start) * time.Millisecond), Result: res}
	if end < 0 {
		o.Unknown = true
	} else {
		o.End = t0.Add(time.Duration(end) * time.Millisecond)
	}
	return o
}

func TestCheckAcceptsLinearizableHistories(t *testing.T) {
	put := func(v string) kv.Command { return kv.Command{Op: kv.OpPut, Key: "x", Value: v} }
	get := kv.Command{Op: kv.OpGet, Key: "x"}
	for _, tc := range []struct {
		name string
		ops  []kv.Op
	}{
		{"sequential", []kv.Op{op(0, put("1"), 0, 10, kv.Result{}), op(1, get, 20, 30, kv.Result{Value: "1", Found: true})}},
		{"a read overlapping a write may see either", []kv.Op{
			op(0, put("1"), 0, 10, kv.Result{}),
			op(0, put("2"), 20, 40, kv.Result{Found: true}),
			op(1, get, 25, 30, kv.Result{Value: "1", Found: true}),
			op(2, get, 26, 35, kv.Result{Value: "2", Found: true}),
		}},
		{"a write without an answer may take effect late", []kv.Op{
			op(0, put("1"), 0, -1, kv.Result{}),
			op(1, get, 20, 30, kv.Result{}),
			op(1, get, 40, 50, kv.Result{Value: "1", Found: true}),
		}},
		{"a read without an answer is left out", []kv.Op{op(1, get, 0, -1, kv.Result{Value: "junk", Found: true})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, v := kv.Check(tc.ops, 10*time.Second)
			require.Equal(t, porcupine.Ok, res)
			require.Nil(t, v)
		})
	}
}

func TestCheckFindsAStaleReadAndShrinksIt(t *testing.T) {
	put := func(k, v string) kv.Command { return kv.Command{Op: kv.OpPut, Key: k, Value: v} }
	get := func(k string) kv.Command { return kv.Command{Op: kv.OpGet, Key: k} }
	ops := []kv.Op{
		op(0, put("y", "a"), 0, 5, kv.Result{}),
		op(0, put("x", "1"), 10, 20, kv.Result{}),
		op(1, get("y"), 12, 18, kv.Result{Value: "a", Found: true}),
		op(0, put("x", "2"), 30, 40, kv.Result{Found: true}),
		op(2, get("x"), 32, 38, kv.Result{Value: "1", Found: true}), // fine: overlaps the put
		// A read that starts after put(x, 2) was acknowledged, yet sees 1: a
		// stale read, as a deposed leader answering from its own state gives.
		op(1, get("x"), 50, 60, kv.Result{Value: "1", Found: true}),
		op(2, get("y"), 55, 65, kv.Result{Value: "a", Found: true}),
	}
	res, v := kv.Check(ops, 10*time.Second)
	require.Equal(t, porcupine.Illegal, res)
	require.NotNil(t, v)
	require.Equal(t, "x", v.Key)
	// The story, and nothing else: 1 written, 2 written over it, 1 read after.
	require.Equal(t, []kv.Op{ops[1], ops[3], ops[5]}, v.Ops)
	text := v.String()
	require.Contains(t, text, `the history of key "x" is not linearizable`)
	require.Contains(t, text, `get("x") → "1"`)

	path := filepath.Join(t.TempDir(), "violation.html")
	require.NoError(t, v.SaveHTML(path))
	html, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(html), "<html")
}
