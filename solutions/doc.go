// Package solutions is the reference implementation of Raft for the lab: the
// code a student's work in package exercises is graded against, and what
// `go run ./cmd/raftviz` shows by default.
//
// It is written to be read alongside the Raft paper ("In Search of an
// Understandable Consensus Algorithm (Extended Version)", Ongaro and
// Ousterhout), one file per stage of the lab:
//
//   - raft.go: the server's state, named as in Figure 2, and the entry points
//     a runtime calls: New, Tick, Step, Propose, Status.
//   - election.go: stage 1, leader election (section 5.2).
//   - replication.go: stage 2, log replication and commitment (sections 5.3, 5.4).
//   - persistence.go: stage 3, surviving crashes (Figure 2).
//
// A Raft is a deterministic state machine: no goroutines, no clock, no locks;
// it acts only through the raft.Env it is given. See package raft for the
// contract and package lab for the simulator that runs it.
package solutions
