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
// Seeking goes through one seam, the course's rewinder: it keeps checkpoints
// of the whole run (lab.Checkpoint) at intervals of its work, taken as the
// run advances, and dropped past a branch point. A seek (or a return to live)
// starts from the latest checkpoint before its target, or from the run as it
// stands if that is nearer, and runs in a goroutine of its own, on a replayer
// of its own, while the session goes on serving; the session then takes that
// replayer in place of its own. A newer seek or any command that changes the
// run cancels it.
//
// No viewer costs another more than O(1): a refused command, or a request for
// state, is answered to its sender alone, and the status that commands
// change goes out once per frame, not once per command.
//
// NewHandler serves the page (package web), the websocket (/ws) and the run
// as a trace file (/trace.jsonl). The protocol is in PROTOCOL.md.
package visualizer
