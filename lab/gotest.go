package lab

import (
	"testing"
)

// RunStage runs the graded tests of a stage on impl as subtests of t, each at
// its seeds. A stage whose stubs are untouched is skipped, with a message
// that says where to begin; a failure reports the rule broken, the seed, and
// how to replay the run in the browser.
func RunStage(t *testing.T, impl Implementation, stage int) {
	t.Helper()
	st, err := CheckStage(impl, stage)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Started {
		t.Skip(NotStartedMessage(impl, stage))
	}
	for _, test := range Tests(stage) {
		t.Run(test.Name, func(t *testing.T) {
			g := RunSeeds(impl, test, test.SeedsToRun(), true, TraceDir())
			if len(g.Failures) > 0 {
				t.Errorf("%s\n  (%s)\n%s", g.Failures[0].Report(), test.What, st.RemainingMessage(impl.Dir))
			}
		})
	}
}
