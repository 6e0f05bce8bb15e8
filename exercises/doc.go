// Package exercises is your Raft: the lab's stubs, to fill in stage by stage.
//
// It has the same files and signatures as the reference implementation in
// package solutions, with the body of each function you write replaced by a
// TODO stub that calls r.todo(stage):
//
//   - raft.go: the server's state, named as in Figure 2 of the Raft paper, and
//     the entry points a runtime calls. Given; read it first.
//   - election.go: stage 1, leader election (section 5.2). Handout: STAGE1.md.
//   - replication.go: stage 2, log replication (sections 5.3, 5.4). Handout: STAGE2.md.
//   - persistence.go: stage 3, surviving crashes (Figure 2). Handout: STAGE3.md.
//   - snapshot.go: stage 4, log compaction (section 7, Figure 13). Handout: STAGE4.md.
//
// Run the graded tests with `go test ./exercises/` (a stage is skipped until
// you delete its first r.todo call), see your points with
// `go run ./cmd/raftviz grade`, and watch your servers with
// `go run ./cmd/raftviz -impl exercises`.
//
// Your Raft is a deterministic state machine: never start a goroutine, read
// the clock, sleep, take a lock or use the global math/rand. Act only through
// r.env; the lab relies on this to replay any run exactly from its seed.
package exercises
