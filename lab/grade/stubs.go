package grade

import (
	"fmt"
	"github.com/raftlab/raftlab/lab"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// Stub is a function of an exercise that still has its TODO stub: a call
// r.todo(stage) that a student deletes once the function is written.
type Stub struct {
	Stage int
	Func  string
	File  string
	Line  int
}

func (s Stub) String() string { return fmt.Sprintf("%s (%s:%d)", s.Func, s.File, s.Line) }

// FindStubs lists the todo(stage) calls left in the Go files of src, in file
// and line order.
func FindStubs(src fs.FS) ([]Stub, error) {
	files, err := fs.Glob(src, "*.go")
	if err != nil {
		return nil, err
	}
	var stubs []Stub
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := fs.ReadFile(src, name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, name, data, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("lab: reading the exercise's source: %w", err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if stage, ok := todoCall(n); ok {
					stubs = append(stubs, Stub{Stage: stage, Func: fn.Name.Name, File: name, Line: fset.Position(n.Pos()).Line})
				}
				return true
			})
		}
	}
	return stubs, nil
}

// todoCall recognises todo(N) and x.todo(N) with N an integer literal.
func todoCall(n ast.Node) (int, bool) {
	call, ok := n.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return 0, false
	}
	switch fun := call.Fun.(type) {
	case *ast.Ident:
		if fun.Name != "todo" {
			return 0, false
		}
	case *ast.SelectorExpr:
		if fun.Sel.Name != "todo" {
			return 0, false
		}
	default:
		return 0, false
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.INT {
		return 0, false
	}
	stage, err := strconv.Atoi(lit.Value)
	return stage, err == nil
}

// StageState says how far a student has got with a stage.
type StageState struct {
	Stage int
	// Started is false while every stub shipped for the stage is in place.
	Started bool
	// Remaining lists the stubs still in place, of this stage and earlier ones.
	Remaining []Stub
}

// CheckStage reports whether impl has started stage, and which stubs remain.
// An implementation without Source (the reference) has no stubs.
func CheckStage(impl lab.Implementation, stage int) (StageState, error) {
	st := StageState{Stage: stage, Started: true}
	if impl.Source == nil {
		return st, nil
	}
	stubs, err := FindStubs(impl.Source)
	if err != nil {
		return st, err
	}
	var left []string
	for _, s := range stubs {
		if s.Stage <= stage {
			st.Remaining = append(st.Remaining, s)
		}
		if s.Stage == stage {
			left = append(left, s.Func)
		}
	}
	if shipped := impl.Shipped[stage]; len(shipped) > 0 {
		st.Started = !containsAll(left, shipped)
	}
	return st, nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// NotStartedMessage tells a student where to begin a stage.
func NotStartedMessage(impl lab.Implementation, stage int) string {
	file := ""
	for _, s := range Stages {
		if s.Number == stage {
			file = s.File
		}
	}
	return fmt.Sprintf("stage %d (%s) is not started yet: its stubs are untouched. Begin in %s/%s, with the handout %s/STAGE%d.md; these tests run as soon as you delete your first r.todo(%d) call.",
		stage, StageName(stage), impl.Dir, file, impl.Dir, stage, stage)
}

// RemainingMessage lists the stubs still in place, for a failure report.
func (st StageState) RemainingMessage(dir string) string {
	if len(st.Remaining) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("  Still to write (their r.todo calls are in place):\n")
	for _, s := range st.Remaining {
		fmt.Fprintf(&b, "      stage %d: %s in %s/%s:%d\n", s.Stage, s.Func, dir, s.File, s.Line)
	}
	return b.String()
}
