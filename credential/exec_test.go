package credential

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script writes an executable shell script with the given body to a
// temporary directory and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "helper")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExecSourceOutput(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		body string
		want Token
	}{{
		name: "plain text",
		body: `echo "  secret-1  "`,
		want: Token{Value: "secret-1"},
	}, {
		name: "plain text that is a JWT: no expiry read",
		body: `echo ` + jwt(`{"exp":1900000000}`),
		want: Token{Value: jwt(`{"exp":1900000000}`)},
	}, {
		name: "JSON with expiresOn",
		body: `echo '{"token":"secret-1","expiresOn":"2030-01-02T04:04:05+01:00","other":1}'`,
		want: Token{Value: "secret-1", ExpiresOn: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
	}, {
		name: "JSON with fractional seconds",
		body: `echo '{"token":"secret-1","expiresOn":"2030-01-02T03:04:05.5Z"}'`,
		want: Token{Value: "secret-1", ExpiresOn: time.Date(2030, 1, 2, 3, 4, 5, 5e8, time.UTC)},
	}, {
		name: "JSON with expires_in",
		body: `echo '{"token":"secret-1","expires_in":3600}'`,
		want: Token{Value: "secret-1", ExpiresOn: now.Add(time.Hour)},
	}, {
		name: "JSON with both: expiresOn wins",
		body: `echo '{"token":"secret-1","expires_in":60,"expiresOn":"2031-01-01T00:00:00Z"}'`,
		want: Token{Value: "secret-1", ExpiresOn: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)},
	}, {
		name: "JSON without expiry",
		body: `echo '{"token":" secret-1 "}'`,
		want: Token{Value: "secret-1"},
	}, {
		name: "stderr is ignored on success",
		body: `echo noise >&2; echo secret-1`,
		want: Token{Value: "secret-1"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewExecSource([]string{script(t, tt.body)}, nil).(*execSource)
			s.now = func() time.Time { return now }
			got, err := s.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got.Value != tt.want.Value || !got.ExpiresOn.Equal(tt.want.ExpiresOn) {
				t.Errorf("got (%q, %v), want (%q, %v)", got.Value, got.ExpiresOn, tt.want.Value, tt.want.ExpiresOn)
			}
		})
	}
}

func TestExecSourceArgsEnvDir(t *testing.T) {
	dir := t.TempDir()
	path := script(t, `printf '%s-%s-%s' "$1" "$TOKENHOST_X" "$(basename "$PWD")"`)
	s := NewExecSource([]string{path, "a b"}, &ExecOptions{Env: []string{"TOKENHOST_X=x"}, Dir: dir})
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// "a b" stays one argument: no shell splits it. A space is fine in
	// what a source returns; the cache is what refuses to serve it.
	if want := "a b-x-" + filepath.Base(dir); tok.Value != want {
		t.Errorf("got %q, want %q", tok.Value, want)
	}
}

