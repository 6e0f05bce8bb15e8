package visualizer

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// telling is what a viewer saw of one scenario: each narration and the wall
// time it appeared at.
type telling struct {
	lines []string
	at    []time.Duration
	total time.Duration
}

// tell plays a scenario at the default speed on a clock of its own: the
// session's frames are driven one FrameInterval of wall time apart, as the
// session's ticker drives them, but without waiting for the real clock.
func tell(t *testing.T, name string, nodes int, seed uint64) telling {
	t.Helper()
	s, err := NewSession(SessionOptions{Impl: reference, Nodes: nodes, Seed: seed})
	require.NoError(t, err)
	_, err = s.startScenario(name)
	require.NoError(t, err)
	var tl telling
	now := s.pace.lastWall
	for elapsed := time.Duration(0); s.scenario != nil; elapsed += s.opts.FrameInterval {
		if line := s.scenario.narration(); len(tl.lines) == 0 || line != tl.lines[len(tl.lines)-1] {
			tl.lines = append(tl.lines, line)
			tl.at = append(tl.at, elapsed)
		}
		require.Less(t, elapsed, 10*time.Minute, "%s never finished; it said %q", name, tl.lines[len(tl.lines)-1])
		now = now.Add(s.opts.FrameInterval)
		s.frame(now)
		tl.total = elapsed
	}
	return tl
}

// A scenario tells its story from the first step, in order, in one to two
// minutes at the default speed, and never leaves the viewer without a new
// word for more than ten seconds. Its words name the servers as the screen
// does (n1…), never the paper's s1…s5.
func TestScenariosArePacedInWallTime(t *testing.T) {
	report := os.Getenv("RAFTLAB_SCENARIO_REPORT") != ""
	for _, name := range scenarioOrder {
		for _, c := range []struct {
			nodes int
			seed  uint64
		}{{5, 1}, {5, 2}, {3, 3}, {9, 4}} {
			if c.nodes < scenarios[name].minNodes {
				continue
			}
			t.Run(fmt.Sprintf("%s/%d-nodes/seed-%d", name, c.nodes, c.seed), func(t *testing.T) {
				tl := tell(t, name, c.nodes, c.seed)
				require.Contains(t, tl.lines[0], "step 1 of", "the telling starts at its first step")
				n := 0
				for _, line := range tl.lines {
					require.NotContains(t, line, "{", "a name was left unfilled: %q", line)
					for _, paper := range []string{" s1", " s2", " s3", " s4", " s5"} {
						require.NotContains(t, line, paper, "the narration uses the paper's names: %q", line)
					}
					var i, of int
					if _, err := fmt.Sscanf(line[strings.Index(line, "step ")+len("step "):], "%d of %d", &i, &of); err == nil && strings.Contains(line, "— step ") {
						require.True(t, i == n || i == n+1, "step %d came after step %d: every step is shown, in order (%q)", i, n, line)
						n = i
					}
				}
				require.Contains(t, tl.lines[len(tl.lines)-1], "— done.")
				gap, at := time.Duration(0), 0
				for i := 1; i < len(tl.at); i++ {
					if d := tl.at[i] - tl.at[i-1]; d > gap {
						gap, at = d, i-1
					}
				}
				if report {
					t.Logf("%s: %v in all, longest silence %v, %d lines", name, tl.total.Round(time.Second), gap.Round(100*time.Millisecond), len(tl.lines))
				}
				require.LessOrEqual(t, tl.total, 2*time.Minute, "the telling takes at most two minutes")
				require.LessOrEqual(t, gap, 10*time.Second, "no silence over ten seconds; it stayed on %q", tl.lines[at])
			})
		}
	}
}
