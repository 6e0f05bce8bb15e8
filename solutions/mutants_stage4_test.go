package solutions

// Broken variants of stage 4 (log compaction), and correct ones: joined to
// the lists of mutants_test.go and variants_test.go, built and graded the
// same way. Each mutant is a mistake students make in section 7.

func init() {
	mutants = append(mutants, stage4Mutants...)
	variants = append(variants, stage4Variants...)
}

var stage4Mutants = []mutant{
	{"the leader's AppendEntries slices its log without the snapshot's offset", 4, "SnapshotBasic", []patch{{"replication.go",
		"Entries:      r.log[prev-r.snapshotIndex : last-r.snapshotIndex],",
		"Entries:      r.log[min(prev, uint64(len(r.log))):min(last, uint64(len(r.log)))],"}}},
	{"a restarted server applies its snapshot's entries again (lastApplied from 0)", 4, "InitAfterRestart", []patch{{"snapshot.go",
		"\tr.commitIndex, r.lastApplied = snap.LastIncludedIndex, snap.LastIncludedIndex\n}",
		"\tr.commitIndex = snap.LastIncludedIndex\n}"}}},
	{"lastApplied is not moved by an installed snapshot", 4, "StaleTermInstall", []patch{{"snapshot.go",
		"\tr.commitIndex, r.lastApplied = m.LastIncludedIndex, m.LastIncludedIndex\n\tif env",
		"\tr.commitIndex = m.LastIncludedIndex\n\tif env"}}},
	{"commitIndex is not raised to an installed snapshot", 4, "Install", []patch{{"snapshot.go",
		"\tr.commitIndex, r.lastApplied = m.LastIncludedIndex, m.LastIncludedIndex\n\tif env",
		"\tr.lastApplied = m.LastIncludedIndex\n\tif env"}}},
	{"a stale InstallSnapshot is installed, rolling the follower back", 4, "StaleInstall", []patch{{"snapshot.go",
		"if m.LastIncludedIndex <= r.commitIndex {",
		"if false {"}}},
	{"an InstallSnapshot older than the follower's own snapshot replaces it", 4, "StaleInstall", []patch{{"snapshot.go",
		"if m.LastIncludedIndex <= r.commitIndex {",
		"if m.LastIncludedIndex == r.snapshotIndex {"}}},
	{"a snapshot handed over by the state machine is not persisted", 4, "SnapshotBasic", []patch{{"snapshot.go",
		"\tr.compact(index, r.termAt(index), data)\n\tr.persistSnapshot()",
		"\tr.compact(index, r.termAt(index), data)"}}},
	{"an installed snapshot is not persisted before the reply", 4, "StaleTermInstall", []patch{{"snapshot.go",
		"\tr.persistSnapshot() // before the reply",
		"\t// before the reply"}}},
	{"the leader sends AppendEntries from a compacted index instead of a snapshot", 4, "Install", []patch{{"replication.go",
		"\t\tr.sendInstallSnapshot(i)\n\t\treturn\n",
		"\t\tprev = r.snapshotIndex\n"}}},
	{"an InstallSnapshot of an earlier term is installed", 4, "StaleTermInstall", []patch{{"snapshot.go",
		"\t// 1. Reply immediately if term < currentTerm.\n\tif m.Term < r.currentTerm {",
		"\t// 1. Reply immediately if term < currentTerm.\n\tif false {"}}},
	{"a follower checks entries it has compacted against its log", 4, "SnapshotDuringAppend", []patch{{"replication.go",
		"\tm = r.skipCompacted(m)\n",
		""}}},
}

var stage4Variants = []variant{
	{"compaction keeps the log's array (the discarded entries are freed later)",
		"section 7 says what to discard, not how memory is reclaimed",
		[]patch{{"snapshot.go", "r.log = append([]raft.Entry(nil), r.log[index-r.snapshotIndex:]...)", "r.log = r.log[index-r.snapshotIndex:]"}}},
	{"the leader learns of an installed snapshot from the next AppendEntries reply only",
		"Figure 13's reply carries only the term; matchIndex may wait for the next successful AppendEntries",
		[]patch{{"snapshot.go", "\tr.matchIndex[i] = max(r.matchIndex[i], m.LastIncludedIndex)\n", ""}}},
	{"a snapshot is sent at the next heartbeat, not at once after a refusal",
		"Figure 13 does not say when the leader sends InstallSnapshot, only that it does when a follower lags too far",
		[]patch{{"replication.go", "\t\tr.sendInstallSnapshot(i)\n\t\treturn\n", "\t\tif r.heartbeatElapsed == 0 {\n\t\t\tr.sendInstallSnapshot(i)\n\t\t}\n\t\treturn\n"}}},
}
