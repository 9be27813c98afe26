//go:build !unix

package credential

import "os/exec"

// ownProcessGroup leaves cmd as it is: without Unix process groups, the end
// of its context kills the command itself (exec.Cmd's default), not what
// it started.
func ownProcessGroup(*exec.Cmd) {}

// killProcessGroup has nothing to kill beyond the command, which Wait has
// reaped.
func killProcessGroup(*exec.Cmd) {}
