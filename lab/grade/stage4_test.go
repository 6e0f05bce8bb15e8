package grade

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/raft"
	"github.com/raftlab/raftlab/solutions"
)

// The stage-4 scenarios must really happen on the reference: snapshots taken,
// InstallSnapshot sent where a test is about it, held messages released. A
// scenario that silently never sets itself up would pass any implementation.
func TestStage4ScenariosHappen(t *testing.T) {
	ref := lab.Implementation{Name: "solutions", New: solutions.New}
	want := map[string][]string{
		"SnapshotBasic":        {"snapshot"},
		"Install":              {"snapshot", "install", "restore"},
		"InstallUnreliable":    {"snapshot", "install", "restore"},
		"InstallCrash":         {"snapshot", "install", "restore"},
		"AllCrash":             {"snapshot", "restore"},
		"InitAfterRestart":     {"snapshot", "restore"},
		"StaleInstall":         {"install", "hold", "release"},
		"DuplicateInstall":     {"install", "hold", "release", "duplicate"},
		"SnapshotDuringAppend": {"snapshot", "hold", "release"},
		"CompactionChurn":      {"snapshot"},
		"StaleTermInstall":     {"snapshot", "install", "hold", "release"}, // rules4.go
	}
	for _, test := range Tests(4) {
		for k := range 3 {
			counts := map[string]int{}
			sink := func(e *raft.Event) {
				switch e.Kind {
				case raft.EvSnapshot, raft.EvRestore, raft.EvHold, raft.EvRelease, raft.EvDuplicate:
					counts[e.Kind.String()]++
				case raft.EvSend:
					if e.Msg.Type == raft.InstallSnapshot {
						counts["install"]++
					}
				}
			}
			r := runOnce(ref, test, test.Seed(k), sink)
			require.Nil(t, r.Failure, "%s seed %d", test.Name, r.Seed)
			names, ok := want[test.Name]
			require.True(t, ok, "add %s to this table", test.Name)
			for _, w := range names {
				require.Positive(t, counts[w], "%s seed %d: no %s event (saw %v)", test.Name, r.Seed, w, counts)
			}
		}
	}
}

// A stage-4 run replays from its trace, event for event: the periodic
// snapshots come from the header (SnapshotEvery), the ones a test asks for
// are commands (compact), like the held and released messages.
func TestStage4RunsReplay(t *testing.T) {
	ref := lab.Implementation{Name: "solutions", New: solutions.New}
	for _, name := range []string{"4/SnapshotDuringAppend", "4/DuplicateInstall", "4/CompactionChurn"} {
		test, err := FindTest(name)
		require.NoError(t, err)
		seed := test.Seed(0)
		var buf bytes.Buffer
		tw, err := lab.NewTraceWriter(&buf, lab.HeaderFor(test.Options(ref, seed)))
		require.NoError(t, err)
		r := runOnce(ref, test, seed, tw.Write)
		require.Nil(t, r.Failure, name)
		require.NoError(t, tw.Flush())
		tr, err := lab.ReadTrace(bytes.NewReader(buf.Bytes()), name)
		require.NoError(t, err)
		require.NoError(t, lab.Verify(tr, solutions.New), "%s replays from its trace", name)
	}
}
