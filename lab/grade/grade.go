package grade

import (
	"fmt"
	"github.com/raftlab/raftlab/lab"
	"io"
	"runtime"
	"sync"
	"time"
)

// TestGrade is the outcome of one test over all its seeds.
type TestGrade struct {
	Test   *Test
	Seeds  int
	Passed int
	// Points: a test earns its points only if it passes at every seed.
	Points int
	// Failures holds the failing seeds' failures, in seed order.
	Failures []*Failure
	Elapsed  time.Duration
	Events   uint64
}

// StageGrade is the outcome of one stage.
type StageGrade struct {
	Stage     int
	State     StageState
	Tests     []TestGrade
	Points    int
	MaxPoints int
	// Correct and MaxCorrect are the points of the correctness tests;
	// Efficient and MaxEfficient those of the efficiency tests.
	Correct, MaxCorrect     int
	Efficient, MaxEfficient int
	// CorrectnessFailures counts the seeds that failed for a correctness
	// reason, in any test (a rule broken in an efficiency test is broken).
	CorrectnessFailures int
	Elapsed             time.Duration
}

// add counts a test's grade into the stage's points.
func (sg *StageGrade) add(g TestGrade) {
	sg.Tests = append(sg.Tests, g)
	sg.Points += g.Points
	sg.MaxPoints += g.Test.Points
	if g.Test.Kind == Efficiency {
		sg.Efficient += g.Points
		sg.MaxEfficient += g.Test.Points
	} else {
		sg.Correct += g.Points
		sg.MaxCorrect += g.Test.Points
	}
	for _, f := range g.Failures {
		if f.Kind == Correctness {
			sg.CorrectnessFailures++
		}
	}
}

// RunSeeds runs test t at seeds 0..n-1 on impl, using every core. With
// stopEarly, it stops starting new seeds after the first failure.
func RunSeeds(impl lab.Implementation, t *Test, n int, stopEarly bool, traceDir string) TestGrade {
	start := time.Now()
	g := TestGrade{Test: t, Seeds: n}
	results := make([]Result, n)
	var (
		mu     sync.Mutex
		next   int
		failed bool
		wg     sync.WaitGroup
	)
	workers := min(runtime.GOMAXPROCS(0), n)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				k := next
				next++
				stop := k >= n || (stopEarly && failed)
				mu.Unlock()
				if stop {
					return
				}
				r := RunTest(impl, t, t.Seed(k), traceDir)
				mu.Lock()
				results[k] = r
				if r.Failure != nil {
					failed = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	ran := 0
	for k := range results {
		r := &results[k]
		if r.Seed == 0 {
			continue // not run: stopped early
		}
		ran++
		g.Events += r.Events
		if r.Failure != nil {
			g.Failures = append(g.Failures, r.Failure)
		} else {
			g.Passed++
		}
	}
	g.Seeds = max(ran, 1)
	if len(g.Failures) == 0 && ran == n {
		g.Points = t.Points
	}
	g.Elapsed = time.Since(start)
	return g
}

// GradeStage runs every test of a stage at seeds seeds each (0: each test's own count).
func GradeStage(impl lab.Implementation, stage, seeds int, traceDir string) (StageGrade, error) {
	start := time.Now()
	sg := StageGrade{Stage: stage}
	st, err := CheckStage(impl, stage)
	if err != nil {
		return sg, err
	}
	sg.State = st
	for _, t := range Tests(stage) {
		if !st.Started {
			sg.add(TestGrade{Test: t})
			continue
		}
		n := seeds
		if n <= 0 {
			n = t.SeedsToRun()
		}
		sg.add(RunSeeds(impl, t, n, false, traceDir))
	}
	sg.Elapsed = time.Since(start)
	return sg, nil
}

// WriteTable writes the stage's results as a table, failures after it.
func (sg StageGrade) WriteTable(w io.Writer, impl lab.Implementation) {
	fmt.Fprintf(w, "Stage %d: %s\n", sg.Stage, StageName(sg.Stage))
	if !sg.State.Started {
		fmt.Fprintf(w, "  not started — %s\n", NotStartedMessage(impl, sg.Stage))
	}
	fmt.Fprintf(w, "  %-22s %-11s %12s %8s\n", "test", "kind", "seeds passed", "points")
	for _, g := range sg.Tests {
		seeds := "skipped"
		if sg.State.Started {
			seeds = fmt.Sprintf("%d/%d", g.Passed, g.Seeds)
		}
		fmt.Fprintf(w, "  %-22s %-11s %12s %4d/%-3d\n", g.Test.Name, g.Test.Kind, seeds, g.Points, g.Test.Points)
	}
	fmt.Fprintf(w, "  %-22s %-11s %12s %4d/%-3d\n", "correctness", "", "", sg.Correct, sg.MaxCorrect)
	fmt.Fprintf(w, "  %-22s %-11s %12s %4d/%-3d  (budgets: exercises/GRADING.md)\n", "efficiency", "", "", sg.Efficient, sg.MaxEfficient)
	fmt.Fprintf(w, "  %-22s %-11s %12s %4d/%-3d  (%.1fs)\n", "total", "", "", sg.Points, sg.MaxPoints, sg.Elapsed.Seconds())
	for _, g := range sg.Tests {
		for i, f := range g.Failures {
			if i == 0 {
				fmt.Fprintf(w, "\n%s", f.Report())
				if len(g.Failures) > 1 {
					if more := len(g.Failures) - 1; more == 1 {
						fmt.Fprintf(w, "  (1 more seed failed)\n")
					} else {
						fmt.Fprintf(w, "  (%d more seeds failed)\n", more)
					}
				}
			}
		}
	}
	if len(sg.State.Remaining) > 0 && sg.State.Started {
		fmt.Fprintf(w, "\n%s", sg.State.RemainingMessage(impl.Dir))
	}
}
