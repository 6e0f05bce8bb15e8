package solutions

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Correct variants are the other side of the mutants: each is the reference
// changed into a different, legitimate reading of Figure 2 — a choice the
// paper leaves open, or an optimisation it calls optional left out. Every one
// is Raft, so every one must get full correctness marks on every graded test
// at every seed; efficiency budgets are measured and reported, not required
// (leaving out an optimisation costs efficiency points, as it should).
//
// They are built like the mutants (source patches, a build overlay) and
// graded at 5 seeds per test on every test run. At 1,000 seeds per test
// (RAFTLAB_SEEDS_FACTOR=20) they take too long for CI on 2 cores; run that by
// hand, or narrow it with $RAFTLAB_VARIANTS and $RAFTLAB_TESTS (see
// TestCorrectVariantsPass).

type variant struct {
	name string
	// why says which words of the paper allow it.
	why     string
	patches []patch
}

// wasteful variants are correct Raft that sends what it need not; each proves
// that an efficiency budget can fail. Each gets full correctness marks like
// any correct variant, and must go over the budget of the efficiency test
// exceeds at most seeds.
var wasteful = []struct {
	variant
	exceeds string
}{
	{variant{"WASTEFUL: a leader sends InstallSnapshot to every follower with every heartbeat",
		"a follower ignores a snapshot it already holds (Figure 13), so this is correct, and wasteful",
		[]patch{{"election.go",
			"\tr.heartbeatElapsed = 0\n\tfor i := range r.peers {\n\t\tr.sendAppendEntries(i)\n\t}",
			"\tr.heartbeatElapsed = 0\n\tfor i := range r.peers {\n\t\tr.sendAppendEntries(i)\n\t\tif r.snapshotIndex > 0 {\n\t\t\tnext := r.nextIndex[i]\n\t\t\tr.sendInstallSnapshot(i)\n\t\t\tr.nextIndex[i] = max(next, r.nextIndex[i])\n\t\t}\n\t}"}}},
		"4/InstallCount"},
}

