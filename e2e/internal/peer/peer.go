package peer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"sync"
	"sync/atomic"
)

// MethodGetToken is the runtime's request for a provider's bearer token.
const MethodGetToken = "providerToken.getToken"

// methodCancelRequest is the notification that cancels a pending request.
const methodCancelRequest = "$/cancelRequest"

// Error is a JSON-RPC error object as the host sent it.
type Error struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("jsonrpc error %d: %s", e.Code, e.Message) }

// Response is one answer read from the host's stdout.
type Response struct {
	// ID is the answer's id; nil when the host answered with id null (a
	// frame it could not read).
	ID *int64
	// Result is the raw result of a successful answer, nil otherwise.
	Result json.RawMessage
	// Error is the error of a failed answer, nil otherwise.
	Error *Error
	// Seq numbers the answers in the order they arrived, from 1, so tests
	// can assert order without looking at a clock.
	Seq int
	// Raw is the frame's body.
	Raw []byte
}

// Token decodes a providerToken.getToken answer: the token, or the answer's
// *[Error], or an error when the result is not {"token": string}.
func (r *Response) Token() (string, error) {
	if r.Error != nil {
		return "", r.Error
	}
	var res struct {
		Token *string `json:"token"`
	}
	if err := json.Unmarshal(r.Result, &res); err != nil || res.Token == nil {
		return "", fmt.Errorf("peer: getToken result is not {\"token\": string}: %s", clip(r.Result, 80))
	}
	return *res.Token, nil
}

// TokenParams are providerToken.getToken's params.
type TokenParams struct {
	SessionID    string `json:"sessionId"`
	ProviderName string `json:"providerName"`
}

// Call is a request awaiting its answer.
type Call struct {
	// ID is the request's id.
	ID    int64
	done  chan struct{}
	ended <-chan struct{} // the host's stdout ended: no answer can come
	resp  *Response
}

// Done is closed when the answer has arrived.
func (c *Call) Done() <-chan struct{} { return c.done }

// Response returns the answer, or nil while [Call.Done] is open.
func (c *Call) Response() *Response {
	select {
	case <-c.done:
		return c.resp
	default:
		return nil
	}
}

// Wait waits for the answer, and fails when ctx ends or the host's stdout
// ends without it.
func (c *Call) Wait(ctx context.Context) (*Response, error) {
	select {
	case <-c.done:
		return c.resp, nil
	case <-c.ended:
		if r := c.Response(); r != nil {
			return r, nil
		}
		return nil, fmt.Errorf("peer: the host's stdout ended without an answer to request %d", c.ID)
	case <-ctx.Done():
		return nil, fmt.Errorf("peer: no answer to request %d: %w", c.ID, context.Cause(ctx))
	}
}

// Options configures [Start]. A nil *Options means the defaults.
type Options struct {
	// Env is the host's environment; nil means this process's.
	Env []string
	// Dir is the host's working directory; empty means this process's.
	Dir string
	// Stderr, when set, receives a copy of the host's stderr as it is
	// written ([Host.Stderr] keeps it all regardless).
	Stderr io.Writer
}

// Host is a running token host and the runtime's end of its stdio.
type Host struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	wmu    sync.Mutex // serializes writes to stdin
	lastID atomic.Int64

	mu         sync.Mutex
	pending    map[int64]*Call
	strays     []*Response
	strayReady chan struct{} // closed and replaced when a stray arrives
	seq        int
	violations []string

	stderr     lockedBuffer
	stdoutDone chan struct{}
	stderrDone chan struct{}
	exited     chan struct{}
	killOnce   sync.Once
}

