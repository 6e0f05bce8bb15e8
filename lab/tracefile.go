package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Failure traces are written where other users of the machine may also
// write (the system's temporary folder), under names anyone can guess (the
// test and its seed). So the folder is the user's own — created private
// (0700), refused if it is someone else's or a symbolic link — and a trace
// is opened without following a symbolic link planted in its place.

// DefaultTraceDir is the folder for failure traces when RAFTLAB_TRACES
// does not name one: raftlab-traces-<uid> in the system's temporary folder.
func DefaultTraceDir() string {
	return filepath.Join(os.TempDir(), "raftlab-traces-"+strconv.Itoa(os.Getuid()))
}

// CreateTraceFile creates (or empties) the file name in dir for writing a
// trace, making dir if need be, private to this user. It refuses a dir that
// is a symbolic link or belongs to another user, and a name that is a
// symbolic link.
func CreateTraceFile(dir, name string) (*os.File, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("lab: cannot make the trace folder: %w", err)
		}
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("lab: trace folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("lab: the trace folder %s is not a folder (a symbolic link?): remove it, or set RAFTLAB_TRACES to a folder of your own", dir)
	}
	if err := checkOwner(dir, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|oNoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab: cannot write the trace (a symbolic link in its place is refused): %w", err)
	}
	return f, nil
}
