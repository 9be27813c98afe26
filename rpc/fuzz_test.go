package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sourcegraph/jsonrpc2"
)

// fuzzMaxFrame is the frame limit of the fuzzed connection: small, so
// that an input claiming a huge body is refused before it is allocated.
const fuzzMaxFrame = 512

// input is a fuzz input as a connection's stream: it reads data, then
// ends; what the connection writes is kept.
type input struct {
	r   io.Reader
	mu  sync.Mutex
	out bytes.Buffer
}

func (s *input) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *input) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}
func (s *input) Close() error { return nil }

// FuzzConn feeds arbitrary bytes to a connection as its peer's output.
// Whatever they are, the connection does not panic, ends when they end,
// and writes only well-formed answer frames: a JSON-RPC 2.0 response with
// an id and exactly one of result and error, the error with a non-empty
// message. Seeds are in testdata/fuzz/FuzzConn.
func FuzzConn(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{r: bytes.NewReader(data)}
		mux := echoMux()
		c := NewConn(context.Background(), in, mux, &Options{
			MaxFrameSize: fuzzMaxFrame,
			DrainTimeout: time.Second,
			Logger:       slog.New(slog.DiscardHandler),
		})
		c.Wait()
		r := bufio.NewReader(bytes.NewReader(in.out.Bytes()))
		for {
			body, err := readFrame(r)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("the connection wrote a malformed frame: %v\n%q", err, in.out.Bytes())
			}
			checkAnswer(t, body)
		}
	})
}

// checkAnswer fails unless body is a well-formed JSON-RPC 2.0 response.
func checkAnswer(t *testing.T, body []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %q", body)
	}
	if string(m["jsonrpc"]) != `"2.0"` {
		t.Fatalf("answer without \"jsonrpc\": \"2.0\": %s", body)
	}
	if _, ok := m["id"]; !ok {
		t.Fatalf("answer without an id: %s", body)
	}
	_, hasResult := m["result"]
	rawErr, hasErr := m["error"]
	if hasResult == hasErr {
		t.Fatalf("answer without exactly one of result and error: %s", body)
	}
	if hasErr {
		var e Error
		if err := json.Unmarshal(rawErr, &e); err != nil || e.Code == 0 || e.Message == "" {
			t.Fatalf("error answer without a code and a message: %s", body)
		}
	}
}

// FuzzParseRequest checks the read loop's fast path against jsonrpc2:
// whatever parseRequest accepts, jsonrpc2 decodes to the same request
// (method, id, params), so handing it over changes nothing a handler sees.
// Seeds are in testdata/fuzz/FuzzParseRequest.
func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := parseRequest(body)
		if !ok {
			return
		}
		var want jsonrpc2.Request
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("parseRequest accepted %q, which jsonrpc2 refuses: %v", body, err)
		}
		if want.Notif {
			t.Fatalf("parseRequest accepted the notification %q", body)
		}
		if diff := cmp.Diff(want.ID, got.ID); diff != "" || got.Method != want.Method || got.Notif {
			t.Fatalf("parseRequest(%q): id/method differ from jsonrpc2's (-jsonrpc2 +fast):\n%s\nmethod %q vs %q", body, diff, want.Method, got.Method)
		}
		if (want.Params == nil) != (got.Params == nil) {
			t.Fatalf("parseRequest(%q): params present %v, jsonrpc2 %v", body, got.Params != nil, want.Params != nil)
		}
		if want.Params != nil {
			var a, b any
			if json.Unmarshal(*want.Params, &a) != nil || json.Unmarshal(*got.Params, &b) != nil {
				t.Fatalf("parseRequest(%q): params do not decode", body)
			}
			if diff := cmp.Diff(a, b); diff != "" {
				t.Fatalf("parseRequest(%q): params differ (-jsonrpc2 +fast):\n%s", body, diff)
			}
		}
	})
}

