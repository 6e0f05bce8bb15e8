package solutions

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Mutants are deliberately broken variants of the reference, each a small
// patch to its source, kept here in test code and never shipped. The test
// below builds them all (in one go, as packages that exist only in a build
// overlay), runs the graded suites against each, and checks that every one
// is caught — naming the tests that catch it.

type patch struct {
	file, old, new string
}

type mutant struct {
	name string
	// stage is the last stage whose suite runs against the mutant; caughtBy
	// names a test of stages 1..stage that must fail.
	stage    int
	caughtBy string
	patches  []patch
}

var mutants = []mutant{
	// Stage 1: leader election.
	{"a candidate ignores a higher term", 1, "VotesOfThisTerm", []patch{{"election.go",
		"if m.Term > r.currentTerm {",
		"if m.Term > r.currentTerm && r.role != raft.Candidate {"}}},
	{"a leader ignores a higher term", 1, "StepDownOnReply", []patch{{"election.go",
		"if m.Term > r.currentTerm {",
		"if m.Term > r.currentTerm && r.role != raft.Leader {"}}},
	{"a server votes twice in one term", 1, "VoteOnce", []patch{{"election.go",
		"case r.votedFor != raft.None && r.votedFor != m.From:",
		"case false:"}}},
	{"a server refuses a second RequestVote of the candidate it voted for", 1, "VoteOnce", []patch{{"election.go",
		"case r.votedFor != raft.None && r.votedFor != m.From:",
		"case r.votedFor != raft.None:"}}},
	{"election timeouts are fixed, not random", 1, "SplitVote", []patch{{"election.go",
		"r.electionTimeout = n + r.env.Rand().IntN(n)",
		"r.electionTimeout = n"}}},
	{"a follower does not reset its timer on a heartbeat", 1, "InitialElection", []patch{{"election.go",
		"r.becomeFollower(m.Term, m.From)\n\tr.resetElectionTimer()",
		"r.becomeFollower(m.Term, m.From)"}}},
	{"a follower does not reset its timer when it grants a vote", 1, "VoteResetsTimer", []patch{{"election.go",
		"r.persistHardState() // before the reply leaves: a vote must survive a crash\n\t\tr.resetElectionTimer()",
		"r.persistHardState() // before the reply leaves: a vote must survive a crash"}}},
	{"a leader stops sending heartbeats", 1, "InitialElection", []patch{{"election.go",
		"if r.heartbeatElapsed >= r.cfg.HeartbeatTicks() {",
		"if false {"}}},
	{"a candidate counts a duplicated vote twice", 1, "VotesOfThisTerm", []patch{{"election.go",
		"r.votes[m.From] = true // a set: a duplicated reply is not counted twice",
		"r.votes[raft.NodeID(1000+len(r.votes))] = true"}}},

	// Rule tests (lab/grade/rules*.go): one broken rule of Figure 2 each,
	// caught on the first seed by a scenario that forces the interleaving.
	{"a candidate does not vote for itself", 1, "VoteOnce", []patch{{"election.go",
		"r.votedFor = r.id\n\tr.persistHardState()\n\tr.votes",
		"r.votedFor = raft.None\n\tr.persistHardState()\n\tr.votes"}}},
	{"a candidate stays a candidate when the leader of its term appears", 1, "VoteOnce", []patch{{"election.go",
		"\tr.becomeFollower(m.Term, m.From)\n\tr.resetElectionTimer()\n\tr.send(r.appendEntries(m))",
		"\tif r.role != raft.Candidate {\n\t\tr.becomeFollower(m.Term, m.From)\n\t}\n\tr.resetElectionTimer()\n\tr.send(r.appendEntries(m))"}}},
	{"a candidate counts votes granted in an earlier term", 1, "VotesOfThisTerm", []patch{{"election.go",
		"if r.role != raft.Candidate || m.Term != r.currentTerm || !m.VoteGranted {",
		"if r.role != raft.Candidate || !m.VoteGranted {"}}},
	{"a majority is counted one short", 1, "VotesOfThisTerm", []patch{{"raft.go",
		"return 2*n > len(r.peers)+1",
		"return 2*(n+1) > len(r.peers)+1"}}},
	{"a vote is granted to a candidate of an earlier term", 1, "StaleCandidateRefused", []patch{{"election.go",
		"case m.Term < r.currentTerm:\n\t\t// 1. Reply false if term < currentTerm.",
		"case false:\n\t\t// 1. Reply false if term < currentTerm."}}},
	{"a candidate does not increment currentTerm", 1, "InitialElection", []patch{{"election.go",
		"\tr.currentTerm++\n",
		""}}},
	{"a candidate asks only one server for its vote", 1, "VoteOnce", []patch{{"election.go",
		"\tfor _, p := range r.peers {\n\t\tr.send(raft.Message{\n\t\t\tType:         raft.RequestVote,",
		"\tfor _, p := range r.peers[:1] {\n\t\tr.send(raft.Message{\n\t\t\tType:         raft.RequestVote,"}}},
	{"a new leader sends no heartbeat until its heartbeat timer fires", 1, "VoteOnce", []patch{{"election.go",
		"\tr.initLeaderState()\n\tr.broadcastAppendEntries()",
		"\tr.initLeaderState()"}}},

	{"a server that refuses a vote sends no reply", 1, "StaleCandidateRefused", []patch{{"election.go",
		"\tr.send(reply)\n}",
		"\tif reply.VoteGranted {\n\t\tr.send(reply)\n\t}\n}"}}},
	{"a follower does not answer an AppendEntries of an earlier term", 1, "StaleLeaderRefused", []patch{{"election.go",
		"\t\tr.send(raft.Message{Type: raft.AppendEntriesReply, To: m.From, Reject: raft.StaleTerm})\n",
		""}}},

	{"a candidate does not reset its election timer", 1, "VotesOfThisTerm", []patch{{"election.go",
		"\tr.votes = map[raft.NodeID]bool{r.id: true}\n\tr.resetElectionTimer()\n",
		"\tr.votes = map[raft.NodeID]bool{r.id: true}\n"}}},
	{"a candidate whose election times out does not start another", 1, "VotesOfThisTerm", []patch{{"election.go",
		"if r.electionElapsed >= r.electionTimeout {",
		"if r.electionElapsed >= r.electionTimeout && r.role != raft.Candidate {"}}},

	// Stage 2: log replication.
	{"a vote is granted to a candidate with a staler log", 2, "UpToDateVote", []patch{{"election.go",
		"case !r.candidateUpToDate(m.LastLogIndex, m.LastLogTerm):",
		"case false:"}}},
	{"a leader commits an old-term entry by counting replicas", 2, "OldTermEntries", []patch{{"replication.go",
		"for n := r.lastLogIndex(); n > r.commitIndex && r.termAt(n) == r.currentTerm; n-- {",
		"for n := r.lastLogIndex(); n > r.commitIndex; n-- {"}}},
	{"a follower truncates its log on every AppendEntries", 2, "LateAppendEntries", []patch{{"replication.go",
		"\tfor k, e := range m.Entries {\n\t\tif e.Index <= r.lastLogIndex() && r.termAt(e.Index) == e.Term {\n\t\t\tcontinue\n\t\t}\n\t\tr.log = append(r.log[:e.Index-1-r.snapshotIndex], m.Entries[k:]...)\n\t\tr.persistLog(e.Index) // before the reply: the leader counts this server as storing them\n\t\tbreak\n\t}",
		"\tr.log = append(r.log[:m.PrevLogIndex-r.snapshotIndex], m.Entries...)\n\tr.persistLog(m.PrevLogIndex + 1)"}}},
	{"a leader never decrements nextIndex", 2, "ConflictingEntries", []patch{{"replication.go",
		"r.nextIndex[i] = max(r.backedUpNextIndex(m), r.matchIndex[i]+1)",
		"_ = r.backedUpNextIndex"}}},
	{"a leader never repairs a diverged follower", 2, "ConflictingEntries", []patch{{"replication.go",
		"if m.Reject != raft.LogTooShort && m.Reject != raft.TermMismatch {",
		"if true {"}}},
	{"commitIndex is set to leaderCommit without the min", 2, "FastBackup", []patch{{"replication.go",
		"if commit := min(m.LeaderCommit, lastNew); commit > r.commitIndex {",
		"if commit := m.LeaderCommit; commit > r.commitIndex {"}}},
	{"entries are applied before they are committed", 2, "CommitNeedsMajority", []patch{{"replication.go",
		"for r.lastApplied < r.commitIndex {",
		"for r.lastApplied < r.lastLogIndex() {"}}},
	{"a follower accepts AppendEntries from a stale term", 2, "StaleLeaderRefused", []patch{{"election.go",
		"if m.Term < r.currentTerm {\n\t\t// 1. Reply false if term < currentTerm: the sender is a deposed",
		"if false {\n\t\t// 1. Reply false if term < currentTerm: the sender is a deposed"}}},

	{"a follower's commitIndex moves back to min(leaderCommit, index of last new entry)", 2, "LateAppendEntries", []patch{{"replication.go",
		"if commit := min(m.LeaderCommit, lastNew); commit > r.commitIndex {",
		"if commit := min(m.LeaderCommit, lastNew); commit != r.commitIndex {"}}},
	{"matchIndex is taken from what was sent, not from the reply", 2, "CommitNeedsMajority", []patch{{"replication.go",
		"r.matchIndex[i] = max(r.matchIndex[i], m.MatchIndex)",
		"r.matchIndex[i] = max(r.matchIndex[i], r.nextIndex[i]-1)"}}},
	{"a follower skips the consistency check when the terms differ", 2, "ConflictingEntries", []patch{{"replication.go",
		"if t := r.termAt(m.PrevLogIndex); t != m.PrevLogTerm {",
		"if t := r.termAt(m.PrevLogIndex); false && t != m.PrevLogTerm {"}}},
	{"a follower keeps the entries after a conflicting one", 2, "ConflictingEntries", []patch{{"replication.go",
		"r.log = append(r.log[:e.Index-1-r.snapshotIndex], m.Entries[k:]...)",
		"r.log = append(append(r.log[:e.Index-1-r.snapshotIndex:e.Index-1-r.snapshotIndex], m.Entries[k:]...), r.log[min(uint64(len(r.log)), m.Entries[len(m.Entries)-1].Index-r.snapshotIndex):]...)"}}},
	{"the up-to-date check compares log lengths only", 2, "Backup", []patch{{"election.go",
		"\tif lastTerm != r.lastLogTerm() {\n\t\treturn lastTerm > r.lastLogTerm()\n\t}\n",
		""}}},

	{"nextIndex starts past the leader's log", 2, "BasicAgree", []patch{{"replication.go",
		"r.nextIndex[i] = r.lastLogIndex() + 1\n",
		"r.nextIndex[i] = r.lastLogIndex() + 2\n"}}},
	{"a follower accepts a client's command", 2, "BasicAgree", []patch{{"replication.go",
		"\tif r.role != raft.Leader {\n\t\treturn 0, r.currentTerm, false\n\t}\n",
		""}}},

	// Stage 3: persistence.
	{"votedFor is not persisted", 3, "VoteSurvivesCrash", []patch{{"persistence.go",
		"VotedFor: r.votedFor})",
		"VotedFor: raft.None})"}}},
	{"currentTerm is not persisted", 3, "VoteSurvivesCrash", []patch{{"persistence.go",
		"CurrentTerm: r.currentTerm,",
		"CurrentTerm: 0,"}}},
	{"a vote's reply is sent before the vote is persisted", 3, "VoteSurvivesCrash", []patch{{"election.go",
		"\t\tr.persistHardState() // before the reply leaves: a vote must survive a crash\n\t\tr.resetElectionTimer()\n\t\treply.VoteGranted = true\n\t}\n\tr.send(reply)",
		"\t\tr.resetElectionTimer()\n\t\treply.VoteGranted = true\n\t}\n\tr.send(reply)\n\tr.persistHardState()"}}},
	{"entries are acknowledged before they are persisted", 3, "EntriesSurviveCrash", []patch{{"replication.go",
		"\t\tr.persistLog(e.Index) // before the reply: the leader counts this server as storing them\n",
		""}, {"election.go",
		"\tr.send(r.appendEntries(m))",
		"\tr.send(r.appendEntries(m))\n\tr.persistLog(1)"}}},
	{"commitIndex is restored from storage as if it were durable", 3, "RestartAll", []patch{{"persistence.go",
		"\tr.log = saved.Log\n",
		"\tr.log = saved.Log\n\tr.commitIndex = uint64(len(saved.Log))\n"}}},
	{"the log is not restored", 3, "RestartAll", []patch{{"persistence.go",
		"\tr.log = saved.Log\n",
		""}}},
}

