package solutions

// Broken variants of Figure 13's receiver, steps 6 and 7, joined to the
// mutants of mutants_test.go and built and graded the same way.

func init() {
	mutants = append(mutants, step6Mutants...)
	const installed = `#\d+ \S+ n\d deliver n\d->n\d InstallSnapshot term=\d+ last=\d+/\d+`
	reportWording[step6Mutants[0].name] = wording{rules: []string{"InstallSnapshot"},
		says: []string{"Figure 13, step 6", "same index and term as the snapshot's last included entry", "retain the log entries following it"}, event: installed}
	reportWording[step6Mutants[1].name] = wording{rules: []string{"InstallSnapshot"},
		says: []string{"Figure 13, steps 6 and 7", "discard the entire log"}, event: installed}
}

var step6Mutants = []mutant{
	{"an installed snapshot discards the whole log, even a suffix that follows a matching entry", 4, "InstallKeepsSuffix", []patch{{"snapshot.go",
		"\tr.compact(m.LastIncludedIndex, m.LastIncludedTerm, m.Data)\n\tr.persistSnapshot() // before the reply",
		"\tr.log = r.log[:0]\n\tr.compact(m.LastIncludedIndex, m.LastIncludedTerm, m.Data)\n\tr.persistSnapshot() // before the reply"}}},
	{"an installed snapshot keeps the entries after its last index without checking that entry's term", 4, "InstallDiscardsLog", []patch{{"snapshot.go",
		"if index <= r.lastLogIndex() && r.termAt(index) == term {",
		"if index <= r.lastLogIndex() {"}}},
}
