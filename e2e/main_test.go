package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hostCmdEnv names another host implementation to test instead of
// building cmd/tokenhost.
const hostCmdEnv = "TOKENHOST_HOST_CMD"

// hostCmd is the command that starts the host under test, before `serve`.
var hostCmd []string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if v := strings.Fields(os.Getenv(hostCmdEnv)); len(v) > 0 {
		hostCmd = v
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "tokenhost-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "tokenhost")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/tokenhost/tokenhost/cmd/tokenhost")
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	hostCmd = []string{bin}
	return m.Run()
}