// wording is what the report of a mutant's failure must say: a student reads
// it to find the rule they broke. Every report also names its test, shows
// the event that broke the rule (a safety rule's cause is in its event list),
// carries no Go stack trace and never says "harness".
type wording struct {
	// rules are the rules or checks the report may name (Failure.Rule).
	rules []string
	// says are words of the paper (or of the code the student wrote) that
	// the report must contain, all of them.
	says []string
	// event, if set, is a regular expression for the event that broke the
	// rule, as the report shows it.
	event string
	// open, if set, says what the report still lacks and whose change it
	// needs; the test logs it.
	open string
}

const (
	grantedVote = `n\d->n\d RequestVoteReply term=\d+ granted`
	becameLead  = `#\d+ \S+ n\d role leader term=\d+`
)

// reportWording gives every mutant's wording, by the mutant's name. A mutant
// added without one fails TestMutantsAreCaught: add its entry here.
var reportWording = map[string]wording{
	// Stage 1.
	"a candidate ignores a higher term": {rules: []string{"higher term"}, says: []string{"currentTerm", "convert to follower"},
		event: `#\d+ \S+ n\d deliver n\d->n\d RequestVote term=\d+`},
	"a leader ignores a higher term": {rules: []string{"step down"}, says: []string{"currentTerm", "convert to follower"},
		event: `deliver n\d->n\d AppendEntriesReply term=\d+`},
	"a server votes twice in one term":                                    {rules: []string{"One Vote Per Term"}, says: []string{"votedFor"}},
	"a server refuses a second RequestVote of the candidate it voted for": {rules: []string{"vote"}, says: []string{"refused the same RequestVote", "votedFor is null or candidateId"}},
	"election timeouts are fixed, not random": {rules: []string{"one leader"}, says: []string{"no leader was elected", "votes kept splitting", "randomized election timeouts"},
		event: `RequestVoteReply term=\d+ refused=already-voted`},
	// The report stops at the first election started while a leader led,
	// and tells from the trace which of the two mistakes it was.
	"a follower does not reset its timer on a heartbeat": {rules: []string{"stable term"},
		says:  []string{"started an election for term", "up and connected: an AppendEntries from", "less than ElectionTimeout", "did not restart its election timer", "without receiving AppendEntries RPC from current leader"},
		event: `send n\d->n\d RequestVote term=\d+`},
	"a follower does not reset its timer when it grants a vote": {rules: []string{"stable term"}, says: []string{"granting a vote", "restart the timer"},
		event: `RequestVote term=\d+`},
	"a leader stops sending heartbeats": {rules: []string{"stable term"},
		says:  []string{"started an election for term", "no AppendEntries for", "longer than ElectionTimeout", "repeat during idle periods to prevent election timeouts"},
		event: `send n\d->n\d RequestVote term=\d+`},
	"a candidate counts a duplicated vote twice": {rules: []string{"majority of votes"}, says: []string{"majority of servers", "count each voter once"}, event: becameLead},
	"a candidate does not vote for itself":       {rules: []string{"one vote per term"}, says: []string{"vote for self", "votedFor"}, event: grantedVote},
	"a candidate stays a candidate when the leader of its term appears": {rules: []string{"candidate steps down"}, says: []string{"convert to follower"},
		event: `deliver n\d->n\d AppendEntries term=\d+`},
	"a candidate counts votes granted in an earlier term": {rules: []string{"majority of votes"}, says: []string{"majority of servers", "currentTerm"}, event: becameLead},
	"a majority is counted one short":                     {rules: []string{"majority of votes"}, says: []string{"majority of servers"}, event: becameLead},
	"a vote is granted to a candidate of an earlier term": {rules: []string{"stale term"}, says: []string{"reply false if term < currentTerm"}, event: grantedVote},
	"a candidate does not increment currentTerm":          {rules: []string{"term"}, says: []string{"increments currentTerm"}, event: `RequestVote term=0`},
	"a candidate asks only one server for its vote": {rules: []string{"candidate"}, says: []string{"send RequestVote RPCs to all other servers"},
		event: `event #\d+: n\d->n\d RequestVote term=\d+`},
	"a new leader sends no heartbeat until its heartbeat timer fires": {rules: []string{"heartbeat"}, says: []string{"upon election", "heartbeat"}, event: becameLead},
	"a server that refuses a vote sends no reply": {rules: []string{"respond to RPCs"}, says: []string{"respond to RPCs from candidates and leaders", "reply false if term < currentTerm"},
		event: `event #\d+: n\d->n\d RequestVote term=\d+`},
	"a follower does not answer an AppendEntries of an earlier term": {rules: []string{"respond to RPCs"}, says: []string{"respond to RPCs from candidates and leaders", "reply false if term < currentTerm"},
		event: `event #\d+: n\d->n\d AppendEntries term=\d+`},
	"a candidate does not reset its election timer":               {rules: []string{"election timer"}, says: []string{"reset the election timer"}, event: `#\d+ \S+ n\d term \d+`},
	"a candidate whose election times out does not start another": {rules: []string{"election timeout"}, says: []string{"if election timeout elapses: start new election"}, event: `n\d timeout`},

	// Stage 2.
	"a vote is granted to a candidate with a staler log":      {rules: []string{"up-to-date"}, says: []string{"at least as up-to-date", "5.4.1"}, event: grantedVote},
	"a leader commits an old-term entry by counting replicas": {rules: []string{"Leader Completeness", "State Machine Safety"}, says: []string{"committed"}},
	"a follower truncates its log on every AppendEntries":     {rules: []string{"Commit Within Log"}, says: []string{"commitIndex", "removed committed entries"}},
	"a leader never decrements nextIndex": {rules: []string{"repair"}, says: []string{"decrement nextIndex and retry", "conflicting entries"},
		event: `AppendEntriesReply term=\d+ refused`},
	"a leader never repairs a diverged follower": {rules: []string{"repair"}, says: []string{"decrement nextIndex and retry", "conflicting entries"},
		event: `AppendEntriesReply term=\d+ refused`},
	// The node panics in the very Step that sets commitIndex past its log, so
	// no test can see commitIndex > last index first: the report says what
	// the message was and the rule that governs it (report_panic.go).
	"commitIndex is set to leaderCommit without the min": {rules: []string{"No Panic"},
		says:  []string{"while handling AppendEntries", "Before it: n", "past the index of the last new entry it carries", "set commitIndex = min(leaderCommit, index of last new entry)"},
		event: `deliver n\d->n\d AppendEntries term=\d+ prev=\d+/\d+ entries=\d+\.\.\d+ commit=\d+`},
	"entries are applied before they are committed":                                     {rules: []string{"Apply Only Committed"}, says: []string{"commitIndex"}},
	"a follower accepts AppendEntries from a stale term":                                {rules: []string{"stale term"}, says: []string{"reply false if term < currentTerm"}, event: `event #\d+: n\d->n\d AppendEntries term=\d+`},
	"a follower's commitIndex moves back to min(leaderCommit, index of last new entry)": {rules: []string{"Commit Never Decreases"}, says: []string{"commitIndex"}},
	"matchIndex is taken from what was sent, not from the reply":                        {rules: []string{"commit"}, says: []string{"matchIndex"}, event: `#\d+ \S+ n\d commit \d+`},
	"a follower skips the consistency check when the terms differ":                      {rules: []string{"State Machine Safety", "Log Matching", "Leader Completeness"}, says: []string{"committed"}},
	"a follower keeps the entries after a conflicting one":                              {rules: []string{"Log Matching", "State Machine Safety"}, says: []string{"the logs differ"}},
	"the up-to-date check compares log lengths only":                                    {rules: []string{"Leader Completeness", "State Machine Safety"}, says: []string{"committed"}},
	"nextIndex starts past the leader's log": {rules: []string{"No Panic"},
		says:  []string{"sendAppendEntries", "a majority: it was becoming leader", "upon election", "nextIndex for each server, initialized to leader last log index + 1"},
		event: `deliver n\d->n\d RequestVoteReply term=\d+ granted`},
	"a follower accepts a client's command": {rules: []string{"No Panic"},
		says: []string{"while handling Propose", "was a follower", "only the leader takes a client's command", "the leader handles all client requests", "Section 5.1"}},

	// Stage 3.
	"votedFor is not persisted":                                  {rules: []string{"One Vote Per Term"}, says: []string{"votedFor is persistent"}, event: `n\d crash`},
	"currentTerm is not persisted":                               {rules: []string{"One Vote Per Term"}, says: []string{"votedFor"}, event: `save-state term=0 `},
	"a vote's reply is sent before the vote is persisted":        {rules: []string{"One Vote Per Term"}, says: []string{"votedFor is persistent"}, event: `n\d crash`},
	"entries are acknowledged before they are persisted":         {rules: []string{"Leader Completeness"}, says: []string{"committed"}, event: `n\d crash`},
	"commitIndex is restored from storage as if it were durable": {rules: []string{"Volatile State Starts Empty"}, says: []string{"commitIndex", "volatile"}},
	"the log is not restored":                                    {rules: []string{"Restore Persistent State"}, says: []string{"log", "persisted"}},

	// Stage 4.
	// A liveness failure: the report tells, from the trace, what the leader
	// sent each server that lags (report_lag.go).
	"the leader's AppendEntries slices its log without the snapshot's offset": {rules: []string{"agreement"},
		says:  []string{"was not applied", "did not apply index", "None carried an entry", "if last log index ≥ nextIndex for a follower: send AppendEntries RPC with log entries starting at nextIndex"},
		event: `send n\d->n\d AppendEntriesReply term=\d+ refused=log-too-short`},
	"a restarted server applies its snapshot's entries again (lastApplied from 0)": {rules: []string{"Volatile State Starts Empty"}, says: []string{"lastApplied", "snapshot"}},
	"lastApplied is not moved by an installed snapshot": {rules: []string{"InstallSnapshot"}, says: []string{"lastApplied", "reset state machine using snapshot contents"},
		event: `deliver n\d->n\d InstallSnapshot term=\d+`},
	"commitIndex is not raised to an installed snapshot":                    {rules: []string{"Apply Only Committed"}, says: []string{"commitIndex", "snapshot"}},
	"a stale InstallSnapshot is installed, rolling the follower back":       {rules: []string{"Commit Within Log"}, says: []string{"commitIndex"}, event: `deliver n\d->n\d InstallSnapshot term=\d+`},
	"an InstallSnapshot older than the follower's own snapshot replaces it": {rules: []string{"Commit Within Log"}, says: []string{"commitIndex"}, event: `deliver n\d->n\d InstallSnapshot term=\d+`},
	"a snapshot handed over by the state machine is not persisted":          {rules: []string{"Log Compaction"}, says: []string{"SaveSnapshot"}},
	"an installed snapshot is not persisted before the reply": {rules: []string{"persist before reply"}, says: []string{"before responding to RPCs", "SaveSnapshot"},
		event: `send n\d->n\d InstallSnapshotReply term=\d+`},
	"the leader sends AppendEntries from a compacted index instead of a snapshot": {rules: []string{"agreement"},
		says:  []string{"was not applied", "0 InstallSnapshot", "has discarded those through index", "the leader uses a new RPC called InstallSnapshot to send snapshots to followers that are too far behind"},
		event: `send n\d->n\d AppendEntries term=\d+ prev=\d+/\d+ entries=\d+`},
	"an InstallSnapshot of an earlier term is installed": {rules: []string{"stale term"}, says: []string{"reply immediately if term < currentTerm", "deposed leader"},
		event: `event #\d+: n\d->n\d InstallSnapshot term=\d+`},
	"an installed snapshot discards the whole log, even a suffix that follows a matching entry": {rules: []string{"InstallSnapshot"}, says: []string{"step 6", "retain the log entries following it"},
		event: `n\d->n\d InstallSnapshot term=\d+`},
	"an installed snapshot keeps the entries after its last index without checking that entry's term": {rules: []string{"InstallSnapshot"}, says: []string{"step", "discard the entire log"},
		event: `InstallSnapshot`},
	"a follower checks entries it has compacted against its log": {rules: []string{"No Panic"},
		says:  []string{"appendEntries", "through which n", "had compacted its log", "Compacted entries are committed", "to support the AppendEntries consistency check for the first log entry following the snapshot"},
		event: `deliver n\d->n\d AppendEntries term=\d+ prev=\d+/\d+`},
}

