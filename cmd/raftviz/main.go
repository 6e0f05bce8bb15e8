// Command raftviz runs the Raft lab: a live cluster in the browser (serve, the
// default), a headless simulated run (sim), the graded tests with points
// (grade), and the replay of a recorded run (replay).
//
//	go run ./cmd/raftviz                        open the visualizer on a 5-node cluster of the reference
//	go run ./cmd/raftviz -impl exercises        the same, running your own code
//	go run ./cmd/raftviz sim -seed 7 -for 60s   a headless run with a summary
//	go run ./cmd/raftviz grade                  your points, stage by stage
//	go run ./cmd/raftviz replay run.jsonl       watch a recorded run (a failed test's trace) in the browser
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/raftlab/raftlab/exercises"
	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/solutions"
)

// implementations are the Raft implementations raftviz can run, by name.
var implementations = map[string]lab.Implementation{
	"solutions": {Name: "solutions", New: solutions.New, Dir: "solutions"},
	"exercises": {Name: "exercises", New: exercises.New, Dir: "exercises", Source: exercises.Source, Shipped: exercises.Shipped},
}

func implNames() string {
	var names []string
	for n := range implementations {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " or ")
}

// lookupImpl finds an implementation by name.
func lookupImpl(name string) (lab.Implementation, error) {
	impl, ok := implementations[name]
	if !ok {
		return impl, fmt.Errorf("unknown implementation %q: use %s", name, implNames())
	}
	return impl, nil
}

// usageError is a mistake in the command line: it is reported in one line,
// with exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// interruptedError: the command was stopped (Ctrl-C, SIGTERM) and says
// where it was.
type interruptedError struct{ where string }

func (e interruptedError) Error() string { return "interrupted " + e.where }

// interrupted returns the interruptedError for ctx's end, saying where.
func interrupted(format string, args ...any) error {
	return interruptedError{fmt.Sprintf(format, args...)}
}

// exitError carries an exit status for a run that went as asked but found
// something wrong (a violation, a failed test).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

const usage = `raftviz — a Raft teaching lab

Usage:
  raftviz [serve] [flags]          open the visualizer in your browser (the default)
  raftviz sim [flags]              run a simulated cluster headless and summarise it
  raftviz grade [flags]            run the graded tests and print your points
  raftviz replay [flags] FILE      watch a recorded run (a trace) in the browser
  raftviz node [flags]             run one real server of a cluster (key/value API over Raft)
  raftviz cluster [flags]          start N real server processes and watch them on the page
  raftviz load [flags]             clients against a cluster; a summary and a linearizability check
  raftviz help [command]           show a command's flags

Examples:
  raftviz                          the reference implementation, 5 nodes
  raftviz -impl exercises          your own code
  raftviz sim -seed 7 -nodes 5 -for 60s -loss 0.1 -trace run.jsonl
  raftviz grade -impl exercises -stage 1
  raftviz replay /tmp/raftlab-traces-1000/exercises-stage1-ReElection-seed87400003.jsonl
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run carries out one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serveCmd(ctx, args, stdout, stderr)
	case "sim":
		err = simCmd(ctx, args, stdout, stderr)
	case "grade":
		err = gradeCmd(ctx, args, stdout, stderr)
	case "replay":
		err = replayCmd(ctx, args, stdout, stderr)
	case "node":
		err = nodeCmd(ctx, args, stdout, stderr)
	case "cluster":
		err = clusterCmd(ctx, args, stdout, stderr)
	case "load":
		err = loadCmd(ctx, args, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 0 {
			return run(ctx, []string{args[0], "-help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "raftviz: unknown command %q (want serve, sim, grade, replay, node, cluster, load or help)\n", cmd)
		return 2
	}
	var ue usageError
	var ee exitError
	var ie interruptedError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "raftviz %s: %s\n", cmd, ue.msg)
		return 2
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ie):
		fmt.Fprintf(stderr, "raftviz %s: interrupted %s\n", cmd, ie.where)
		return 130
	default:
		fmt.Fprintf(stderr, "raftviz %s: %v\n", cmd, err)
		return 1
	}
}

// flagSet is a flag set that reports errors to the caller instead of exiting.
type flagSet struct {
	*flag.FlagSet
	stderr io.Writer
}

func newFlags(name, synopsis string, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: raftviz %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return &flagSet{FlagSet: fs, stderr: stderr}
}

// parse parses flags; a bad flag is a usage error in one line, and -help
// prints the usage.
func parse(fs *flagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(fs.stderr)
		fs.Usage()
		return flag.ErrHelp
	}
	if err != nil {
		return usagef("%v (see raftviz help %s)", err, fs.Name())
	}
	return nil
}

// implFlag adds -impl to fs; the function it returns gives the implementation named.
func implFlag(fs *flagSet, def, what string) func() (lab.Implementation, error) {
	name := fs.String("impl", def, what+": "+implNames())
	return func() (lab.Implementation, error) {
		impl, err := lookupImpl(*name)
		if err != nil {
			return impl, usageError{err.Error()}
		}
		return impl, nil
	}
}

// parseFlags parses the flags of a command that takes no arguments.
func parseFlags(fs *flagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func checkNodes(n int) error {
	if n < 1 || n > lab.MaxNodes {
		return usagef("-nodes %d: a cluster has 1 to %d nodes", n, lab.MaxNodes)
	}
	return nil
}

func checkProbability(name string, p float64) error {
	if !(p >= 0 && p <= 1) {
		return usagef("-%s %v: a probability is between 0 and 1", name, p)
	}
	return nil
}
