package floor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Request is the getToken request a [Driver] sends, and the token it
// expects back.
type Request struct {
	SessionID    string
	ProviderName string
	// Want is the token every answer must carry; empty means any
	// non-empty token.
	Want string
}

// Driver plays the runtime's side of a token host's stdio: it writes
// framed providerToken.getToken requests to the host's input and reads the
// answers from its output. A Driver is used by one goroutine at a time.
type Driver struct {
	w    io.Writer
	r    *bufio.Reader
	req  Request
	next int64 // the last id sent

	head, tail []byte // a request body around its id
	buf        []byte
	body       []byte
}

// NewDriver returns a [Driver] that writes requests to w and reads answers
// from r.
func NewDriver(w io.Writer, r io.Reader, req Request) *Driver {
	params, _ := json.Marshal(map[string]string{"providerName": req.ProviderName, "sessionId": req.SessionID})
	return &Driver{
		w:    w,
		r:    bufio.NewReaderSize(r, 64<<10),
		req:  req,
		head: []byte(`{"jsonrpc":"2.0","id":`),
		tail: append(append([]byte(`,"method":"providerToken.getToken","params":`), params...), '}'),
	}
}

// answer is what a Driver reads of an answer.
type answer struct {
	ID     *int64 `json:"id"`
	Result *struct {
		Token string `json:"token"`
	} `json:"result"`
	Error *struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// send writes the next request.
func (d *Driver) send() error {
	d.next++
	b := d.buf[:0]
	idLen := len(strconv.AppendInt(nil, d.next, 10))
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(d.head)+idLen+len(d.tail)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, d.head...)
	b = strconv.AppendInt(b, d.next, 10)
	b = append(b, d.tail...)
	d.buf = b
	_, err := d.w.Write(b)
	return err
}

// receive reads one answer and checks it, returning its id.
func (d *Driver) receive() (int64, error) {
	n, err := readHeader(d.r)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("floor: driver: reading an answer: %w", err)
	}
	if cap(d.body) < n {
		d.body = make([]byte, n)
	}
	d.body = d.body[:n]
	if _, err := io.ReadFull(d.r, d.body); err != nil {
		return 0, fmt.Errorf("floor: driver: reading an answer: %w", err)
	}
	if id, ok := d.expected(d.body); ok {
		return id, nil
	}
	var a answer
	if err := json.Unmarshal(d.body, &a); err != nil {
		return 0, fmt.Errorf("floor: driver: an answer that is not JSON-RPC: %w", err)
	}
	switch {
	case a.ID == nil:
		return 0, fmt.Errorf("floor: driver: an answer without an id: %s", d.body)
	case a.Error != nil:
		return 0, fmt.Errorf("floor: driver: error answer %d: %s", a.Error.Code, a.Error.Message)
	case a.Result == nil || a.Result.Token == "":
		return 0, fmt.Errorf("floor: driver: an answer without a token: %s", d.body)
	case d.req.Want != "" && a.Result.Token != d.req.Want:
		return 0, errors.New("floor: driver: an answer with the wrong token")
	}
	return *a.ID, nil
}

// expected reads an answer written exactly as jsonrpc2 writes a
// successful one with the wanted token, without a JSON decoder, so that
// the driver's own cost stays small next to the host's. Anything else is
// decoded and checked in full.
func (d *Driver) expected(body []byte) (int64, bool) {
	rest, ok := bytes.CutPrefix(body, []byte(`{"id":`))
	if !ok || d.req.Want == "" {
		return 0, false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || string(rest[i:]) != `,"result":{"token":"`+d.req.Want+`"},"jsonrpc":"2.0"}` {
		return 0, false
	}
	id, err := strconv.ParseInt(string(rest[:i]), 10, 64)
	return id, err == nil
}

// Run sends n requests, keeping at most inflight of them awaiting an answer,
// and reads the n answers, checking that each request is answered once
// with the expected token.
func (d *Driver) Run(n, inflight int) error {
	if n <= 0 {
		return nil
	}
	base := d.next
	seen := make([]bool, n)
	check := func(id int64) error {
		i := id - base - 1
		if i < 0 || i >= int64(n) || seen[i] {
			return fmt.Errorf("floor: driver: an answer to id %d, which was not awaiting one", id)
		}
		seen[i] = true
		return nil
	}
	if inflight <= 1 {
		for range n {
			if err := d.send(); err != nil {
				return err
			}
			id, err := d.receive()
			if err != nil {
				return err
			}
			if err := check(id); err != nil {
				return err
			}
		}
		return nil
	}
	slots := make(chan struct{}, inflight)
	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() {
		for range n {
			select {
			case slots <- struct{}{}:
			case <-stop:
				werr <- nil
				return
			}
			if err := d.send(); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	var err error
	for range n {
		var id int64
		if id, err = d.receive(); err != nil {
			break
		}
		if err = check(id); err != nil {
			break
		}
		<-slots
	}
	close(stop)
	if e := <-werr; err == nil {
		err = e
	}
	return err
}

// Process is a host started as a child process, with a [Driver] on its
// stdio.
type Process struct {
	*Driver
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tail
}

// Start runs argv with env (nil: this process's) as a host and returns a
// [Process] whose driver sends req.
func Start(argv []string, env []string, req Request) (*Process, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, stdin: stdin, stderr: &tail{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("floor: start %s: %w", argv[0], err)
	}
	p.Driver = NewDriver(stdin, stdout, req)
	return p, nil
}

// Pid returns the host's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stderr returns the end of what the host wrote to stderr.
func (p *Process) Stderr() string { return p.stderr.String() }

// Close closes the host's stdin and waits for it to exit, killing its
// process group if it has not within timeout.
func (p *Process) Close(timeout time.Duration) error {
	_ = p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("floor: the host did not exit within %s of its stdin closing", timeout)
	}
}

// FirstAnswer starts argv, sends one request and waits for its answer, and
// returns how long that took from just before the start; the host is then
// closed.
func FirstAnswer(argv []string, env []string, req Request) (time.Duration, error) {
	start := time.Now()
	p, err := Start(argv, env, req)
	if err != nil {
		return 0, err
	}
	err = p.Run(1, 1)
	took := time.Since(start)
	if cerr := p.Close(10 * time.Second); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("%w (stderr: %s)", err, p.Stderr())
	}
	return took, nil
}

// tail keeps the last 4 KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