var variants = []variant{
	{"nextIndex moves past a snapshot only when its reply comes (until then, InstallSnapshot again with each heartbeat)",
		"Figure 13 does not say when the leader counts a snapshot as received; Figure 2 moves nextIndex on a successful reply",
		[]patch{{"snapshot.go", "\t// As with AppendEntries, count the snapshot as sent; a refusal or a\n\t// lost reply brings nextIndex back.\n\tr.nextIndex[i] = r.snapshotIndex + 1\n}", "}"}}},
	{"nextIndex is advanced only by a successful reply",
		"Figure 2: \"If successful: update nextIndex and matchIndex for follower\"; nothing says to advance it on sending",
		[]patch{{"replication.go", "\tr.nextIndex[i] = last + 1\n}", "}"},
			{"replication.go", "r.nextIndex[i] = max(r.nextIndex[i], r.matchIndex[i]+1)", "r.nextIndex[i] = r.matchIndex[i] + 1"}}},
	{"heartbeats resend the entries in flight",
		"Figure 2: a leader sends AppendEntries with log entries starting at nextIndex whenever last log index ≥ nextIndex",
		[]patch{{"replication.go", "\tr.nextIndex[i] = last + 1\n}", "}"}}},
	{"the paper's own backup: skip to the first index of the conflicting term",
		"section 5.3: the follower includes the term of the conflicting entry and the first index it stores for that term",
		[]patch{{"replication.go", "\tif m.ConflictTerm != 0 {\n\t\tfor index", "\tif false {\n\t\tfor index"}}},
	{"no backup hints: nextIndex (advanced on success) decremented by one per refusal",
		"Figure 2: \"If AppendEntries fails because of log inconsistency: decrement nextIndex and retry\"",
		[]patch{{"replication.go", "\tr.nextIndex[i] = last + 1\n}", "}"},
			{"replication.go", "r.nextIndex[i] = max(r.nextIndex[i], r.matchIndex[i]+1)", "r.nextIndex[i] = r.matchIndex[i] + 1"},
			{"replication.go", "r.nextIndex[i] = max(r.backedUpNextIndex(m), r.matchIndex[i]+1)", "r.nextIndex[i] = max(r.nextIndex[i]-1, r.matchIndex[i]+1)\n\t_ = r.backedUpNextIndex"}}},
	{"a follower backs up one entry per refusal",
		"section 5.3 calls the faster backup an optimisation, and doubts it is needed in practice",
		[]patch{{"replication.go", "reply.ConflictIndex = r.lastLogIndex() + 1", "reply.ConflictIndex = m.PrevLogIndex"},
			{"replication.go", "reply.ConflictTerm = t\n\t\treply.ConflictIndex = r.firstIndexOfTerm(m.PrevLogIndex)", "reply.ConflictIndex = m.PrevLogIndex"}}},
	{"the election timer fires when electionElapsed > electionTimeout",
		"section 5.2: election timeouts are chosen randomly from a fixed interval; which tick counts as the end is not fixed",
		[]patch{{"election.go", "if r.electionElapsed >= r.electionTimeout {", "if r.electionElapsed > r.electionTimeout {"}}},
	{"election timeouts drawn from [n, 2n], both ends included",
		"section 5.2: \"randomly from a fixed interval (e.g., 150–300ms)\"",
		[]patch{{"election.go", "r.electionTimeout = n + r.env.Rand().IntN(n)", "r.electionTimeout = n + r.env.Rand().IntN(n+1)"}}},
	{"proposals wait for the next heartbeat",
		"Figure 2: the leader appends the entry to its log; when it sends it is not fixed",
		[]patch{{"replication.go", "\tfor i := range r.peers {\n\t\tr.sendAppendEntries(i)\n\t}\n\treturn e.Index, e.Term, true", "\treturn e.Index, e.Term, true"}}},
	{"AppendEntries to every follower whenever commitIndex advances",
		"Figure 2: followers learn leaderCommit from any AppendEntries; sending one at once is allowed",
		[]patch{{"replication.go", "\t\t\tr.commitIndex = n\n\t\t\tr.applyCommitted()\n", "\t\t\tr.commitIndex = n\n\t\t\tr.applyCommitted()\n\t\t\tfor i := range r.peers {\n\t\t\t\tr.sendAppendEntries(i)\n\t\t\t}\n"}}},
	{"the election timer is reset on adopting a higher term",
		"Figure 2 does not say whether seeing a higher term restarts the timer",
		[]patch{{"election.go", "\t\tr.becomeFollower(m.Term, raft.None)\n\t}\n}", "\t\tr.becomeFollower(m.Term, raft.None)\n\t\tr.resetElectionTimer()\n\t}\n}"}}},
	{"one entry per AppendEntries",
		"Figure 2: entries[] holds log entries to store, \"may send more than one for efficiency\"",
		[]patch{{"replication.go", "last := min(r.lastLogIndex(), prev+uint64(r.cfg.MaxAppendEntries))", "last := min(r.lastLogIndex(), prev+1)"}}},
	{"a heartbeat on every tick",
		"Figure 2: a leader repeats AppendEntries during idle periods; how often is a matter of cost",
		[]patch{{"election.go", "if r.heartbeatElapsed >= r.cfg.HeartbeatTicks() {", "if true {"}}},
	{"the election timer keeps running while leading",
		"Figure 2: the timer is restarted by AppendEntries from the current leader or a vote granted; a deposed leader has had neither",
		[]patch{{"election.go", "\tr.heartbeatElapsed++\n", "\tr.heartbeatElapsed++\n\tr.electionElapsed++\n"}}},
	{"plain Figure 2: nextIndex on success, decrement by one, entries with the heartbeat, timer on >",
		"every rule of Figure 2 and no more",
		[]patch{{"replication.go", "\tr.nextIndex[i] = last + 1\n}", "}"},
			{"replication.go", "r.nextIndex[i] = max(r.nextIndex[i], r.matchIndex[i]+1)", "r.nextIndex[i] = r.matchIndex[i] + 1"},
			{"replication.go", "r.nextIndex[i] = max(r.backedUpNextIndex(m), r.matchIndex[i]+1)", "r.nextIndex[i] = max(r.nextIndex[i]-1, r.matchIndex[i]+1)\n\t_ = r.backedUpNextIndex"},
			{"replication.go", "\tfor i := range r.peers {\n\t\tr.sendAppendEntries(i)\n\t}\n\treturn e.Index, e.Term, true", "\treturn e.Index, e.Term, true"},
			{"election.go", "if r.electionElapsed >= r.electionTimeout {", "if r.electionElapsed > r.electionTimeout {"}}},
}