// Start runs argv as a token host with its stdin and stdout connected to
// the returned [Host]. The caller must end it: [Host.CloseStdin] and
// [Host.Wait], or [Host.Kill].
func Start(argv []string, opts *Options) (*Host, error) {
	if len(argv) == 0 {
		return nil, errors.New("peer: no host command")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = o.Env, o.Dir
	setProcessGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	// Our own pipes, not cmd.StdoutPipe, so that waiting for the process
	// does not wait for (or cut short) reading what it wrote.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("peer: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("peer: start %s: %w", argv[0], err)
	}
	h := &Host{
		cmd:        cmd,
		stdin:      stdin,
		pending:    map[int64]*Call{},
		strayReady: make(chan struct{}),
		stdoutDone: make(chan struct{}),
		stderrDone: make(chan struct{}),
		exited:     make(chan struct{}),
	}
	go h.readStdout(outR)
	go func() {
		defer close(h.stderrDone)
		defer errR.Close()
		var w io.Writer = &h.stderr
		if o.Stderr != nil {
			w = io.MultiWriter(&h.stderr, o.Stderr)
		}
		_, _ = io.Copy(w, errR)
	}()
	go func() {
		_ = cmd.Wait() // the status is read from cmd.ProcessState
		close(h.exited)
	}()
	return h, nil
}

// readStdout reads answers until stdout ends, routing each to its [Call].
func (h *Host) readStdout(r io.ReadCloser) {
	defer close(h.stdoutDone)
	defer r.Close()
	br := bufio.NewReaderSize(r, maxHeaderLine)
	for {
		body, err := readFrame(br)
		if err == io.EOF {
			return
		}
		var v *violation
		if err != nil && !errors.As(err, &v) {
			h.violate(fmt.Sprintf("reading stdout: %v", err))
			return
		}
		if v != nil {
			rest, _ := io.ReadAll(br)
			h.violate(fmt.Sprintf("%v; %d more bytes on stdout were not read as frames", v, len(rest)))
			return
		}
		resp, err := parseAnswer(body)
		if err != nil {
			h.violate(err.Error())
			continue
		}
		h.deliver(resp)
	}
}

func (h *Host) deliver(resp *Response) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	resp.Seq = h.seq
	if resp.ID == nil {
		h.strays = append(h.strays, resp)
		close(h.strayReady)
		h.strayReady = make(chan struct{})
		return
	}
	c := h.pending[*resp.ID]
	if c == nil {
		h.violations = append(h.violations, fmt.Sprintf("answer to id %d, which is not awaiting an answer (never sent, or answered already): %s", *resp.ID, clip(resp.Raw, 200)))
		return
	}
	delete(h.pending, *resp.ID)
	c.resp = resp
	close(c.done)
}

func (h *Host) violate(msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.violations = append(h.violations, msg)
}

// Reserve takes the next request id and awaits an answer to it, without
// sending anything: for a request the caller writes itself with
// [Host.WriteFrame] or [Host.WriteRaw].
func (h *Host) Reserve() *Call {
	c := &Call{ID: h.lastID.Add(1), done: make(chan struct{}), ended: h.stdoutDone}
	h.mu.Lock()
	h.pending[c.ID] = c
	h.mu.Unlock()
	return c
}

// Go sends a request and returns at once; the answer arrives on the
// returned [Call]. params is marshalled as JSON; nil params are left out.
func (h *Host) Go(method string, params any) (*Call, error) {
	msg := map[string]any{"jsonrpc": "2.0", "method": method}
	if params != nil {
		msg["params"] = params
	}
	c := h.Reserve()
	msg["id"] = c.ID
	body, err := json.Marshal(msg)
	if err == nil {
		err = h.WriteFrame(body)
	}
	if err != nil {
		h.mu.Lock()
		delete(h.pending, c.ID)
		h.mu.Unlock()
		return nil, err
	}
	return c, nil
}

// Call sends a request and waits for its answer or for ctx to end.
func (h *Host) Call(ctx context.Context, method string, params any) (*Response, error) {
	c, err := h.Go(method, params)
	if err != nil {
		return nil, err
	}
	return c.Wait(ctx)
}

// GoToken sends providerToken.getToken for the session and provider.
func (h *Host) GoToken(sessionID, providerName string) (*Call, error) {
	return h.Go(MethodGetToken, TokenParams{SessionID: sessionID, ProviderName: providerName})
}

// GetToken asks for a token and waits for it. An error answer is returned
// as *[Error].
func (h *Host) GetToken(ctx context.Context, sessionID, providerName string) (string, error) {
	resp, err := h.Call(ctx, MethodGetToken, TokenParams{SessionID: sessionID, ProviderName: providerName})
	if err != nil {
		return "", err
	}
	return resp.Token()
}

