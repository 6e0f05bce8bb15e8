// Package grade holds the graded suites: one per stage, written once and run
// against any implementation on the deterministic simulator of package lab.
//
// Tests(stage) lists a stage's graded tests. Each drives a Harness — verbs a
// student can name: CheckOneLeader, Disconnect, Crash, Restart, One — at many
// seeds, with the safety checker on. RunSeeds runs one test at its seeds;
// GradeStage makes the table of points that `raftviz grade` prints. A failure
// is a Failure: the rule broken, the seed, what happened, the events that led
// there, and a trace file that `raftviz replay` opens in the browser.
//
// CheckStage reads an implementation's source for the TODO stubs still in
// place, so that a stage a student has not begun is skipped with a message
// naming the file to start in. Package gradetest runs a stage under go test.
package grade