// variantResult is what the variants' program prints for one variant.
type variantResult struct {
	Name    string           `json:"name"`
	Seconds float64          `json:"seconds"`
	Tests   []testResultLine `json:"tests"`
}

// testResultLine is one test's result for one variant.
type testResultLine struct {
	Test string `json:"test"` // stage/Name
	Kind string `json:"kind"` // of the test: correctness or efficiency
	// Correctness and Efficiency count the seeds that failed for each
	// kind of reason (a correctness failure can happen in an efficiency
	// test: a broken rule is a broken rule wherever it is found).
	Correctness int    `json:"correctness"`
	Efficiency  int    `json:"efficiency"`
	Seeds       int    `json:"seeds"`
	Report      string `json:"report,omitempty"` // the first failure's report
}

// buildAndRun builds every patched copy of the reference as its own package
// in a build overlay, with a main program made from mainSrc (given the
// imports and the list of implementations, "{lab.Implementation{...}},"
// lines), runs it from the module root and returns its standard output.
func buildAndRun(t *testing.T, prefix string, names []string, patchesOf func(i int) []patch, mainSrc string) []byte {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	root := moduleRoot(t)
	tmp := t.TempDir()
	sources, err := filepath.Glob("*.go")
	require.NoError(t, err)
	sources = slices.DeleteFunc(sources, func(n string) bool { return strings.HasSuffix(n, "_test.go") })
	replace := map[string]string{}
	dir := "zz_" + prefix
	overlayDir := filepath.Join(root, "solutions", dir)
	var imports, impls strings.Builder
	for i, name := range names {
		pkg := fmt.Sprintf("%s%02d", prefix[:1], i)
		files := map[string]string{}
		for _, n := range sources {
			b, err := os.ReadFile(n)
			require.NoError(t, err)
			files[n] = strings.Replace(string(b), "package solutions", "package "+pkg, 1)
		}
		for _, p := range patchesOf(i) {
			src, ok := files[p.file]
			require.True(t, ok, "%q patches %s, which does not exist", name, p.file)
			require.Equal(t, 1, strings.Count(src, p.old), "%q: its patch of %s no longer applies: %q must occur exactly once", name, p.file, p.old)
			files[p.file] = strings.Replace(src, p.old, p.new, 1)
		}
		for n, src := range files {
			path := filepath.Join(tmp, pkg, n)
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
			replace[filepath.Join(overlayDir, pkg, n)] = path
		}
		fmt.Fprintf(&imports, "\t%s \"github.com/raftlab/raftlab/solutions/%s/%s\"\n", pkg, dir, pkg)
		fmt.Fprintf(&impls, "\t\tlab.Implementation{Name: %q, New: %s.New},\n", pkg, pkg)
	}
	mainPath := filepath.Join(tmp, "main.go")
	require.NoError(t, os.WriteFile(mainPath, []byte(fmt.Sprintf(mainSrc, imports.String(), impls.String())), 0o644))
	replace[filepath.Join(overlayDir, "main", "main.go")] = mainPath
	ov, err := json.Marshal(map[string]any{"Replace": replace})
	require.NoError(t, err)
	ovPath := filepath.Join(tmp, "overlay.json")
	require.NoError(t, os.WriteFile(ovPath, ov, 0o644))

	cmd := exec.Command(goTool, "run", "-overlay", ovPath, "./solutions/"+dir+"/main")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "building or running the %s failed:\n%s", prefix, stderr.String())
	return stdout.Bytes()
}

