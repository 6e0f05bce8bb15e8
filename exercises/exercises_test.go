package exercises

import (
	"testing"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/lab/grade/gradetest"
)

// The graded tests, one function per stage. Run them with
//
//	go test ./exercises/
//	go test -run Stage1 ./exercises/           (one stage)
//	go test -run Stage1/ReElection ./exercises/ (one test)
//
// or see a table of points with: go run ./cmd/raftviz grade
var impl = lab.Implementation{Name: "exercises", New: New, Dir: "exercises", Source: Source, Shipped: Shipped}

func TestStage1(t *testing.T) { gradetest.RunStage(t, impl, 1) }
func TestStage2(t *testing.T) { gradetest.RunStage(t, impl, 2) }
func TestStage3(t *testing.T) { gradetest.RunStage(t, impl, 3) }
func TestStage4(t *testing.T) { gradetest.RunStage(t, impl, 4) }
