package lab

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/raft"
)

func TestViewLeaderIsTheHighestTerm(t *testing.T) {
	v := NewView(5, DefaultNetwork())
	id, term := v.Leader()
	require.Equal(t, raft.None, id)
	require.Zero(t, term)

	set := func(id raft.NodeID, role raft.Role, term uint64, up bool) {
		n := v.Node(id)
		n.Role, n.Term, n.Up = role, term, up
	}
	set(3, raft.Leader, 2, true) // cut off, still believes it leads term 2
	set(2, raft.Leader, 3, true) // the real leader, of term 3
	set(5, raft.Leader, 9, false)
	id, term = v.Leader()
	require.Equal(t, raft.NodeID(2), id, "the highest term among running servers that believe they lead")
	require.Equal(t, uint64(3), term)

	set(4, raft.Leader, 3, true) // two leaders in term 3 break Election Safety; the answer stays deterministic
	id, _ = v.Leader()
	require.Equal(t, raft.NodeID(2), id)
}