// checkWording checks the report of mutant m's failure in its named test.
func checkWording(t *testing.T, m mutant, test, rule, node, report string, cause uint64) {
	t.Helper()
	w, ok := reportWording[m.name]
	if !ok {
		t.Errorf("mutant %q has no expected wording: add an entry to reportWording (solutions/mutants_test.go) naming the rule its report must name, words of the paper it must say and its breaking event. Its report:\n%s", m.name, report)
		return
	}
	fail := func(format string, args ...any) {
		t.Errorf("mutant %q, the report of %s: %s\n%s", m.name, test, fmt.Sprintf(format, args...), report)
	}
	if report == "" {
		fail("no report (the first failing seed did not fail again with a trace)")
		return
	}
	if !strings.HasPrefix(report, test+" failed at seed ") {
		fail("it does not begin by naming the test")
	}
	if !slices.Contains(w.rules, rule) {
		fail("it names %q; want one of %q", rule, w.rules)
	}
	for _, say := range w.says {
		if !strings.Contains(report, say) {
			fail("it does not say %q", say)
		}
	}
	if w.event != "" && !regexp.MustCompile(w.event).MatchString(report) {
		fail("it does not show the event that broke the rule (%s)", w.event)
	}
	if cause != 0 {
		if !strings.Contains(report, "Safety rule broken: "+rule) || !strings.Contains(report, "What happened: "+node) {
			fail("a broken safety rule is named with the server that broke it (%s)", node)
		}
		if !strings.Contains(report, fmt.Sprintf("\n      #%d ", cause)) {
			fail("the events do not show #%d, the event that broke the rule", cause)
		}
	} else if !strings.Contains(report, "Check failed: "+rule) {
		fail("a failed check is named as one")
	}
	if strings.Contains(report, "harness") {
		fail("it says \"harness\": name the rule, and what the student's servers did")
	}
	if strings.Contains(report, "goroutine ") || regexp.MustCompile(`\.go:\d+ \+0x`).MatchString(report) {
		fail("it carries a Go stack trace")
	}
	if !strings.Contains(report, "Run it again:") || !strings.Contains(report, "The events that led to it") {
		fail("it must give the events and the command that replays the run")
	}
	if w.open != "" {
		t.Logf("open, %q: %s", m.name, w.open)
	}
}

