package rpc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// frame returns body framed with a Content-Length header.
func frame(body string) string {
	return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
}

// peer is the far end of a connection under test: it writes raw bytes and
// reads framed messages back.
type peer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (p *peer) send(raw string) {
	p.t.Helper()
	if _, err := io.WriteString(p.conn, raw); err != nil {
		p.t.Fatalf("peer write: %v", err)
	}
}

// message is a decoded frame as the peer sees it.
type message struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

func (p *peer) recv() message {
	p.t.Helper()
	body, err := readFrame(p.r)
	if err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		p.t.Fatalf("peer got a frame that is not JSON: %q", body)
	}
	return m
}

// readFrame is a minimal, independent frame reader for the tests.
func readFrame(r *bufio.Reader) ([]byte, error) {
	n := -1
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			n, err = strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
		}
	}
	if n < 0 {
		return nil, errors.New("no Content-Length")
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r, body)
	return body, err
}

// serve starts a Conn with mux on one end of a pipe and returns the other.
func serve(t *testing.T, mux *Mux, opts *Options) (*Conn, *peer) {
	t.Helper()
	a, b := net.Pipe()
	if opts == nil {
		opts = &Options{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := NewConn(context.Background(), a, mux, opts)
	t.Cleanup(func() {
		b.Close()
		c.Close()
		c.Wait()
	})
	return c, &peer{t: t, conn: b, r: bufio.NewReader(b)}
}

func echoMux() *Mux {
	mux := NewMux()
	mux.Handle("echo", func(_ context.Context, params json.RawMessage) (any, error) {
		return params, nil
	})
	mux.Handle("fail", func(context.Context, json.RawMessage) (any, error) {
		return nil, Errorf(CodeSourceFailed, "it failed")
	})
	mux.Handle("plain", func(context.Context, json.RawMessage) (any, error) {
		return nil, errors.New("plain failure")
	})
	mux.Handle("panic", func(context.Context, json.RawMessage) (any, error) {
		panic("secret-canary")
	})
	return mux
}

func TestConnAnswers(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want message
	}{
		{"echo", frame(`{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1}}`),
			message{ID: json.RawMessage(`1`), Result: json.RawMessage(`{"a":1}`)}},
		{"string id", frame(`{"jsonrpc":"2.0","id":"x7","method":"echo","params":[]}`),
			message{ID: json.RawMessage(`"x7"`), Result: json.RawMessage(`[]`)}},
		{"application error", frame(`{"jsonrpc":"2.0","id":2,"method":"fail"}`),
			message{ID: json.RawMessage(`2`), Error: &Error{Code: CodeSourceFailed, Message: "it failed"}}},
		{"plain error becomes internal error", frame(`{"jsonrpc":"2.0","id":3,"method":"plain"}`),
			message{ID: json.RawMessage(`3`), Error: &Error{Code: CodeInternalError, Message: "plain failure"}}},
		{"panic becomes internal error", frame(`{"jsonrpc":"2.0","id":4,"method":"panic"}`),
			message{ID: json.RawMessage(`4`), Error: &Error{Code: CodeInternalError, Message: `internal error: the handler for "panic" failed`}}},
		{"unknown method", frame(`{"jsonrpc":"2.0","id":5,"method":"nope"}`),
			message{ID: json.RawMessage(`5`), Error: &Error{Code: CodeMethodNotFound, Message: `method not found: "nope"`}}},
		{"not JSON", frame(`{"jsonrpc":`),
			message{ID: json.RawMessage(`null`), Error: &Error{Code: CodeParseError, Message: "parse error: the frame's body is not valid JSON"}}},
		{"neither request nor response", frame(`{"jsonrpc":"2.0","id":6}`),
			message{ID: json.RawMessage(`6`), Error: &Error{Code: CodeInvalidRequest, Message: "invalid request: unable to determine message type (request or response)"}}},
		{"method not a string", frame(`{"jsonrpc":"2.0","id":7,"method":7}`),
			message{ID: json.RawMessage(`7`), Error: &Error{Code: CodeInvalidRequest, Message: `invalid request: field "method" has the wrong type (number)`}}},
		{"no Content-Length", "Content-Type: x\r\n\r\n",
			message{ID: json.RawMessage(`null`), Error: &Error{Code: CodeInvalidRequest, Message: "malformed frame: no Content-Length header"}}},
		{"bad Content-Length", "Content-Length: ten\r\n\r\n",
			message{ID: json.RawMessage(`null`), Error: &Error{Code: CodeInvalidRequest, Message: "malformed frame: Content-Length is not a non-negative integer"}}},
		{"malformed header line", "{\"jsonrpc\":\"2.0\"}\r\nContent-Length: 2\r\n\r\n{}",
			message{ID: json.RawMessage(`null`), Error: &Error{Code: CodeInvalidRequest, Message: `malformed frame: malformed header line (want "Name: value")`}}},
		{"empty body", "Content-Length: 0\r\n\r\n",
			message{ID: json.RawMessage(`null`), Error: &Error{Code: CodeInvalidRequest, Message: "malformed frame: empty body"}}},
		{"oversized frame", "Content-Length: 2000\r\n\r\n" + strings.Repeat(" ", 2000),
			message{ID: json.RawMessage(`null`), Error: &Error{Code: CodeInvalidRequest, Message: "frame of 2000 bytes exceeds the limit of 1024 bytes"}}},
		{"overlong header line", strings.Repeat("X", 5000) + "\r\nContent-Length: 2\r\n\r\n{}",
			message{ID: json.RawMessage(`null`), Error: &Error{Code: CodeInvalidRequest, Message: "malformed frame: a header line is longer than 4096 bytes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, p := serve(t, echoMux(), &Options{MaxFrameSize: 1024})
			p.send(tt.in)
			if diff := cmp.Diff(tt.want, p.recv()); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			// The stream is still in step: the next request is answered.
			p.send(frame(`{"jsonrpc":"2.0","id":99,"method":"echo","params":"after"}`))
			if diff := cmp.Diff(message{ID: json.RawMessage(`99`), Result: json.RawMessage(`"after"`)}, p.recv()); diff != "" {
				t.Errorf("next answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConnHandlesConcurrently(t *testing.T) {
	release := make(chan struct{})
	mux := echoMux()
	mux.Handle("slow", func(ctx context.Context, _ json.RawMessage) (any, error) {
		<-release
		return "slow", nil
	})
	_, p := serve(t, mux, nil)
	p.send(frame(`{"jsonrpc":"2.0","id":1,"method":"slow"}`))
	p.send(frame(`{"jsonrpc":"2.0","id":2,"method":"echo","params":"fast"}`))
	if got := p.recv(); string(got.ID) != "2" {
		t.Fatalf("first answer is for id %s, want 2 (the fast request)", got.ID)
	}
	close(release)
	if got := p.recv(); string(got.ID) != "1" {
		t.Fatalf("second answer is for id %s, want 1", got.ID)
	}
}

func TestConnCancelRequest(t *testing.T) {
	started := make(chan struct{})
	mux := NewMux()
	mux.Handle("wait", func(ctx context.Context, _ json.RawMessage) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	_, p := serve(t, mux, nil)
	p.send(frame(`{"jsonrpc":"2.0","id":"w","method":"wait"}`))
	<-started
	p.send(frame(`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"other"}}`)) // unknown id: ignored
	p.send(frame(`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"w"}}`))
	want := message{ID: json.RawMessage(`"w"`), Error: &Error{Code: CodeRequestCancelled, Message: "request cancelled"}}
	if diff := cmp.Diff(want, p.recv()); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
}

func TestConnMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	started := 0
	mux := NewMux()
	mux.Handle("block", func(ctx context.Context, _ json.RawMessage) (any, error) {
		mu.Lock()
		started++
		mu.Unlock()
		<-release
		return nil, nil
	})
	mux.Handle("count", func(ctx context.Context, _ json.RawMessage) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		return started, nil
	})
	_, p := serve(t, mux, &Options{MaxInFlight: 1})
	p.send(frame(`{"jsonrpc":"2.0","id":1,"method":"block"}`))
	// The second request waits for the first: the reader pauses, so
	// "count" runs only after "block" has returned.
	go io.WriteString(p.conn, frame(`{"jsonrpc":"2.0","id":2,"method":"count"}`))
	close(release)
	first, second := p.recv(), p.recv()
	if string(first.ID) != "1" || string(second.ID) != "2" {
		t.Fatalf("answers for ids %s, %s; want 1, 2", first.ID, second.ID)
	}
	if string(second.Result) != "1" {
		t.Errorf("count saw %s blocked handlers, want 1", second.Result)
	}
}

func TestConnNotificationsInOrder(t *testing.T) {
	got := make(chan string, 3)
	mux := NewMux()
	mux.HandleNotification("note", func(_ context.Context, params json.RawMessage) { got <- string(params) })
	_, p := serve(t, mux, nil)
	for i := range 3 {
		p.send(frame(fmt.Sprintf(`{"jsonrpc":"2.0","method":"note","params":%d}`, i)))
	}
	p.send(frame(`{"jsonrpc":"2.0","method":"unhandled","params":{}}`))
	for i := range 3 {
		if g := <-got; g != strconv.Itoa(i) {
			t.Fatalf("notification %d: got %s", i, g)
		}
	}
}

func TestConnCallsBothWays(t *testing.T) {
	a, b := net.Pipe()
	quiet := &Options{Logger: slog.New(slog.DiscardHandler)}
	muxA, muxB := NewMux(), NewMux()
	muxA.Handle("whoami", func(context.Context, json.RawMessage) (any, error) { return "a", nil })
	muxB.Handle("whoami", func(context.Context, json.RawMessage) (any, error) { return "b", nil })
	ca := NewConn(context.Background(), a, muxA, quiet)
	cb := NewConn(context.Background(), b, muxB, quiet)
	defer func() { ca.Close(); cb.Close() }()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from, want := ca, "b"
			if i%2 == 1 {
				from, want = cb, "a"
			}
			var got string
			if err := from.Call(context.Background(), "whoami", nil, &got); err != nil || got != want {
				t.Errorf("call %d: got %q, %v; want %q", i, got, err, want)
			}
		}()
	}
	wg.Wait()
	var e *Error
	if err := ca.Call(context.Background(), "missing", nil, nil); !errors.As(err, &e) || e.Code != CodeMethodNotFound {
		t.Errorf("calling a missing method: got %v, want code %d", err, CodeMethodNotFound)
	}
}

func TestConnEndsOnEOF(t *testing.T) {
	c, p := serve(t, echoMux(), nil)
	p.conn.Close()
	c.Wait() // returns: the read loop saw the end
}

func TestConnPeerGoneMidRequest(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	mux := NewMux()
	mux.Handle("slow", func(ctx context.Context, _ json.RawMessage) (any, error) {
		close(started)
		<-release
		return "late", nil
	})
	c, p := serve(t, mux, nil)
	p.send(frame(`{"jsonrpc":"2.0","id":1,"method":"slow"}`))
	<-started
	p.conn.Close()
	close(release) // the answer has nowhere to go: dropped, no panic
	c.Wait()
}

func TestConnLogsNoPayload(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(b)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, p := serve(t, echoMux(), &Options{Logger: logger, MaxFrameSize: 64})
	for _, in := range []string{
		frame(`{"jsonrpc":"2.0","id":1,"method":"panic"}`),
		frame(`{"secret-canary`),
		frame(`{"jsonrpc":"2.0","id":{"secret-canary":1},"method":"x"}`),
		frame(`{"jsonrpc":"2.0","id":2,"method":"echo","params":"` + strings.Repeat("secret-canary", 10) + `"}`),
	} {
		p.send(in)
		if m := p.recv(); m.Error == nil || strings.Contains(m.Error.Message, "secret-canary") {
			t.Errorf("answer to %q: %+v", in, m.Error)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), "secret-canary") {
		t.Errorf("log holds the payload:\n%s", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestConnHeaderVariants(t *testing.T) {
	body := `{"jsonrpc":"2.0","id":1,"method":"echo","params":1}`
	_, p := serve(t, echoMux(), nil)
	// A stray blank line, a lower-case name and a Content-Type header.
	p.send(fmt.Sprintf("\r\ncontent-length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n%s", len(body), body))
	if diff := cmp.Diff(message{ID: json.RawMessage(`1`), Result: json.RawMessage(`1`)}, p.recv()); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
}

func TestConnAnswersBeforeClosingOnEOF(t *testing.T) {
	release := make(chan struct{})
	mux := NewMux()
	mux.Handle("slow", func(ctx context.Context, _ json.RawMessage) (any, error) {
		select {
		case <-release:
			return "answered", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	in, inW := io.Pipe()
	outR, out := io.Pipe()
	c := NewConn(context.Background(), rw{in, out}, mux, &Options{Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	io.WriteString(inW, frame(`{"jsonrpc":"2.0","id":1,"method":"slow"}`))
	inW.Close() // the peer is done writing, but still reads
	close(release)
	body, err := readFrame(bufio.NewReader(outR))
	if err != nil {
		t.Fatal(err)
	}
	var got message
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(message{ID: json.RawMessage(`1`), Result: json.RawMessage(`"answered"`)}, got); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	c.Wait()
}

func TestConnCancelsWhatDrainLeaves(t *testing.T) {
	started := make(chan struct{})
	mux := NewMux()
	mux.Handle("hang", func(ctx context.Context, _ json.RawMessage) (any, error) {
		close(started)
		<-ctx.Done() // only the connection's end releases it
		return nil, ctx.Err()
	})
	c, p := serve(t, mux, &Options{DrainTimeout: time.Millisecond})
	p.send(frame(`{"jsonrpc":"2.0","id":1,"method":"hang"}`))
	<-started
	p.conn.Close()
	c.Wait() // returns: the drain gave up and the request was cancelled
}

// rw joins a reader and a writer into a stream; closing it closes both.
type rw struct {
	io.ReadCloser
	io.WriteCloser
}

func (s rw) Close() error { s.ReadCloser.Close(); return s.WriteCloser.Close() }

func TestConnInline(t *testing.T) {
	tests := []struct {
		name   string
		inline InlineFunc
		want   string // the result
	}{
		{"answered inline", func(json.RawMessage) (any, bool) { return "inline", true }, `"inline"`},
		{"declined", func(json.RawMessage) (any, bool) { return nil, false }, `"handler"`},
		{"panicked", func(json.RawMessage) (any, bool) { panic("secret-canary") }, `"handler"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := NewMux()
			mux.Handle("m", func(context.Context, json.RawMessage) (any, error) { return "handler", nil })
			mux.HandleInline("m", tt.inline)
			_, p := serve(t, mux, nil)
			p.send(frame(`{"jsonrpc":"2.0","id":1,"method":"m","params":{}}`))
			if diff := cmp.Diff(message{ID: json.RawMessage(`1`), Result: json.RawMessage(tt.want)}, p.recv()); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConnInlineBatch: requests that arrive together are answered
// inline, their answers flushed together, none left in the buffer.
func TestConnInlineBatch(t *testing.T) {
	mux := NewMux()
	mux.HandleInline("m", func(params json.RawMessage) (any, bool) { return params, true })
	_, p := serve(t, mux, nil)
	var batch strings.Builder
	for i := range 50 {
		batch.WriteString(frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"m","params":%d}`, i, i)))
	}
	go io.WriteString(p.conn, batch.String())
	for i := range 50 {
		want := message{ID: json.RawMessage(strconv.Itoa(i)), Result: json.RawMessage(strconv.Itoa(i))}
		if diff := cmp.Diff(want, p.recv()); diff != "" {
			t.Fatalf("answer %d (-want +got):\n%s", i, diff)
		}
	}
}
