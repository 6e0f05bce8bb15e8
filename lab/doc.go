// Package lab runs Raft implementations in a deterministic simulated
// cluster, checks every step against Raft's safety rules, and records runs as
// traces that replay byte for byte. It is the engine under the graded suites
// (lab/grade), the visualizer and raftviz sim.
//
// # The simulator
//
// New starts a cluster of Options.Nodes servers built by Options.New. Time is
// virtual: RunFor and RunUntil advance it, carrying out everything scheduled on
// one queue ordered by (time, sequence). One random source, seeded by
// Options.Seed, decides every latency, loss and tick phase and serves the
// servers' own randomness, so the same seed and the same commands give the
// same run, event for event — a trace compares byte for byte.
//
// Commands change the run from outside: Crash and Restart a server (its
// storage survives), Partition the network or Isolate a server, SetNetwork to
// lose, duplicate, reorder or delay messages, Propose a command. A crash can
// fall between two actions of one step: RunUntilEvent stops right after an
// event, with the rest of that step still pending.
//
// # Events, the checker, traces
//
// Every change of a server's state (seen by comparing its Status before and
// after each call), every action it takes through its Env, every delivery,
// drop and command is a raft.Event. A View folds events into the state they
// describe; the checker looks at each event before it is folded in and
// reports a Violation of a rule (see Rules) naming the rule, the time, the
// server, the event and the seed. Options.Sink receives every event; a
// TraceWriter writes them as JSON lines, ReadTrace reads them back (refusing a
// damaged file with the line), and Verify replays a trace and compares.
//
// # Checkpoints
//
// Replayer.Checkpoint freezes a whole run between two units of work — every
// node's own memory (opaque to the lab), storage, network, queue, random
// source, checker, view, the replay's place in its commands — by copying its
// memory graph with its shape kept; Checkpoint.Resume copies it again into a
// run that goes on exactly as the original did, byte for byte. A node's Env
// is part of that graph, so the copy of a node talks to the copy of the
// simulator: nothing is rebuilt and no student code is asked for anything.
// What a copy cannot reproduce exactly (a node holding a func value, a
// channel, an unsafe pointer) is refused, and the caller runs from the seed.
// The visualizer seeks from them (lab/checkpoint.go says more).
//
// # Words used here
//
// Step is Figure 2's: a server's Node.Step handles one message. The
// simulator does not step; it advances (Sim.Advance, Replayer.Advance: one
// unit of work), and StepEvent advances until one event has been emitted —
// the page's "step" button. Steps (and Event.Step) count units of work, so a
// recorded command can be applied again at the same point of a replay.
// Apply is the state machine's: Env.Apply hands it a committed entry. A View
// folds events into state (View.Fold); it applies nothing.
//
// # Grading
//
// The graded suites live in lab/grade, on top of this package: they drive a
// Sim through its exported, read-only accessors and never reach inside it.
package lab
