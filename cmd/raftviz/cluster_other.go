//go:build !linux

package main

import "syscall"

// serverProcAttr: elsewhere than Linux the servers share raftviz's process
// group, so Ctrl-C at the terminal reaches them too.
func serverProcAttr() *syscall.SysProcAttr { return nil }
