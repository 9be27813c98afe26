//go:build unix

package peer

import (
	"os/exec"
	"syscall"
)

// setProcessGroup makes the host lead a process group of its own, so that
// killProcessGroup also reaches the programs it started.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup kills the group led by the host started by cmd.
func killProcessGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
