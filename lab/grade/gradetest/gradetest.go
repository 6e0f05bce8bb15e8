// Package gradetest runs a stage's graded tests under go test, one subtest per
// graded test. It is the only part of the grader that imports testing, so that
// the raftviz binary does not link it.
package gradetest

import (
	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/lab/grade"
	"testing"
)

// RunStage runs the graded tests of a stage on impl as subtests of t, each at
// its seeds. A stage whose stubs are untouched is skipped, with a message
// that says where to begin; a failure reports the rule broken, the seed, and
// how to replay the run in the browser.
func RunStage(t *testing.T, impl lab.Implementation, stage int) {
	t.Helper()
	st, err := grade.CheckStage(impl, stage)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Started {
		t.Skip(grade.NotStartedMessage(impl, stage))
	}
	points := map[grade.Kind][2]int{}
	for _, test := range grade.Tests(stage) {
		t.Run(test.Name, func(t *testing.T) {
			g := grade.RunSeeds(impl, test, test.SeedsToRun(), true, grade.TraceDir())
			p := points[test.Kind]
			points[test.Kind] = [2]int{p[0] + g.Points, p[1] + test.Points}
			if len(g.Failures) > 0 {
				t.Errorf("%s\n  (%s test: %s)\n%s", g.Failures[0].Report(), test.Kind, test.What, st.RemainingMessage(impl.Dir))
			}
		})
	}
	c, e := points[grade.Correctness], points[grade.Efficiency]
	t.Logf("stage %d, %s: correctness %d/%d points, efficiency %d/%d points (budgets: exercises/GRADING.md)",
		stage, grade.StageName(stage), c[0], c[1], e[0], e[1])
}
