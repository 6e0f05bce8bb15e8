//go:build unix

package lab

import (
	"fmt"
	"os"
	"syscall"
)

const oNoFollow = syscall.O_NOFOLLOW

// checkOwner refuses a folder that belongs to another user.
func checkOwner(dir string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("lab: the trace folder %s belongs to user %d, not to you (%d): remove it, or set RAFTLAB_TRACES to a folder of your own", dir, st.Uid, uid)
	}
	return nil
}