func TestExecSourceErrors(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct {
		name string
		body string
		want string // the error, after `credential: exec source "helper": `
	}{{
		name: "exit status with stderr",
		body: `echo secret-stdout; echo "first line" >&2; echo "second line" >&2; exit 3`,
		want: "exit status 3: first line",
	}, {
		name: "exit status without stderr",
		body: `echo secret-stdout; exit 4`,
		want: "exit status 4",
	}, {
		name: "blank lines before stderr's first",
		body: `printf '\n  \n  az: not logged in\r\nmore\n' >&2; exit 1`,
		want: "exit status 1: az: not logged in",
	}, {
		name: "control characters in stderr",
		body: `printf 'bad\033[31mred\a\n' >&2; exit 1`,
		want: "exit status 1: bad\uFFFD[31mred\uFFFD",
	}, {
		name: "long stderr line",
		body: `echo "` + long + `" >&2; exit 1`,
		want: "exit status 1: " + strings.Repeat("é", 200) + "…",
	}, {
		name: "invalid UTF-8 in stderr",
		body: `printf 'a\377b\n' >&2; exit 1`,
		want: "exit status 1: a\uFFFDb",
	}, {
		name: "killed by a signal",
		body: `kill -9 $$`,
		want: "signal: killed",
	}, {
		name: "no output",
		body: `echo "nothing to say" >&2`,
		want: "printed no token: nothing to say",
	}, {
		name: "blank output",
		body: `printf ' \n\n'`,
		want: "printed no token",
	}, {
		name: "too much output",
		body: `echo secret-stdout; head -c 70000 /dev/zero | tr '\0' s`,
		want: "printed more than 65536 bytes",
	}, {
		name: "bad JSON",
		body: `echo '{"token": "secret-stdout"'`,
		want: `printed output starting with "{" that is not a JSON object of the documented form`,
	}, {
		name: "JSON without token",
		body: `echo '{"access_token": "secret-stdout"}'`,
		want: `printed JSON without a "token"`,
	}, {
		name: "JSON with a token of the wrong type",
		body: `echo '{"token": ["secret-stdout"]}'`,
		want: `printed output starting with "{" that is not a JSON object of the documented form`,
	}, {
		name: "bad expiresOn",
		body: `echo '{"token": "secret-stdout", "expiresOn": "secret-stdout"}'`,
		want: `printed an "expiresOn" that is not an RFC 3339 time`,
	}, {
		name: "bad expires_in",
		body: `echo '{"token": "secret-stdout", "expires_in": -5}'`,
		want: `printed an "expires_in" that is not a positive number of seconds`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewExecSource([]string{script(t, tt.body)}, nil).Token(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if want := `credential: exec source "helper": ` + tt.want; err.Error() != want {
				t.Errorf("got error\n%q\nwant\n%q", err, want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows stdout: %v", err)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Error("a command that ran is not unavailable")
			}
		})
	}
}

func TestExecSourceUnavailable(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"not on PATH", []string{"tokenhost-no-such-helper"}, `"tokenhost-no-such-helper": executable file not found`},
		{"no such file", []string{filepath.Join(t.TempDir(), "nope")}, "no such file or directory"},
		{"no command", nil, "no command given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewExecSource(tt.argv, nil).Token(context.Background())
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error wrapping ErrUnavailable saying %q", err, tt.want)
			}
		})
	}
}

func TestExecSourceName(t *testing.T) {
	_, err := NewExecSource([]string{script(t, "exit 1")}, &ExecOptions{Name: "red"}).Token(context.Background())
	if want := `credential: exec source "red": exit status 1`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// TestExecSourceKillsProcessGroup runs a helper that ignores SIGTERM and
// leaves a child (which ignores it too) holding the write end of a FIFO;
// the test holds the read end, which reaches EOF only when every writer has
// died. Were the group not killed, the read would not end.
func TestExecSourceKillsProcessGroup(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{{
		name: "helper and child ignore SIGTERM",
		body: `trap '' TERM
exec 3>"$1"
sleep 1000 &
echo "secret-stdout"
echo ready >&3
wait`,
	}, {
		name: "helper exits on SIGTERM, child ignores it",
		body: `exec 3>"$1"
(trap '' TERM; exec sleep 1000) &
echo ready >&3
wait`,
	}, {
		name: "helper succeeds, leaving a child behind",
		body: `exec 3>"$1"
sleep 1000 >/dev/null 2>&1 &
echo ready >&3
echo secret-1`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			s := NewExecSource([]string{script(t, tt.body), fifo}, &ExecOptions{WaitDelay: 10 * time.Millisecond})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errs := make(chan error, 1)
			go func() {
				_, err := s.Token(ctx)
				errs <- err
			}()
			r, err := os.Open(fifo) // blocks until the helper opens it
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			br := bufio.NewReader(r)
			if line, err := br.ReadString('\n'); line != "ready\n" {
				t.Fatalf("read %q, %v from the helper", line, err)
			}
			if strings.Contains(tt.name, "succeeds") {
				err = <-errs // the helper's read got EOF at once: no other reader
			} else {
				cancel()
				err = <-errs
				if !errors.Is(err, context.Canceled) {
					t.Errorf("got %v, want %v", err, context.Canceled)
				}
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows stdout: %v", err)
			}
			// EOF: no process of the group is left holding the FIFO. The
			// deadline is a watchdog, so that a survivor fails the test
			// instead of hanging it: EOF comes in milliseconds.
			if err := r.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, err := br.ReadString('\n'); !errors.Is(err, io.EOF) {
				t.Errorf("reading the FIFO after the helper ended: got %v, want EOF: a process of its group survived", err)
			}
		})
	}
}
