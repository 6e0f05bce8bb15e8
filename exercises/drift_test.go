package exercises

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlab/raftlab/lab/grade"
)

// These tests keep the exercise and the reference from drifting apart: the
// same files, the same declarations and signatures, every function that is
// not a stub identical — and the exercise, with the reference's bodies put in
// place of its stubs, passes the graded suite, stage by stage.

const refDir = "../solutions"

// pristine reports whether every shipped stub is still in place. Once a
// student starts, the exercise differs from the reference on purpose and the
// comparison is skipped — except in the project's CI, which sets RAFTLAB_CI.
func pristine(t *testing.T) {
	t.Helper()
	stubs, err := grade.FindStubs(Source)
	require.NoError(t, err)
	for stage, names := range Shipped {
		for _, name := range names {
			if !slices.ContainsFunc(stubs, func(s grade.Stub) bool { return s.Stage == stage && s.Func == name }) {
				if os.Getenv("RAFTLAB_CI") != "" {
					t.Fatalf("%s (stage %d) is not a stub any more: the shipped exercise must keep every stub", name, stage)
				}
				t.Skipf("the exercise has been worked on (%s is written), so it is no longer compared with the reference", name)
			}
		}
	}
}

// goFiles lists the package's non-test Go files in dir.
func goFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	var out []string
	for _, n := range names {
		if !strings.HasSuffix(n, "_test.go") {
			out = append(out, filepath.Base(n))
		}
	}
	return out
}

// decls maps each top-level declaration of a file to its printed form
// without comments; functions are keyed by receiver and name.
type parsedFile struct {
	fset  *token.FileSet
	src   []byte
	file  *ast.File
	funcs map[string]*ast.FuncDecl
}

func parseGo(t *testing.T, path string, comments bool) *parsedFile {
	t.Helper()
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	mode := parser.SkipObjectResolution
	if comments {
		mode |= parser.ParseComments
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, mode)
	require.NoError(t, err)
	p := &parsedFile{fset: fset, src: src, file: f, funcs: map[string]*ast.FuncDecl{}}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok {
			p.funcs[funcKey(fn)] = fn
		}
	}
	return p
}

func funcKey(fn *ast.FuncDecl) string {
	if fn.Recv != nil && len(fn.Recv.List) > 0 {
		return "(Raft)." + fn.Name.Name
	}
	return fn.Name.Name
}

// stubStages maps each function of file name that still calls r.todo to
// its stage, as the graded suite finds them.
func stubStages(t *testing.T, name string) map[string]int {
	t.Helper()
	stubs, err := grade.FindStubs(Source)
	require.NoError(t, err)
	stages := map[string]int{}
	for _, st := range stubs {
		if st.File == name {
			stages[st.Func] = st.Stage
		}
	}
	return stages
}

func printNode(t *testing.T, fset *token.FileSet, n any) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, printer.Fprint(&b, fset, n))
	return b.String()
}

// splice returns the exercise file with the body of every stub of a stage in
// stages replaced by the reference's body of the same function.
func splice(t *testing.T, name string, stages func(int) bool) []byte {
	t.Helper()
	ex := parseGo(t, name, true)
	ref := parseGo(t, filepath.Join(refDir, name), true)
	type cut struct {
		from, to int
		body     []byte
	}
	var cuts []cut
	stubAt := stubStages(t, name)
	for key, fn := range ex.funcs {
		stage := stubAt[fn.Name.Name]
		if stage == 0 || !stages(stage) {
			continue
		}
		rf, ok := ref.funcs[key]
		require.True(t, ok, "%s: the reference has no %s", name, key)
		cuts = append(cuts, cut{
			from: ex.fset.Position(fn.Body.Lbrace).Offset,
			to:   ex.fset.Position(fn.Body.Rbrace).Offset + 1,
			body: ref.src[ref.fset.Position(rf.Body.Lbrace).Offset : ref.fset.Position(rf.Body.Rbrace).Offset+1],
		})
	}
	slices.SortFunc(cuts, func(a, b cut) int { return b.from - a.from })
	out := slices.Clone(ex.src)
	for _, c := range cuts {
		out = slices.Concat(out[:c.from], c.body, out[c.to:])
	}
	return out
}

