package main

import (
	"context"
)

// Stopping on Ctrl-C and SIGTERM: main's context is cancelled by either
// (signal.NotifyContext). Loops that raftviz owns check it (sim's run, a
// replay's steps, reading a trace); work done by a library that takes no
// context (the graded suites) runs on its own goroutine, and the command
// returns as soon as ctx is done, saying where — the process then exits.

// untilDone runs work and returns its result, or an interruptedError
// saying where it was if ctx is done first.
func untilDone[T any](ctx context.Context, where string, work func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := work()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, interrupted("%s", where)
	}
}