// moduleRoot is the folder of go.mod, one up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "go.mod"))
	require.NoError(t, err, "the mutants test runs from the solutions folder of the module")
	return dir
}

func TestMutantsAreCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and grades every mutant; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	// $RAFTLAB_MUTANTS, if set, keeps only the mutants whose name contains
	// it: to look at one mutant's report, e.g.
	//   RAFTLAB_MUTANTS='stops sending heartbeats' RAFTLAB_MUTANT_REPORTS=/tmp/r go test -run MutantsAreCaught -v ./solutions/
	only := os.Getenv("RAFTLAB_MUTANTS")
	chosen := func(m mutant) bool { return strings.Contains(m.name, only) }
	require.True(t, slices.ContainsFunc(mutants, chosen), "no mutant's name contains $RAFTLAB_MUTANTS=%q", only)
	root := moduleRoot(t)
	tmp := t.TempDir()
	sources, err := filepath.Glob("*.go")
	require.NoError(t, err)
	sources = slices.DeleteFunc(sources, func(n string) bool { return strings.HasSuffix(n, "_test.go") })

	replace := map[string]string{}
	overlayDir := filepath.Join(root, "solutions", "zz_mutants")
	var imports, impls strings.Builder
	for i, m := range mutants {
		if !chosen(m) {
			continue
		}
		pkg := fmt.Sprintf("m%02d", i)
		files := map[string]string{}
		for _, name := range sources {
			b, err := os.ReadFile(name)
			require.NoError(t, err)
			files[name] = strings.Replace(string(b), "package solutions", "package "+pkg, 1)
		}
		for _, p := range m.patches {
			src, ok := files[p.file]
			require.True(t, ok, "mutant %q patches %s, which does not exist", m.name, p.file)
			require.Equal(t, 1, strings.Count(src, p.old), "mutant %q: its patch of %s no longer applies: %q must occur exactly once", m.name, p.file, p.old)
			files[p.file] = strings.Replace(src, p.old, p.new, 1)
		}
		for name, src := range files {
			path := filepath.Join(tmp, pkg, name)
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
			replace[filepath.Join(overlayDir, pkg, name)] = path
		}
		fmt.Fprintf(&imports, "\t%s \"github.com/raftlab/raftlab/solutions/zz_mutants/%s\"\n", pkg, pkg)
		fmt.Fprintf(&impls, "\t{lab.Implementation{Name: %q, New: %s.New}, %d, %q},\n", pkg, pkg, m.stage, m.caughtBy)
	}
	main := fmt.Sprintf(mutantMain, imports.String(), impls.String())
	mainPath := filepath.Join(tmp, "main.go")
	require.NoError(t, os.WriteFile(mainPath, []byte(main), 0o644))
	replace[filepath.Join(overlayDir, "main", "main.go")] = mainPath
	ov, err := json.Marshal(map[string]any{"Replace": replace})
	require.NoError(t, err)
	ovPath := filepath.Join(tmp, "overlay.json")
	require.NoError(t, os.WriteFile(ovPath, ov, 0o644))

	cmd := exec.Command(goTool, "run", "-overlay", ovPath, "./solutions/zz_mutants/main")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "building or running the mutants failed:\n%s", stderr.String())

	results := map[string]mutantResult{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r mutantResult
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "bad line from the mutants: %s", sc.Text())
		results[r.Name] = r
	}
	for i, m := range mutants {
		if !chosen(m) {
			continue
		}
		r, ok := results[fmt.Sprintf("m%02d", i)]
		require.True(t, ok, "no result for mutant %q", m.name)
		var names []string
		for _, c := range r.Caught {
			names = append(names, c.Test)
		}
		if !slices.Contains(names, m.caughtBy) {
			t.Errorf("mutant %q (stage %d) should be caught by %s; caught by %v", m.name, m.stage, m.caughtBy, names)
			continue
		}
		for _, c := range r.Caught {
			if c.Test == m.caughtBy {
				t.Logf("%-58s caught by %d/%s at %2d of %d seeds (first: %s), and by %d tests in all (%.1fs)",
					m.name, c.Stage, c.Test, c.Failed, c.Seeds, c.Rule, len(r.Caught), r.Seconds)
				checkWording(t, m, fmt.Sprintf("%d/%s", c.Stage, c.Test), c.Rule, c.Node, c.Report, c.Cause)
				if d := os.Getenv("RAFTLAB_MUTANT_REPORTS"); d != "" {
					os.WriteFile(filepath.Join(d, fmt.Sprintf("%02d.txt", i)), []byte(m.name+"\n"+c.Report), 0o644)
				}
			}
		}
	}
}

