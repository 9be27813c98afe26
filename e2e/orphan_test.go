package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tokenhost/tokenhost/e2e/internal/peer"
	"golang.org/x/sys/unix"
)

// TestNoOrphanTokenCommand: a token command that hangs does not outlive the
// host, however the host ends: its input closing, SIGTERM, or SIGKILL (which
// gives it no chance to clean up: the kernel kills the command).
func TestNoOrphanTokenCommand(t *testing.T) {
	tests := []struct {
		name string
		end  func(h *peer.Host) error
	}{
		{"stdin closed", func(h *peer.Host) error { return h.CloseStdin() }},
		{"SIGTERM", func(h *peer.Host) error { return h.Signal(syscall.SIGTERM) }},
		{"SIGKILL", func(h *peer.Host) error { return h.Signal(syscall.SIGKILL) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fifo := filepath.Join(t.TempDir(), "pid")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := writeConfig(t, config{Timeout: "10m", Providers: []provider{
				{Name: "default", Auth: execAuth(t, "hang-pid.sh", fifo)},
			}})
			h := startHost(t, cfg, hostEnv(t))
			goToken(t, h, "default")
			pid := readPID(t, fifo)
			pidfd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				t.Fatalf("pidfd_open(%d): %v", pid, err)
			}
			defer unix.Close(pidfd)

			if err := tt.end(h); err != nil {
				t.Fatal(err)
			}
			// A pidfd becomes readable when its process ends; the bound is a
			// guard against a hang, not a timing.
			fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
			n, err := unix.Poll(fds, int(bound.Milliseconds()))
			for err == unix.EINTR { // a signal to the test process, not an answer
				n, err = unix.Poll(fds, int(bound.Milliseconds()))
			}
			if err != nil || n != 1 {
				t.Fatalf("the token command (pid %d) outlived the host: poll = %d, %v", pid, n, err)
			}
		})
	}
}

// readPID reads the process id a hang-pid.sh writes to fifo.
func readPID(t *testing.T, fifo string) int {
	t.Helper()
	b, err := os.ReadFile(fifo) // blocks until the script has written
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid %q: %v", b, err)
	}
	return pid
}