// Notify sends a notification (a message without an id).
func (h *Host) Notify(method string, params any) error {
	msg := map[string]any{"jsonrpc": "2.0", "method": method}
	if params != nil {
		msg["params"] = params
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	return h.WriteFrame(body)
}

// Cancel sends $/cancelRequest for the request id.
func (h *Host) Cancel(id int64) error {
	return h.Notify(methodCancelRequest, map[string]int64{"id": id})
}

// WriteFrame writes body to the host in a Content-Length frame, as it is:
// it need not be JSON.
func (h *Host) WriteFrame(body []byte) error { return h.WriteRaw(Frame(body)) }

// WriteRaw writes b to the host's stdin as it is.
func (h *Host) WriteRaw(b []byte) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if _, err := h.stdin.Write(b); err != nil {
		select {
		case <-h.exited:
			return fmt.Errorf("peer: writing to the host: it has exited (%s): %w", h.cmd.ProcessState, err)
		default:
		}
		return fmt.Errorf("peer: writing to the host: %w", err)
	}
	return nil
}

// NextStray waits for the next answer with a null id (the host's answer to
// a frame it could not read) and returns it, or fails when ctx ends.
func (h *Host) NextStray(ctx context.Context) (*Response, error) {
	for {
		h.mu.Lock()
		if len(h.strays) > 0 {
			r := h.strays[0]
			h.strays = h.strays[1:]
			h.mu.Unlock()
			return r, nil
		}
		ready := h.strayReady
		h.mu.Unlock()
		select {
		case <-ready:
		case <-h.stdoutDone:
			h.mu.Lock()
			n := len(h.strays)
			h.mu.Unlock()
			if n == 0 {
				return nil, errors.New("peer: stdout ended without an answer with a null id")
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("peer: no answer with a null id: %w", context.Cause(ctx))
		}
	}
}

// Strays returns the answers with a null id not yet taken by
// [Host.NextStray].
func (h *Host) Strays() []*Response {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Response(nil), h.strays...)
}

// Unanswered returns the ids of requests still awaiting an answer, in
// order.
func (h *Host) Unanswered() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]int64, 0, len(h.pending))
	for id := range h.pending {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Violations returns what the host wrote to stdout that is not a
// well-formed answer frame: bytes outside frames, bodies that are not
// JSON-RPC responses, answers to ids that were not awaiting one. A
// conforming host has none.
func (h *Host) Violations() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.violations...)
}

// Answers returns how many answers have been read.
func (h *Host) Answers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Stderr returns what the host has written to stderr so far. After
// [Host.Wait] returns without error it is all of it.
func (h *Host) Stderr() string { return h.stderr.String() }

// CloseStdin closes the host's stdin: the end of the session.
func (h *Host) CloseStdin() error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return h.stdin.Close()
}

// Signal sends sig to the host process (not to its children).
func (h *Host) Signal(sig os.Signal) error { return h.cmd.Process.Signal(sig) }

// Pid returns the host's process id.
func (h *Host) Pid() int { return h.cmd.Process.Pid }

// Exited is closed when the host process has exited.
func (h *Host) Exited() <-chan struct{} { return h.exited }

// Wait waits until the host has exited and its stdout and stderr are read
// to their end, and returns its exit status (-1 when a signal killed it).
// When ctx ends first it kills the host's process group and returns an
// error.
func (h *Host) Wait(ctx context.Context) (int, error) {
	for _, ch := range []struct {
		c    <-chan struct{}
		what string
	}{
		{h.exited, "did not exit"},
		{h.stdoutDone, "exited, but its stdout stayed open (a child holds it?)"},
		{h.stderrDone, "exited, but its stderr stayed open (a child holds it?)"},
	} {
		select {
		case <-ch.c:
		case <-ctx.Done():
			h.Kill()
			return -1, fmt.Errorf("peer: the host %s: %w", ch.what, context.Cause(ctx))
		}
	}
	return h.cmd.ProcessState.ExitCode(), nil
}

// Kill kills the host and every process in its process group, and
// releases its pipes. It is safe to call more than once and after the host
// has exited.
func (h *Host) Kill() {
	h.killOnce.Do(func() {
		killProcessGroup(h.cmd)
		h.wmu.Lock()
		_ = h.stdin.Close()
		h.wmu.Unlock()
	})
}

// lockedBuffer is a [bytes.Buffer] safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
