package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/e2e/internal/peer"
)

// bound is how long any one wait of the suite may take before the test
// fails: a guard against a hung host, not a timing assertion.
const bound = 2 * time.Minute

// session is the session id of the runtime-like requests.
const session = "3f0b6a8e-0000-4000-8000-e2e000000001"

// config is a host config; writeConfig turns it into a file.
type config struct {
	Timeout   string     `json:"timeout,omitempty"`
	Strict    bool       `json:"strict,omitempty"`
	Providers []provider `json:"providers"`
}

// provider is one entry of a config's providers. Wire holds the runtime's
// wire fields (type, baseUrl, ...), which serve must accept and ignore.
type provider struct {
	Name string
	Auth map[string]any
	Wire map[string]any
}

func (p provider) MarshalJSON() ([]byte, error) {
	m := map[string]any{"name": p.Name, "auth": p.Auth}
	for k, v := range p.Wire {
		m[k] = v
	}
	return json.Marshal(m)
}

func envAuth(name string) map[string]any { return map[string]any{"type": "env", "var": name} }

func fileAuth(path string) map[string]any { return map[string]any{"type": "file", "path": path} }

// execAuth runs one of testdata's scripts with args.
func execAuth(t *testing.T, script string, args ...string) map[string]any {
	return map[string]any{"type": "exec", "command": append([]string{"/bin/sh", testdata(t, script)}, args...)}
}

// catAuth is an exec source whose stdout is the content of the file at
// path, which appears in no argument.
func catAuth(path string) map[string]any {
	return map[string]any{"type": "exec", "command": []string{"/bin/cat", path}}
}

// testdata returns the absolute path of a file in testdata.
func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeConfig writes cfg as a config file with comments (which the host
// must accept) and returns its path.
func writeConfig(t *testing.T, cfg config) string {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	text := "// Written by the e2e suite for " + t.Name() + ".\n/* Comments are allowed. */\n" + string(b) + "\n"
	return writeFile(t, "config.jsonc", text)
}

// writeFile writes text to a new file in a test's temporary directory.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// hostEnv is the host's environment: a PATH, a HOME of its own, and vars
// ("NAME=value").
func hostEnv(t *testing.T, vars ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if raceEnabled {
		// A race-enabled host otherwise sleeps 1s before exiting.
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	return append(env, vars...)
}

// startHost starts `<host> serve --config cfgPath flags...` with env. The
// host is killed at the end of the test if it is still running, and its
// stderr is logged if the test failed.
func startHost(t *testing.T, cfgPath string, env []string, flags ...string) *peer.Host {
	t.Helper()
	argv := append(slices.Clone(hostCmd), "serve", "--config", cfgPath)
	argv = append(argv, flags...)
	h, err := peer.Start(argv, &peer.Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Kill()
		if t.Failed() {
			t.Logf("host stderr:\n%s", h.Stderr())
		}
	})
	return h
}

// bounded returns the test's context, ended after [bound].
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	t.Cleanup(cancel)
	return ctx
}

// endSession closes the host's stdin as the runtime does at its end, and
// checks that the host exits with status 0 having written nothing but
// answer frames.
func endSession(t *testing.T, h *peer.Host) {
	t.Helper()
	if err := h.CloseStdin(); err != nil {
		t.Errorf("closing the host's stdin: %v", err)
	}
	code, err := h.Wait(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Errorf("exit status after stdin closed = %d, want 0", code)
	}
	checkStdout(t, h)
}

// checkStdout reports every violation of the framing on the host's stdout
// and every answer with a null id no test step asked for.
func checkStdout(t *testing.T, h *peer.Host) {
	t.Helper()
	for _, v := range h.Violations() {
		t.Errorf("stdout: %s", v)
	}
	for _, r := range h.Strays() {
		t.Errorf("stdout: unexpected answer with a null id: %s", r.Raw)
	}
}

// getToken asks for a token and fails the test unless it is want.
func getToken(t *testing.T, h *peer.Host, provider, want string) {
	t.Helper()
	got, err := h.GetToken(bounded(t), session, provider)
	if err != nil || got != want {
		t.Errorf("getToken(%q) = %q, %v; want %q", provider, got, err, want)
	}
}

// wantError checks that resp is an error answer with code whose message
// contains every one of parts, and returns the error.
func wantError(t *testing.T, resp *peer.Response, code int64, parts ...string) *peer.Error {
	t.Helper()
	if resp.Error == nil {
		t.Errorf("answer = %s, want an error with code %d", resp.Raw, code)
		return &peer.Error{}
	}
	if resp.Error.Code != code {
		t.Errorf("error code = %d (%q), want %d", resp.Error.Code, resp.Error.Message, code)
	}
	for _, p := range parts {
		if !strings.Contains(resp.Error.Message, p) {
			t.Errorf("error message %q does not contain %q", resp.Error.Message, p)
		}
	}
	return resp.Error
}

// wait waits for c's answer, failing the test if none comes.
func wait(t *testing.T, c *peer.Call) *peer.Response {
	t.Helper()
	resp, err := c.Wait(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// goToken sends a getToken request, failing the test if it cannot.
func goToken(t *testing.T, h *peer.Host, provider string) *peer.Call {
	t.Helper()
	c, err := h.GoToken(session, provider)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// firstAnswer waits for whichever comes first: the answer to c, or an
// answer with a null id.
func firstAnswer(t *testing.T, h *peer.Host, c *peer.Call) *peer.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(bounded(t))
	defer cancel()
	go func() {
		select {
		case <-c.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	resp, err := h.NextStray(ctx)
	if err == nil {
		return resp
	}
	if r := c.Response(); r != nil {
		return r
	}
	if errors.Is(err, context.Canceled) {
		err = context.Cause(ctx)
	}
	t.Fatalf("no answer to request %d nor with a null id: %v", c.ID, err)
	return nil
}
