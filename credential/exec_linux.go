package credential

import "syscall"

// procAttr starts a token command in a process group of its own and, on
// Linux, has the kernel kill it if tokenhost dies without stopping it
// (SIGKILL leaves no chance to): a hanging command never outlives the
// host. (The signal follows the thread that started the command; Go's
// runtime keeps such threads, so this holds in practice.)
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