func TestCorrectVariantsPass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and grades every correct variant; skipped with -short")
	}
	// $RAFTLAB_VARIANTS, if set, keeps only the variants whose name contains
	// it (and $RAFTLAB_TESTS, read by the program, only the tests it lists):
	// for a long run of one variant on one test, e.g.
	//   RAFTLAB_VARIANTS='one entry per refusal' RAFTLAB_TESTS=4/CompactionChurn RAFTLAB_SEEDS_FACTOR=20 go test -run CorrectVariants ./solutions/
	chosen := slices.Clone(variants)
	exceeds := map[string]string{}
	for _, w := range wasteful {
		chosen = append(chosen, w.variant)
		exceeds[w.name] = w.exceeds
	}
	if only := os.Getenv("RAFTLAB_VARIANTS"); only != "" {
		chosen = slices.DeleteFunc(chosen, func(v variant) bool { return !strings.Contains(v.name, only) })
		require.NotEmpty(t, chosen, "no correct variant's name contains $RAFTLAB_VARIANTS=%q", only)
	}
	names := make([]string, len(chosen))
	for i, v := range chosen {
		names[i] = v.name
	}
	out := buildAndRun(t, "variants", names, func(i int) []patch { return chosen[i].patches }, variantMain)
	results := map[string]variantResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r variantResult
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "bad line from the variants: %s", sc.Text())
		results[r.Name] = r
	}
	require.NoError(t, sc.Err())
	t.Logf("| correct variant | why it is Raft | correctness | efficiency budgets exceeded (failing seeds) |")
	t.Logf("|---|---|---|---|")
	var wastes []string
	for i, v := range chosen {
		r, ok := results[fmt.Sprintf("v%02d", i)]
		require.True(t, ok, "no result for variant %q", v.name)
		if test := exceeds[v.name]; test != "" {
			i := slices.IndexFunc(r.Tests, func(tr testResultLine) bool { return tr.Test == test })
			if i < 0 {
				wastes = append(wastes, fmt.Sprintf("wasteful variant %q: %s was not run ($RAFTLAB_TESTS)", v.name, test))
			} else if tr := r.Tests[i]; tr.Efficiency*2 <= tr.Seeds {
				t.Errorf("wasteful variant %q went over the budget of %s at only %d of %d seeds: the budget cannot tell it from a frugal leader",
					v.name, test, tr.Efficiency, tr.Seeds)
			} else {
				wastes = append(wastes, fmt.Sprintf("wasteful variant %q goes over the budget of %s at %d of %d seeds; the first:\n%s", v.name, test, tr.Efficiency, tr.Seeds, tr.Report))
			}
		}
		seeds, passed, tests := 0, 0, 0
		var over []string
		for _, tr := range r.Tests {
			tests++
			seeds = max(seeds, tr.Seeds)
			if tr.Correctness > 0 {
				t.Errorf("correct variant %q (%s) failed %s for correctness at %d of %d seeds; the first:\n%s",
					v.name, v.why, tr.Test, tr.Correctness, tr.Seeds, tr.Report)
			} else {
				passed++
			}
			if tr.Efficiency > 0 {
				over = append(over, fmt.Sprintf("%s (%d)", tr.Test, tr.Efficiency))
			}
		}
		eff := "none"
		if len(over) > 0 {
			eff = strings.Join(over, ", ")
		}
		if exceeds[v.name] == "" {
			t.Logf("| %s | %s | %d/%d tests at %d seeds | %s |", v.name, v.why, passed, tests, seeds, eff)
		}
	}
	for _, w := range wastes {
		t.Log(w)
	}
}

