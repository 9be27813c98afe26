//go:build unix && !linux

package credential

import "syscall"

// procAttr starts a token command in a process group of its own.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
