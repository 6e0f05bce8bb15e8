package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/raftlab/raftlab/lab"
)

// readTraceFile reads and checks a trace file.
func readTraceFile(ctx context.Context, path string) (*lab.Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the trace: %w", err)
	}
	defer f.Close()
	tr, err := lab.ReadTrace(ctxReader{ctx, f}, path)
	if ctx.Err() != nil {
		return nil, interrupted("while reading %s", path)
	}
	return tr, err
}

// ctxReader stops reading when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", "replay [-impl NAME] [-verify] [-addr HOST:PORT] [-hosts NAMES] FILE", stderr)
	implName := fs.String("impl", "", "implementation to replay with (default: the one the trace names)")
	verify := fs.Bool("verify", false, "don't open the browser: run the trace again and check that every event is the same")
	sf := addServeFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give one trace file to replay (got %d arguments)", fs.NArg())
	}
	tr, err := readTraceFile(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	name := tr.Header.Impl
	if *implName != "" {
		name = *implName
	}
	impl, err := lookupImpl(name)
	switch {
	case err != nil && *implName != "":
		return usagef("-impl %q: there is no such implementation; use %s", name, implNames())
	case err != nil:
		return usageError{fmt.Sprintf("the trace was recorded with %q, which this raftviz does not have: pass -impl (%s)", name, implNames())}
	}
	if *verify {
		if err := lab.VerifyContext(ctx, tr, impl.New); err != nil {
			var ie *lab.InterruptedError
			if errors.As(err, &ie) {
				return interrupted("checking %s at event %d of %d (%v of virtual time)", fs.Arg(0), ie.Event, ie.Of, ie.Time)
			}
			fmt.Fprintf(stdout, "%s does not replay the same way with %s:\n%v\n", fs.Arg(0), impl.Name, err)
			return exitError{1}
		}
		fmt.Fprintf(stdout, "%s replays exactly with %s: %d events, %d commands\n", fs.Arg(0), impl.Name, len(tr.Events), len(tr.Commands()))
		return nil
	}
	return serveReplay(ctx, impl, tr, fs.Arg(0), sf, stdout)
}
