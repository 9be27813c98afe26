//go:build !unix

package session

import "os/exec"

func ownProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the runtime; without process groups, what it
// started may outlive it.
func killProcessGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
