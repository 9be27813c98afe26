package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// runtimeArgs are the arguments [Start] runs the runtime with: no
// terminal UI, no self-update, JSON-RPC on stdio.
var runtimeArgs = []string{"--headless", "--no-auto-update", "--stdio"}

// waitDelay bounds how long reaping waits for the runtime's stderr to close
// after it has exited (a grandchild may hold it open).
const waitDelay = 2 * time.Second

// Start spawns the Copilot runtime (`copilot --headless --no-auto-update
// --stdio`, the program found as [ClientOptions.Path] says) in its own
// process group, connects to it over its stdio, sends connect and checks
// the protocol version.
//
// ctx bounds the runtime's life, as with [exec.CommandContext]: when it
// ends, the runtime's process group is killed and its sessions end. Close
// the [Client] to shut it down politely; the child is reaped on every path.
func Start(ctx context.Context, opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.getenv == nil {
		o.getenv = os.Getenv
	}
	if o.lookPath == nil {
		o.lookPath = exec.LookPath
	}
	path, err := runtimePath(&o)
	if err != nil {
		return nil, err
	}
	p, rwc, err := spawn(path, &o)
	if err != nil {
		return nil, err
	}
	c := newClient(rwc, p, &o)
	stop := context.AfterFunc(ctx, p.kill)
	go func() {
		<-c.done
		stop()
	}()
	if err := c.handshake(ctx); err != nil {
		c.Close()
		if cause := c.Err(); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		return nil, err
	}
	return c, nil
}

// runtimePath finds the runtime program.
func runtimePath(o *ClientOptions) (string, error) {
	if o.Path != "" {
		return o.Path, nil
	}
	if p := o.getenv("COPILOT_CLI_PATH"); p != "" {
		return p, nil
	}
	p, err := o.lookPath("copilot")
	if err != nil {
		return "", fmt.Errorf("session: the Copilot runtime was not found: set COPILOT_CLI_PATH or put copilot on PATH: %w", err)
	}
	return p, nil
}

// process is a spawned runtime.
type process struct {
	cmd    *exec.Cmd
	stderr *tail
	exited chan struct{} // closed once the process is reaped
	err    error         // cmd.Wait's error, once exited is closed
	killed bool          // set by kill, read after exited

	mu sync.Mutex
}

// spawn starts the runtime with its stdio on pipes the caller owns: the
// process can be reaped whatever state the connection is in.
func spawn(path string, o *ClientOptions) (*process, io.ReadWriteCloser, error) {
	cmd := exec.Command(path, runtimeArgs...)
	cmd.Dir = o.Dir
	cmd.Env = os.Environ()
	if o.Home != "" {
		cmd.Env = append(cmd.Env, "HOME="+o.Home)
	}
	cmd.Env = append(cmd.Env, o.Env...)
	t := &tail{}
	cmd.Stderr = t
	if o.Stderr != nil {
		cmd.Stderr = io.MultiWriter(o.Stderr, t)
	}
	cmd.WaitDelay = waitDelay
	ownProcessGroup(cmd)

	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("session: starting the runtime: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, nil, fmt.Errorf("session: starting the runtime: %w", err)
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, nil, fmt.Errorf("session: starting the runtime %s: %w", path, err)
	}
	p := &process{cmd: cmd, stderr: t, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, pipes{outR, inW}, nil
}

// kill kills the runtime's process group, unless it has been reaped.
func (p *process) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.exited:
		return
	default:
	}
	p.killed = true
	killProcessGroup(p.cmd)
}

// waitOrKill waits up to grace for the runtime to exit, then kills it, and
// returns once it is reaped.
func (p *process) waitOrKill(grace time.Duration) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		return
	case <-t.C:
	}
	p.kill()
	<-p.exited
}

// exitError describes how the reaped runtime exited; nil when it was
// killed by this package.
func (p *process) exitError() error {
	<-p.exited
	p.mu.Lock()
	killed := p.killed
	p.mu.Unlock()
	if killed {
		return errors.New("session: the runtime was killed")
	}
	msg := "exited"
	if p.err != nil {
		msg = p.err.Error()
	}
	if line := p.stderr.lastLine(); line != "" {
		return fmt.Errorf("session: the runtime ended: %s: %s", msg, line)
	}
	return fmt.Errorf("session: the runtime ended: %s", msg)
}

// pipes is the runtime's stdout (to read) and stdin (to write) as one
// stream.
type pipes struct {
	r *os.File
	w *os.File
}

func (p pipes) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p pipes) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipes) Close() error                { return errors.Join(p.w.Close(), p.r.Close()) }

// tail keeps the end of the runtime's stderr, for the error that reports
// its exit.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4096

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(b), nil
}

// lastLine returns the last non-empty line written, clipped.
func (t *tail) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := bytes.Split(bytes.TrimSpace(t.buf), []byte("\n"))
	line := strings.TrimSpace(string(lines[len(lines)-1]))
	if len(line) > 200 {
		line = line[:200] + " …"
	}
	return line
}
