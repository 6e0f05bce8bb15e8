package main

import "syscall"

// serverProcAttr puts a server process in its own process group (Ctrl-C at
// the terminal reaches raftviz, which stops the servers in order) and has
// the kernel kill it if raftviz itself dies, even by kill -9.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