// variantMain grades every variant on every test of every stage, at
// variantSeeds seeds each (every seed, to count them), and prints one JSON
// line per variant.
const variantMain = `package main

import (
	"encoding/json"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/lab/grade"
%s)

type testResult struct {
	Test        string ` + "`json:\"test\"`" + `
	Kind        string ` + "`json:\"kind\"`" + `
	Correctness int    ` + "`json:\"correctness\"`" + `
	Efficiency  int    ` + "`json:\"efficiency\"`" + `
	Seeds       int    ` + "`json:\"seeds\"`" + `
	Report      string ` + "`json:\"report,omitempty\"`" + `
}

// seeds is how many seeds each test runs at: 5, or with
// $RAFTLAB_SEEDS_FACTOR set, every seed the test would run at (1,000 for
// most tests at a factor of 20, 100 at a factor of 2).
func seeds(t *grade.Test) int {
	if f, err := strconv.Atoi(os.Getenv("RAFTLAB_SEEDS_FACTOR")); err == nil && f > 1 {
		return t.SeedsToRun()
	}
	return 5
}

func main() {
	impls := []lab.Implementation{
%s	}
	type job struct{ v, t int }
	var tests []*grade.Test
	only := strings.Split(os.Getenv("RAFTLAB_TESTS"), ",")
	for _, st := range grade.Stages {
		for _, t := range grade.Tests(st.Number) {
			if only[0] == "" || slices.Contains(only, t.ID()) {
				tests = append(tests, t)
			}
		}
	}
	if len(tests) == 0 {
		panic("no graded test is named in $RAFTLAB_TESTS=" + os.Getenv("RAFTLAB_TESTS"))
	}
	results := make([][]testResult, len(impls))
	elapsed := make([]time.Duration, len(impls))
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				start := time.Now()
				t := tests[j.t]
				r := testResult{Test: t.ID(), Kind: t.Kind.String(), Seeds: seeds(t)}
				for k := range r.Seeds {
					res := grade.RunTest(impls[j.v], t, t.Seed(k), "")
					if f := res.Failure; f != nil {
						if f.Kind == grade.Efficiency {
							r.Efficiency++
						} else {
							r.Correctness++
						}
						if r.Report == "" || (f.Kind != grade.Efficiency && r.Correctness == 1) {
							r.Report = f.Report()
						}
					}
				}
				mu.Lock()
				results[j.v][j.t] = r
				elapsed[j.v] += time.Since(start)
				mu.Unlock()
			}
		}()
	}
	for v := range impls {
		results[v] = make([]testResult, len(tests))
		for t := range tests {
			jobs <- job{v, t}
		}
	}
	close(jobs)
	wg.Wait()
	for v, impl := range impls {
		line, _ := json.Marshal(map[string]any{"name": impl.Name, "tests": results[v], "seconds": elapsed[v].Seconds()})
		os.Stdout.Write(append(line, '\n'))
	}
}
`

// plantedBugs are broken variants whose failure reports are checked word by
// word: the report names the rule the bug breaks, the server that broke it,
// and shows the event that broke it — never a stack trace or "harness".
var plantedBugs = []struct {
	name    string
	test    string   // the graded test that catches it
	rules   []string // the rule (or check) the report may name
	patches []patch
}{
	{"prevLogIndex beyond the end of the log counts as a match", "2/FailAgree", []string{"No Panic", "Commit Within Log", "Log Matching", "State Machine Safety"},
		[]patch{{"replication.go", "if m.PrevLogIndex > r.lastLogIndex() {", "if false {"},
			{"replication.go", "if t := r.termAt(m.PrevLogIndex); t != m.PrevLogTerm {", "if t := r.termAt(m.PrevLogIndex); m.PrevLogIndex <= r.lastLogIndex() && t != m.PrevLogTerm {"}}},
	{"votedFor is not persisted", "3/VoteSurvivesCrash", []string{"One Vote Per Term"},
		[]patch{{"persistence.go", "VotedFor: r.votedFor})", "VotedFor: raft.None})"}}},
	{"a leader commits an old-term entry by counting replicas", "2/OldTermEntries", []string{"Leader Completeness", "State Machine Safety"},
		[]patch{{"replication.go", "for n := r.lastLogIndex(); n > r.commitIndex && r.termAt(n) == r.currentTerm; n-- {", "for n := r.lastLogIndex(); n > r.commitIndex; n-- {"}}},
	{"a follower does not reset its timer when it grants a vote", "1/VoteResetsTimer", []string{"stable term"},
		[]patch{{"election.go", "r.persistHardState() // before the reply leaves: a vote must survive a crash\n\t\tr.resetElectionTimer()", "r.persistHardState() // before the reply leaves: a vote must survive a crash"}}},
}

func TestReportsNameRuleAndServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds planted bugs; skipped with -short")
	}
	names := make([]string, len(plantedBugs))
	var tests []string
	for i, b := range plantedBugs {
		names[i] = b.name
		tests = append(tests, fmt.Sprintf("%q", b.test))
	}
	main := strings.Replace(reportMain, "TESTS", strings.Join(tests, ", "), 1)
	out := buildAndRun(t, "planted", names, func(i int) []patch { return plantedBugs[i].patches }, main)
	var got []struct {
		Rule, Node, Report string
		Cause              uint64
	}
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var r struct {
			Rule, Node, Report string
			Cause              uint64
		}
		require.NoError(t, json.Unmarshal(line, &r), "bad line: %s", line)
		got = append(got, r)
	}
	require.Len(t, got, len(plantedBugs))
	for i, b := range plantedBugs {
		r := got[i]
		require.NotEmpty(t, r.Report, "%q: %s caught nothing in 20 seeds", b.name, b.test)
		require.Contains(t, b.rules, r.Rule, "%q: the report names the wrong rule:\n%s", b.name, r.Report)
		require.NotContains(t, r.Report, "harness", b.name)
		require.NotContains(t, r.Report, "goroutine ", b.name)
		require.Contains(t, r.Report, "Run it again:", b.name)
		if r.Cause != 0 {
			require.Contains(t, r.Report, "Safety rule broken: "+r.Rule, b.name)
			require.Contains(t, r.Report, "What happened: "+r.Node, "%q: the report should name %s, the server that broke the rule:\n%s", b.name, r.Node, r.Report)
			require.Contains(t, r.Report, fmt.Sprintf("      #%d ", r.Cause), "%q: the window must show the event that broke the rule:\n%s", b.name, r.Report)
		} else {
			require.Contains(t, r.Report, "Check failed: "+r.Rule, b.name)
			require.Regexp(t, `n\d was asked for its vote by n\d in term \d+ .*then n\d started an election for term \d+`, r.Report, b.name)
		}
		if b.test == "3/VoteSurvivesCrash" {
			require.Regexp(t, `#\d+ \S+ `+r.Node+` crash\n`, r.Report, "the crash that set it up must be shown")
		}
		t.Logf("%s: %s names %q\n%s", b.name, b.test, r.Rule, r.Report)
	}
}

// reportMain runs each planted bug's test at up to 20 seeds and prints the
// first failure, with a trace so that its event window is filled in.
const reportMain = `package main

import (
	"encoding/json"
	"os"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/lab/grade"
%s)

func main() {
	impls := []lab.Implementation{
%s	}
	tests := []string{TESTS}
	dir, _ := os.MkdirTemp("", "raftlab-planted")
	defer os.RemoveAll(dir)
	for i, impl := range impls {
		t, err := grade.FindTest(tests[i])
		if err != nil {
			panic(err)
		}
		out := map[string]any{}
		for k := range 20 {
			if r := grade.RunTest(impl, t, t.Seed(k), dir); r.Failure != nil {
				out["Rule"], out["Report"] = r.Failure.Rule, r.Failure.Report()
				if v := r.Failure.Violation; v != nil {
					out["Node"], out["Cause"] = v.Node.String(), v.Cause
				}
				break
			}
		}
		line, _ := json.Marshal(out)
		os.Stdout.Write(append(line, '\n'))
	}
}
`
