// Package visualizer serves live Raft clusters to browsers.
//
// A Session is one simulated cluster, its controls and its recording. One
// goroutine (Run) owns it; its parts each do one job:
//
//   - the course (course.go) is the run: a lab.Replayer that applies the
//     recorded commands again at their steps, the recording, and the timeline
//     up to the horizon (the furthest point reached). Seeking shows the past
//     exactly; a command given in the past starts a new course (branch).
//   - the pacer (pacing.go) keeps virtual time in step with the wall clock at
//     the chosen speed, within a frame's budget.
//   - the handlers (commands.go) carry out viewers' commands — pause, step,
//     crash, partition, propose, seek, scenarios — and answer the sender only.
//   - the frames (frames.go) are what viewers are told: hello, state, status,
//     events, branch, ack, error (types in protocol.go).
//   - the fan-out (fanout.go) sends frames without ever waiting: each viewer
//     has a bounded queue, and one that falls behind is cut off from the
//     stream until it catches up, then sent a fresh state.
//
// Seeking goes through one seam, the course's rewinder: given the recording
// and a target (an event number or a time), it produces the replayer standing
// there. Today it re-runs the recording from the seed; checkpoints fit behind
// the same three methods (rewind from the nearest checkpoint, passed to take
// them as the run advances, forget to drop those past a branch point) without
// the rest of the session changing.
//
// No viewer costs another more than O(1): a refused command, or a request for
// state, is answered to its sender alone, and the status that commands
// change goes out once per frame, not once per command.
//
// NewHandler serves the page (package web), the websocket (/ws) and the run
// as a trace file (/trace.jsonl). The protocol is in PROTOCOL.md.
package visualizer
