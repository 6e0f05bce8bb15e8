// Package visualizer serves live Raft clusters to browsers.
//
// A Session is one simulated cluster (lab.Sim), its controls and its
// recording. Its Run goroutine advances virtual time in step with the wall
// clock at the chosen speed, carries out viewers' commands — pause, step,
// crash, partition, propose, seek, scenarios — and streams every event to every
// viewer over a websocket. Seeking re-runs the recording from its seed to the
// moment asked for, so the past is shown exactly; a command given in the past
// starts a new course.
//
// NewHandler serves the page (package web), the websocket (/ws) and the run
// as a trace file (/trace.jsonl). The protocol is in PROTOCOL.md. No viewer can
// slow the session: each has a bounded queue, and one that falls behind is
// cut off from the stream until it catches up, then sent a fresh state.
package visualizer