type mutantResult struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Caught  []struct {
		Stage int    `json:"stage"`
		Test  string `json:"test"`
		Seed  uint64 `json:"seed"`
		Rule  string `json:"rule"`
		// Failed counts the failing seeds of Seeds; it is counted in full
		// only for the test the mutant is expected to fail.
		Failed int `json:"failed"`
		Seeds  int `json:"seeds"`
		// Report is the report of the first failing seed of the test
		// expected to catch the mutant; Node and Cause name the server and
		// the event that broke a safety rule, if one did.
		Report string `json:"report"`
		Node   string `json:"node"`
		Cause  uint64 `json:"cause"`
	} `json:"caught"`
}

// mutantMain grades every mutant on the suites of stages 1..its stage: the
// test expected to catch it at every seed, to count how many seeds do; the
// other tests at up to 10 seeds, stopping at the first that fails, to list
// them. It prints one JSON line per mutant.
const mutantMain = `package main

import (
	"encoding/json"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/raftlab/raftlab/lab"
	"github.com/raftlab/raftlab/lab/grade"
%s)

type caught struct {
	Stage int    ` + "`json:\"stage\"`" + `
	Test  string ` + "`json:\"test\"`" + `
	Seed  uint64 ` + "`json:\"seed\"`" + `
	Rule  string ` + "`json:\"rule\"`" + `
	Failed int   ` + "`json:\"failed\"`" + `
	Seeds int    ` + "`json:\"seeds\"`" + `
	Report string ` + "`json:\"report,omitempty\"`" + `
	Node string ` + "`json:\"node,omitempty\"`" + `
	Cause uint64 ` + "`json:\"cause,omitempty\"`" + `
}

func main() {
	mutants := []struct {
		impl     lab.Implementation
		stage    int
		caughtBy string
	}{
%s	}
	dir, err := os.MkdirTemp("", "raftlab-mutants")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	out := make([][]byte, len(mutants))
	var wg sync.WaitGroup
	sem := make(chan bool, runtime.GOMAXPROCS(0))
	for i, m := range mutants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- true
			defer func() { <-sem }()
			var found []caught
			start := time.Now()
			for stage := 1; stage <= m.stage; stage++ {
				for _, t := range grade.Tests(stage) {
					var c *caught
					n := t.SeedsToRun()
					if t.Name != m.caughtBy {
						n = min(n, 10) // enough to list the other tests that catch it
					}
					for k := range n {
						r := grade.RunTest(m.impl, t, t.Seed(k), "")
						if r.Failure == nil {
							continue
						}
						if c == nil {
							c = &caught{Stage: stage, Test: t.Name, Seed: r.Seed, Rule: r.Failure.Rule, Seeds: n}
						}
						c.Failed++
						if t.Name != m.caughtBy {
							break
						}
					}
					if c != nil && t.Name == m.caughtBy {
						// The first failing seed again, with a trace, so
						// that the report is the one a student reads.
						r := grade.RunTest(m.impl, t, c.Seed, dir)
						if f := r.Failure; f != nil {
							c.Report = f.Report()
							if v := f.Violation; v != nil {
								c.Node, c.Cause = v.Node.String(), v.Cause
							}
						}
					}
					if c != nil {
						found = append(found, *c)
					}
				}
			}
			out[i], _ = json.Marshal(map[string]any{"name": m.impl.Name, "caught": found, "seconds": time.Since(start).Seconds()})
		}()
	}
	wg.Wait()
	for _, line := range out {
		os.Stdout.Write(append(line, '\n'))
	}
}
`
