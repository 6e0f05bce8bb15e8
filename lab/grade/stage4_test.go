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
		"InstallCount":         {"snapshot", "install", "restore"},
		"InstallKeepsSuffix":   {"snapshot", "install", "hold", "release", "restore"},
		"InstallDiscardsLog":   {"snapshot", "install", "hold", "release", "restore"},
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

// The scenes of Figure 13's steps 6 and 7 come about on the reference at
// every seed: the check is made, not skipped as "nothing to test".
func TestStage4Step6ScenesHappen(t *testing.T) {
	ref := lab.Implementation{Name: "solutions", New: solutions.New}
	for _, name := range []string{"InstallKeepsSuffix", "InstallDiscardsLog"} {
		test, err := FindTest(name)
		require.NoError(t, err)
		for k := range test.SeedsToRun() {
			got := 0
			reachedHook = func(n string) {
				if n == name {
					got++
				}
			}
			r := runOnce(ref, test, test.Seed(k), nil)
			reachedHook = nil
			require.Nil(t, r.Failure, "%s seed %d", name, r.Seed)
			require.Equal(t, 1, got, "%s seed %d: the scene did not come about", name, r.Seed)
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
