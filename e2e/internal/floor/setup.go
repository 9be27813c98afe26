package floor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/rpc"
	"github.com/tokenhost/tokenhost/session"
)

// SessionID is the session of the requests the benchmarks send.
const SessionID = "3f0b6a8e-0000-4000-8000-0000000be4c4"

// HitToken is the token of the cache-hit configurations: an exec source
// that prints it with an expiry far ahead, so after the first call every
// call is a cache hit.
const HitToken = "bench-cache-hit-token"

// farExpiry is an expiry no benchmark outlives.
const farExpiry = "2099-01-01T00:00:00Z"

// Setup is what the measurements need on disk: the floor host built into a
// temporary directory, the host under test, and their configurations.
type Setup struct {
	// Dir is the temporary directory; [Setup.Close] removes it.
	Dir string
	// Floor is the floor host's command line.
	Floor []string
	// Host is the host under test's program (tokenhost).
	Host string
}

// NewSetup builds the floor host (and tokenhost when host is empty) into a
// new temporary directory. Run it from within the module.
func NewSetup(host string) (*Setup, error) {
	dir, err := os.MkdirTemp("", "tokenhost-bench-")
	if err != nil {
		return nil, err
	}
	s := &Setup{Dir: dir, Floor: []string{filepath.Join(dir, "floorhost")}, Host: host}
	if err := gobuild(s.Floor[0], "github.com/tokenhost/tokenhost/e2e/internal/floor/floorhost"); err != nil {
		s.Close()
		return nil, err
	}
	if s.Host == "" {
		s.Host = filepath.Join(dir, "tokenhost")
		if err := gobuild(s.Host, "github.com/tokenhost/tokenhost/cmd/tokenhost"); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func gobuild(out, pkg string) error {
	b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput()
	if err != nil {
		return fmt.Errorf("floor: go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// Close removes the temporary directory.
func (s *Setup) Close() { os.RemoveAll(s.Dir) }

// Env is the environment hosts run with: PATH, a HOME of the setup's own,
// and vars.
func (s *Setup) Env(vars ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.Dir}, vars...)
}

// writeConfig writes a config of providers (name to auth block) and
// returns the `tokenhost serve` command line that uses it.
func (s *Setup) writeConfig(name string, auths map[string]any) ([]string, error) {
	var providers []map[string]any
	for n, a := range auths {
		providers = append(providers, map[string]any{"name": n, "auth": a})
	}
	b, err := json.Marshal(map[string]any{"providers": providers})
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.Dir, name+".json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	return []string{s.Host, "serve", "--config", path, "--log-level", "warn"}, nil
}

// CacheHit returns the command line of a host whose "default" provider is
// an exec source that prints [HitToken] with an expiry decades ahead, and
// the request to send it: after the first call every call is a cache hit.
func (s *Setup) CacheHit() ([]string, Request, error) {
	out := `{"token":"` + HitToken + `","expiresOn":"` + farExpiry + `"}`
	argv, err := s.writeConfig("cache-hit", map[string]any{
		"default": map[string]any{"type": "exec", "command": []string{"/bin/sh", "-c", `printf '%s' "$1"`, "sh", out}},
	})
	return argv, Request{SessionID: SessionID, ProviderName: "default", Want: HitToken}, err
}

// StartUp returns the command line of a host whose "default" provider is
// an environment variable with a ttl, the variable, and the request.
func (s *Setup) StartUp() ([]string, []string, Request, error) {
	argv, err := s.writeConfig("start-up", map[string]any{
		"default": map[string]any{"type": "env", "var": "BENCH_TOKEN", "ttl": "1h"},
	})
	return argv, []string{"BENCH_TOKEN=" + HitToken}, Request{SessionID: SessionID, ProviderName: "default", Want: HitToken}, err
}

// ColdBurst returns the command line of a host whose "default" provider is
// an exec source that appends a line to a counter file on every run and
// prints a token with a far expiry, the counter file's path, and the
// request.
func (s *Setup) ColdBurst() ([]string, string, Request, error) {
	counter := filepath.Join(s.Dir, "burst-acquisitions")
	out := `{"token":"bench-burst-token","expiresOn":"` + farExpiry + `"}`
	argv, err := s.writeConfig("cold-burst", map[string]any{
		"default": map[string]any{"type": "exec", "command": []string{"/bin/sh", "-c", `echo run >> "$1"; printf '%s' "$2"`, "sh", counter, out}},
	})
	return argv, counter, Request{SessionID: SessionID, ProviderName: "default", Want: "bench-burst-token"}, err
}

// Lines counts the lines of a file, zero when it does not exist.
func Lines(path string) (int, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	return strings.Count(string(b), "\n"), err
}

// InProcess is a host served in this process over a pair of pipes, with a
// [Driver] on the other end.
type InProcess struct {
	*Driver
	close func()
}

// Close ends the host and waits for it.
func (p *InProcess) Close() { p.close() }

// pipes returns the host's end and the driver's end of two os pipes.
func pipes() (hostR, driverR *os.File, hostW, driverW *os.File, err error) {
	hostR, driverW, err = os.Pipe()
	if err != nil {
		return
	}
	driverR, hostW, err = os.Pipe()
	return
}

// FloorInProcess serves [Serve] over pipes in this process.
func FloorInProcess() (*InProcess, error) {
	hr, dr, hw, dw, err := pipes()
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = Serve(hr, hw)
		hw.Close()
	}()
	return &InProcess{
		Driver: NewDriver(dw, dr, Request{SessionID: SessionID, ProviderName: "default", Want: Token}),
		close:  func() { dw.Close(); <-done; hr.Close(); dr.Close() },
	}, nil
}

// EmbeddedInProcess mounts a [session.Dispatcher] on an [rpc.Conn] over
// pipes, as a Go program embedding tokenhost does on its connection to the
// runtime, with a "default" provider served from a [credential.Cache]
// holding a token with a far expiry.
func EmbeddedInProcess() (*InProcess, error) {
	hr, dr, hw, dw, err := pipes()
	if err != nil {
		return nil, err
	}
	exp, _ := time.Parse(time.RFC3339, farExpiry)
	cache := credential.NewCache(nil)
	src := cache.Source("bench", credential.SourceFunc(func(context.Context) (credential.Token, error) {
		return credential.Token{Value: HitToken, ExpiresOn: exp}, nil
	}), 0)
	d := session.NewDispatcher(nil)
	d.RegisterSource(session.AnySession, session.DefaultProvider, src)
	mux := rpc.NewMux()
	d.Mount(mux)
	conn := rpc.NewConn(context.Background(), rwc{hr, hw}, mux, &rpc.Options{Logger: discard})
	return &InProcess{
		Driver: NewDriver(dw, dr, Request{SessionID: SessionID, ProviderName: "default", Want: HitToken}),
		close:  func() { dw.Close(); conn.Wait(); hw.Close(); dr.Close() },
	}, nil
}

type rwc struct {
	io.Reader
	io.WriteCloser
}

func (c rwc) Close() error {
	if cl, ok := c.Reader.(io.Closer); ok {
		cl.Close()
	}
	return nil
}

// Allocs returns the heap allocations made by f, per call of n.
func Allocs(n int, f func()) float64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return float64(b.Mallocs-a.Mallocs) / float64(n)
}
