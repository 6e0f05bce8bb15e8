package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/raftlab/raftlab/lab"
)

// readTraceFile reads and checks a trace file.
func readTraceFile(path string) (*lab.Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the trace: %w", err)
	}
	defer f.Close()
	return lab.ReadTrace(f, path)
}

func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", "replay [-impl NAME] [-verify] [-addr HOST:PORT] FILE", stderr)
	implName := fs.String("impl", "", "implementation to replay with (default: the one the trace names)")
	verify := fs.Bool("verify", false, "don't open the browser: run the trace again and check that every event is the same")
	sf := addServeFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give one trace file to replay (got %d arguments)", fs.NArg())
	}
	tr, err := readTraceFile(fs.Arg(0))
	if err != nil {
		return err
	}
	name := tr.Header.Impl
	if *implName != "" {
		name = *implName
	}
	impl, err := lookupImpl(name)
	if err != nil {
		return usageError{fmt.Sprintf("the trace was recorded with %q, which this raftviz does not have: pass -impl (%s)", name, implNames())}
	}
	if *verify {
		if err := lab.Verify(tr, impl.New); err != nil {
			fmt.Fprintf(stdout, "%s does not replay the same way with %s:\n%v\n", fs.Arg(0), impl.Name, err)
			return exitError{1}
		}
		fmt.Fprintf(stdout, "%s replays exactly with %s: %d events, %d commands\n", fs.Arg(0), impl.Name, len(tr.Events), len(tr.Commands()))
		return nil
	}
	return serveReplay(ctx, impl, tr, fs.Arg(0), sf, stdout)
}
