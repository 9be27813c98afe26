package credential

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// maxExecStdout bounds what a command may print: more is an error.
	maxExecStdout = 64 << 10
	// maxExecStderr is how much of a command's stderr is kept; the rest is
	// discarded.
	maxExecStderr = 4 << 10
	// maxStderrLine bounds the stderr line quoted in an error, in runes.
	maxStderrLine = 200
	// defaultWaitDelay is the grace between SIGTERM and SIGKILL.
	defaultWaitDelay = 2 * time.Second
)

// ExecOptions configures [NewExecSource]. The zero value is the default.
type ExecOptions struct {
	// Name labels the source in errors; empty means the base name of the
	// program.
	Name string
	// Dir is the command's working directory; empty means tokenhost's.
	Dir string
	// Env is the command's whole environment, as "KEY=value" strings; nil
	// means tokenhost's own.
	Env []string
	// WaitDelay is how long a command whose context ended may take to exit
	// after SIGTERM before it and its process group get SIGKILL. Zero means
	// 2 seconds.
	WaitDelay time.Duration
}

// NewExecSource returns a [Source] that runs a command for every token:
// argv[0] with the arguments argv[1:], directly (no shell), with no standard
// input, in a process group of its own. opts may be nil.
//
// The command prints the token to standard output, either as text (surrounding
// whitespace is trimmed; the token has no ExpiresOn, so a [Cache] keeps it
// for the ttl it is given) or as a JSON object (output starting with "{"):
//
//	{"token": "...", "expiresOn": "2030-01-02T15:04:05Z"}
//	{"token": "...", "expires_in": 3600}
//
// where expiresOn is an RFC 3339 time, expires_in a number of seconds from
// now, both optional, expiresOn winning when both are given, and other
// fields are ignored.
//
// A program that does not exist is an error wrapping [ErrUnavailable]. A
// non-zero exit status, output of more than 64 KiB, no token, or ctx ending
// is an error that quotes the first line of the command's standard error
// (at most 200 characters, control characters replaced) and never its
// standard output. When ctx ends, the command's process group gets SIGTERM,
// then SIGKILL after [ExecOptions.WaitDelay]; when the command ends, what is
// left of its process group gets SIGKILL, so it leaves no process behind
// (save one that moved itself to another group or session).
func NewExecSource(argv []string, opts *ExecOptions) Source {
	s := &execSource{argv: argv, waitDelay: defaultWaitDelay, now: time.Now}
	if opts != nil {
		s.name, s.dir, s.env = opts.Name, opts.Dir, opts.Env
		if opts.WaitDelay > 0 {
			s.waitDelay = opts.WaitDelay
		}
	}
	if s.name == "" && len(argv) > 0 {
		s.name = filepath.Base(argv[0])
	}
	return s
}

type execSource struct {
	argv      []string
	name      string
	dir       string
	env       []string
	waitDelay time.Duration
	now       func() time.Time // time.Now but in tests; for expires_in
}

var _ Source = (*execSource)(nil)

func (s *execSource) Token(ctx context.Context) (Token, error) {
	if len(s.argv) == 0 || s.argv[0] == "" {
		return Token{}, fmt.Errorf("credential: exec source: no command given: %w", ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return Token{}, s.errorf(nil, "%w", err)
	}
	cmd := exec.CommandContext(ctx, s.argv[0], s.argv[1:]...)
	cmd.Dir, cmd.Env = s.dir, s.env
	stdout := &capBuffer{max: maxExecStdout}
	stderr := &capBuffer{max: maxExecStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = s.waitDelay
	ownProcessGroup(cmd)
	err := cmd.Start()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return Token{}, s.errorf(nil, "%w: %w", ErrUnavailable, err)
		}
		return Token{}, s.errorf(nil, "%w", err)
	}
	err = cmd.Wait()
	killProcessGroup(cmd)
	switch {
	case ctx.Err() != nil:
		return Token{}, s.errorf(stderr, "%w", ctx.Err())
	case err != nil:
		return Token{}, s.errorf(stderr, "%w", err)
	case stdout.over:
		return Token{}, s.errorf(stderr, "printed more than %d bytes", maxExecStdout)
	}
	return s.parse(stdout.buf.Bytes(), stderr)
}

// execOutput is the JSON form of a command's output.
type execOutput struct {
	Token     *string  `json:"token"`
	ExpiresOn *string  `json:"expiresOn"`
	ExpiresIn *float64 `json:"expires_in"`
}

// parse reads a token from the output of a command that succeeded. Its
// errors never show the output.
func (s *execSource) parse(out []byte, stderr *capBuffer) (Token, error) {
	out = bytes.TrimSpace(out)
	switch {
	case len(out) == 0:
		return Token{}, s.errorf(stderr, "printed no token")
	case out[0] != '{':
		return Token{Value: string(out)}, nil
	}
	var o execOutput
	if err := json.Unmarshal(out, &o); err != nil {
		// encoding/json's errors can quote the output: not wrapped.
		return Token{}, s.errorf(stderr, "printed output starting with \"{\" that is not a JSON object of the documented form")
	}
	if o.Token == nil || strings.TrimSpace(*o.Token) == "" {
		return Token{}, s.errorf(stderr, "printed JSON without a \"token\"")
	}
	tok := Token{Value: strings.TrimSpace(*o.Token)}
	switch {
	case o.ExpiresOn != nil:
		t, err := time.Parse(time.RFC3339, *o.ExpiresOn)
		if err != nil {
			return Token{}, s.errorf(stderr, "printed an \"expiresOn\" that is not an RFC 3339 time")
		}
		tok.ExpiresOn = t
	case o.ExpiresIn != nil:
		if *o.ExpiresIn <= 0 || *o.ExpiresIn > maxNumericDate {
			return Token{}, s.errorf(stderr, "printed an \"expires_in\" that is not a positive number of seconds")
		}
		tok.ExpiresOn = s.now().Add(time.Duration(*o.ExpiresIn * float64(time.Second)))
	}
	return tok, nil
}

// errorf returns an error of the source, followed by the first line of the
// command's stderr when there is one.
func (s *execSource) errorf(stderr *capBuffer, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	line := ""
	if stderr != nil {
		line = firstLine(stderr.buf.Bytes(), maxStderrLine)
	}
	if line == "" {
		return fmt.Errorf("credential: exec source %q: %w", s.name, err)
	}
	return fmt.Errorf("credential: exec source %q: %w: %s", s.name, err, line)
}

// capBuffer keeps the first max bytes written to it and notes whether more
// came. It never fails a write, so the command is never blocked on a full
// pipe.
type capBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.over = true
		b.buf.Write(p[:max(room, 0)])
	} else {
		b.buf.Write(p)
	}
	return len(p), nil
}

// firstLine returns the first non-blank line of b, trimmed, made valid
// UTF-8, with control characters replaced by U+FFFD, and cut to at most limit
// runes (an ellipsis marking the cut), so that it can be quoted in an error.
func firstLine(b []byte, limit int) string {
	var line []byte
	for l := range bytes.Lines(b) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			line = l
			break
		}
	}
	var sb strings.Builder
	n := 0
	for len(line) > 0 {
		r, size := utf8.DecodeRune(line)
		line = line[size:]
		if n == limit {
			sb.WriteRune('…')
			break
		}
		if unicode.IsControl(r) {
			r = utf8.RuneError
		}
		sb.WriteRune(r)
		n++
	}
	return sb.String()
}