// withoutComments prints Go source with comments dropped and the package
// renamed, for comparison.
func withoutComments(t *testing.T, src []byte) string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.SkipObjectResolution)
	require.NoError(t, err)
	f.Name.Name = "p"
	return printNode(t, fset, f)
}

func TestExerciseMatchesReference(t *testing.T) {
	pristine(t)
	ref := goFiles(t, refDir)
	ex := slices.DeleteFunc(goFiles(t, "."), func(n string) bool { return n == "todo.go" })
	require.Equal(t, ref, ex, "the exercise and the reference must have the same files (the exercise adds todo.go)")

	found := map[int][]string{}
	for _, name := range ex {
		exf := parseGo(t, name, false)
		reff := parseGo(t, filepath.Join(refDir, name), false)
		stages := stubStages(t, name)
		require.ElementsMatch(t, keys(reff.funcs), keys(exf.funcs), "%s: the same functions and methods", name)
		for key, fn := range exf.funcs {
			rfn := reff.funcs[key]
			sig := func(p *parsedFile, f *ast.FuncDecl) string {
				return printNode(t, p.fset, &ast.FuncDecl{Recv: f.Recv, Name: f.Name, Type: f.Type})
			}
			require.Equal(t, sig(reff, rfn), sig(exf, fn), "%s: %s has another signature in the exercise", name, key)
			if stage := stages[fn.Name.Name]; stage > 0 {
				found[stage] = append(found[stage], fn.Name.Name)
				continue
			}
			require.Equal(t, printNode(t, reff.fset, rfn), printNode(t, exf.fset, fn), "%s: %s is not a stub, so it must be the reference's", name, key)
		}
		// With every stub replaced by the reference's body, the file is the
		// reference's, comments aside.
		require.Equal(t, withoutComments(t, reff.src), withoutComments(t, splice(t, name, func(int) bool { return true })),
			"%s with the reference's bodies spliced in differs from the reference", name)
	}
	for stage := range found {
		require.ElementsMatch(t, Shipped[stage], found[stage], "Shipped[%d] must list exactly the stage's stubs", stage)
	}
	require.Len(t, found, len(Shipped))
}

func keys[M ~map[string]V, V any](m M) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestReferenceBodiesPass compiles the exercise with the reference's bodies
// put into the stubs of stages 1..k, for every stage k (1 to 4: election,
// replication, persistence, log compaction), and runs its graded tests:
// stages up to k must pass, the later ones must be skipped as not started.
// This is how a student who has finished stage k stands.
func TestReferenceBodiesPass(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs the exercise once per stage; skipped with -short")
	}
	pristine(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	here, err := os.Getwd()
	require.NoError(t, err)
	for k := 1; k <= len(Shipped); k++ {
		t.Run(fmt.Sprintf("through stage %d", k), func(t *testing.T) {
			dir := t.TempDir()
			replace := map[string]string{}
			for _, name := range goFiles(t, ".") {
				if name == "todo.go" {
					continue
				}
				out := filepath.Join(dir, name)
				require.NoError(t, os.WriteFile(out, splice(t, name, func(s int) bool { return s <= k }), 0o644))
				replace[filepath.Join(here, name)] = out
			}
			ov, err := json.Marshal(map[string]any{"Replace": replace})
			require.NoError(t, err)
			ovPath := filepath.Join(dir, "overlay.json")
			require.NoError(t, os.WriteFile(ovPath, ov, 0o644))

			cmd := exec.Command(goTool, "test", "-count=1", "-overlay", ovPath, "-run", "^TestStage[0-9]$", "-v", ".")
			cmd.Env = append(os.Environ(), "RAFTLAB_TRACES="+filepath.Join(dir, "traces"))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "the exercise with the reference's stage 1..%d bodies failed:\n%s", k, out)
			for s := 1; s <= len(Shipped); s++ {
				want := "--- PASS: TestStage" + fmt.Sprint(s)
				if s > k {
					want = "--- SKIP: TestStage" + fmt.Sprint(s)
				}
				require.Contains(t, string(out), want, "through stage %d:\n%s", k, out)
			}
		})
	}
}

