package solutions

import (
	"testing"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/lab/grade/gradetest"
)

var impl = lab.Implementation{Name: "solutions", New: New, Dir: "solutions"}

func TestStage1(t *testing.T) { gradetest.RunStage(t, impl, 1) }
func TestStage2(t *testing.T) { gradetest.RunStage(t, impl, 2) }
func TestStage3(t *testing.T) { gradetest.RunStage(t, impl, 3) }
func TestStage4(t *testing.T) { gradetest.RunStage(t, impl, 4) }
