package lab

import (
	"io/fs"

	"github.com/raftlab/raftlab/raft"
)

// Implementation is a Raft implementation the lab can run and grade.
type Implementation struct {
	// Name is how commands name it: "solutions", "exercises".
	Name string
	New  raft.Constructor
	// Dir is the package's folder from the module root, for messages.
	Dir string
	// Source, if set, holds the package's Go files; the suite reads them to
	// find the TODO stubs still in place (see Stubs).
	Source fs.FS
	// Shipped lists, by stage, the functions shipped as TODO stubs. A stage
	// whose shipped stubs all still call todo is not started, and its tests
	// are skipped.
	Shipped map[int][]string
}
