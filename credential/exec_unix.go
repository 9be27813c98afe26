//go:build unix

package credential

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup makes cmd start in a process group of its own, and makes
// the end of its context send SIGTERM to that whole group. After
// cmd.WaitDelay, exec.Cmd kills the leader; killProcessGroup then kills the
// rest.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
}

// killProcessGroup sends SIGKILL to what is left of cmd's process group
// once cmd has been waited for. The group's id cannot be reused while any
// member is alive; when none is, the kill finds nothing (ESRCH, ignored),
// unless in the moment since Wait a new process took that id and made
// itself a group leader, a risk every group-killing supervisor takes.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
