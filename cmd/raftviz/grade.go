package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/lab/grade"
)

func gradeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	numbers, named := stageLists()
	fs := newFlags("grade", "grade [-impl NAME] [-stage "+numbers+"|all] [-seeds N] [-test STAGE/NAME [-seed N]]", stderr)
	implOf := implFlag(fs, "exercises", "implementation to grade")
	stageFlag := fs.String("stage", "all", "stage to grade: "+named+" or all")
	seeds := fs.Int("seeds", 0, "seeds per test (0: each test's own count)")
	testName := fs.String("test", "", "run one test, e.g. 1/ReElection, and show every failure")
	seed := fs.Uint64("seed", 0, "with -test: run only this seed (from a failure report)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	impl, err := implOf()
	if err != nil {
		return err
	}
	if *seeds < 0 {
		return usagef("-seeds %d: give a number of seeds, or 0 for each test's own", *seeds)
	}
	if *testName != "" {
		return gradeOne(ctx, impl, *testName, *seed, *seeds, stdout)
	}
	if *seed != 0 {
		return usagef("-seed goes with -test")
	}
	var stages []int
	if *stageFlag == "all" {
		for _, s := range grade.Stages {
			stages = append(stages, s.Number)
		}
	} else {
		n, err := strconv.Atoi(*stageFlag)
		if err != nil || grade.Tests(n) == nil {
			return usagef("-stage %q: the stages are %s, or all", *stageFlag, named)
		}
		stages = []int{n}
	}

	points, maxPoints, failed := 0, 0, false
	correct, maxCorrect, efficient, maxEfficient := 0, 0, 0, 0
	for i, n := range stages {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		g, err := untilDone(ctx, fmt.Sprintf("while grading stage %d", n), func() (grade.StageGrade, error) {
			return grade.GradeStage(impl, n, *seeds, grade.TraceDir())
		})
		if err != nil {
			return err
		}
		g.WriteTable(stdout, impl)
		points += g.Points
		maxPoints += g.MaxPoints
		correct, maxCorrect = correct+g.Correct, maxCorrect+g.MaxCorrect
		efficient, maxEfficient = efficient+g.Efficient, maxEfficient+g.MaxEfficient
		for _, t := range g.Tests {
			failed = failed || len(t.Failures) > 0
		}
	}
	if len(stages) > 1 {
		fmt.Fprintf(stdout, "\nTotal for %s: %d/%d points — correctness %d/%d, efficiency %d/%d\n",
			impl.Name, points, maxPoints, correct, maxCorrect, efficient, maxEfficient)
	}
	if failed {
		return exitError{1}
	}
	return nil
}

// stageLists names the stages from grade.Stages, so that the help never
// falls behind the suites: "1|2|3|4" and "1 (election), 2 (replication), 3
// (persistence), 4 (compaction)".
func stageLists() (numbers, named string) {
	var nums, names []string
	for _, st := range grade.Stages {
		words := strings.Fields(st.Name)
		nums = append(nums, strconv.Itoa(st.Number))
		names = append(names, fmt.Sprintf("%d (%s)", st.Number, words[len(words)-1]))
	}
	return strings.Join(nums, "|"), strings.Join(names, ", ")
}

// gradeOne runs one test, at one seed or at all its seeds, and reports every failure.
func gradeOne(ctx context.Context, impl lab.Implementation, name string, seed uint64, seeds int, stdout io.Writer) error {
	t, err := grade.FindTest(name)
	if err != nil {
		return usageError{err.Error()}
	}
	var results []grade.Result
	if seed != 0 {
		r, err := untilDone(ctx, fmt.Sprintf("while running %s at seed %d", t.ID(), seed), func() (grade.Result, error) {
			return grade.RunTest(impl, t, seed, grade.TraceDir()), nil
		})
		if err != nil {
			return err
		}
		results = append(results, r)
	} else {
		n := seeds
		if n == 0 {
			n = t.SeedsToRun()
		}
		g, err := untilDone(ctx, fmt.Sprintf("while running %s at %d seeds", t.ID(), n), func() (grade.TestGrade, error) {
			return grade.RunSeeds(impl, t, n, false, grade.TraceDir()), nil
		})
		if err != nil {
			return err
		}
		for _, f := range g.Failures {
			results = append(results, grade.Result{Seed: f.Seed, Failure: f})
		}
		fmt.Fprintf(stdout, "%s (%s): %d of %d seeds passed\n", t.ID(), t.What, g.Passed, g.Seeds)
	}
	failed := false
	for _, r := range results {
		if r.Failure == nil {
			fmt.Fprintf(stdout, "%s passed at seed %d (%d events)\n", t.ID(), r.Seed, r.Events)
			continue
		}
		failed = true
		fmt.Fprintf(stdout, "\n%s", r.Failure.Report())
	}
	if failed {
		return exitError{1}
	}
	return nil
}