// toldBefore reports whether the exercise already tells a student to call
// callee from caller, a stub of an earlier stage: in caller's stub (its doc
// comment or its TODO), or in caller's stage's handout.
func toldBefore(t *testing.T, caller, callee string) bool {
	t.Helper()
	for _, name := range goFiles(t, ".") {
		f := parseGo(t, name, true)
		for _, fn := range f.funcs {
			if fn.Name.Name != caller {
				continue
			}
			from := fn.Pos()
			if fn.Doc != nil {
				from = fn.Doc.Pos()
			}
			if strings.Contains(string(f.src[f.fset.Position(from).Offset:f.fset.Position(fn.End()).Offset]), callee) {
				return true
			}
		}
	}
	for stage, names := range Shipped {
		if slices.Contains(names, caller) {
			b, err := os.ReadFile(fmt.Sprintf("STAGE%d.md", stage))
			return err == nil && strings.Contains(string(b), callee)
		}
	}
	return false
}

// TestHandoutsMatchTheStubs keeps each stage's handout in step with the
// exercise and the suite: it names every function the stage's stubs ask for,
// every function of an earlier stage that the reference changes to call them
// (a student wrote those already, and must go back to them), and lists every
// graded test of the stage; and no stub comment gives the commit rule without
// saying it never lowers commitIndex.
func TestHandoutsMatchTheStubs(t *testing.T) {
	stageOf := map[string]int{}
	for stage, names := range Shipped {
		for _, name := range names {
			stageOf[name] = stage
		}
	}
	// callers[f] lists the stubs of earlier stages whose reference bodies call f.
	callers := map[string][]string{}
	for _, name := range goFiles(t, refDir) {
		for _, fn := range parseGo(t, filepath.Join(refDir, name), false).funcs {
			caller := fn.Name.Name
			ast.Inspect(fn, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
						callee := sel.Sel.Name
						if s, c := stageOf[callee], stageOf[caller]; c > 0 && c < s && !slices.Contains(callers[callee], caller) {
							callers[callee] = append(callers[callee], caller)
						}
					}
				}
				return true
			})
		}
	}
	for stage, names := range Shipped {
		path := fmt.Sprintf("STAGE%d.md", stage)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			t.Logf("stage %d has no handout yet (%s): not checked", stage, path)
			continue
		}
		require.NoError(t, err)
		handout := string(b)
		for _, name := range names {
			require.Contains(t, handout, "`"+name, "%s must name %s, a function the stage's stubs ask for", path, name)
			for _, caller := range callers[name] {
				if !strings.Contains(handout, "`"+caller+"`") && !strings.Contains(handout, "`"+caller+"(") && !toldBefore(t, caller, name) {
					t.Errorf("%s must name %s (stage %d): the reference calls %s from it, and a student who wrote it before this stage must add the call", path, caller, stageOf[caller], name)
				}
			}
		}
		for _, test := range grade.Tests(stage) {
			require.Contains(t, handout, "| "+test.Name+" |", "%s must list the graded test %s in its table of tests", path, test.ID())
		}
		require.Equal(t, strings.Count(handout, "<details>"), strings.Count(handout, "</details>"), "%s: every folded hint must be closed", path)
	}
	src, err := os.ReadFile("replication.go")
	require.NoError(t, err)
	require.Contains(t, string(src), "never lower it", "the stub of appendEntries must say that commitIndex is raised, never lowered (Figure 2, receiver rule 5)")
}