// TestFrameLimit: a frame over MaxFrameSize is refused with an answer
// that says so, before its body is read into memory, and the connection
// goes on to answer the next frame.
func TestFrameLimit(t *testing.T) {
	_, p := serve(t, echoMux(), &Options{MaxFrameSize: 64})
	big := `{"jsonrpc":"2.0","id":1,"method":"echo","params":"` + string(bytes.Repeat([]byte("x"), 100)) + `"}`
	p.send(frame(big))
	m := p.recv()
	if m.Error == nil || m.Error.Code != CodeInvalidRequest || !bytes.Contains([]byte(m.Error.Message), []byte("exceeds the limit of 64 bytes")) {
		t.Fatalf("answer to an oversized frame = %+v, want %d saying it exceeds the limit", m, CodeInvalidRequest)
	}
	p.send(frame(`{"jsonrpc":"2.0","id":2,"method":"echo","params":"ok"}`))
	if m := p.recv(); string(m.Result) != `"ok"` {
		t.Fatalf("answer after an oversized frame = %+v, want the echo", m)
	}
}

// TestFastPathAnswersAsJSONRPC2: a request taken by the fast path and one
// jsonrpc2 decodes (an extra member sends it there) get the same answer.
func TestFastPathAnswersAsJSONRPC2(t *testing.T) {
	_, p := serve(t, echoMux(), nil)
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":7,"method":"echo","params":{"b":1,"a":"<&>"}}`,
		`{"jsonrpc":"2.0","id":7,"method":"echo","params":{"b":1,"a":"<&>"},"extra":true}`,
		`{"jsonrpc":"2.0","id":"s-7","method":"echo","params":{"b":1,"a":"<&>"}}`,
	} {
		if _, ok := parseRequest([]byte(body)); ok == bytes.Contains([]byte(body), []byte("extra")) {
			t.Fatalf("parseRequest(%s) = %v", body, ok)
		}
		p.send(frame(body))
		m := p.recv()
		var got any
		if err := json.Unmarshal(m.Result, &got); err != nil {
			t.Fatalf("%s: result %s: %v", body, m.Result, err)
		}
		want := map[string]any{"a": "<&>", "b": float64(1)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: result (-want +got):\n%s", body, diff)
		}
	}
}

// TestParseRequestRefuses: the fast path hands jsonrpc2 every body that is
// not plainly valid, so jsonrpc2's own errors answer it.
func TestParseRequestRefuses(t *testing.T) {
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":01,"method":"m"}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\x01b\"}",
		`{"jsonrpc":"2.0","id" 1,"method":"m"}`,
		`{"jsonrpc":"2.0","id":1,"method":"m"} x`,
		`{"jsonrpc":"2.0","id":1,"method":"m",}`,
		`{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":}}`,
		`{"jsonrpc":2,"id":1,"method":"m"}`,
		`{"jsonrpc":"2.0","id":1,"method":"m"`,
		`{"jsonrpc":"2.0","id":1`,
		`{`,
		``,
	} {
		if _, ok := parseRequest([]byte(body)); ok {
			t.Errorf("parseRequest accepted %q", body)
		}
	}
	if req, ok := parseRequest([]byte(` { "jsonrpc" : "2.0" , "id" : 0 , "method" : "m" , "params" : [1, {"a": "b"}] } `)); !ok || req.ID.Num != 0 || req.Method != "m" || string(*req.Params) != `[1, {"a": "b"}]` {
		t.Errorf("parseRequest refused or misread a plain request with spaces: %+v, %v", req, ok)
	}
}

// FuzzTokenParams holds the reflection-free reading of getToken's params
// to encoding/json: whatever it accepts, json.Unmarshal accepts and decodes
// the same. Seeds are in testdata/fuzz/FuzzTokenParams.
func FuzzTokenParams(f *testing.F) {
	f.Fuzz(func(t *testing.T, params []byte) {
		fast, ok := parseTokenParams(params)
		if !ok {
			return
		}
		var slow ProviderTokenAcquireRequest
		if err := json.Unmarshal(params, &slow); err != nil {
			t.Fatalf("parseTokenParams accepted %q, which encoding/json refuses: %v", params, err)
		}
		if diff := cmp.Diff(slow, fast); diff != "" {
			t.Fatalf("parseTokenParams(%q) (-encoding/json +fast):\n%s", params, diff)
		}
	})
}
