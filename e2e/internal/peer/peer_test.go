package peer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeHostEnv makes the test binary act as a tiny host (see TestMain).
const fakeHostEnv = "PEER_FAKE_HOST"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeHostEnv); mode != "" {
		os.Exit(fakeHost(mode))
	}
	os.Exit(m.Run())
}

// fakeHost answers getToken with "tok-<providerName>" in reverse order of
// arrival per pair of requests, a null-id error to a frame it cannot read,
// and, in mode "junk", writes bytes that are no frame.
func fakeHost(mode string) int {
	in := bufio.NewReader(os.Stdin)
	var held []map[string]any
	for {
		body, err := readFrame(in)
		if err == io.EOF {
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake host:", err)
			return 3
		}
		var req map[string]any
		if json.Unmarshal(body, &req) != nil {
			os.Stdout.Write(Frame([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`)))
			continue
		}
		if mode == "junk" {
			os.Stdout.WriteString("hello\n")
			continue
		}
		if req["id"] == nil {
			continue
		}
		held = append(held, req)
		if len(held) < 2 {
			continue
		}
		for i := len(held) - 1; i >= 0; i-- {
			p := held[i]["params"].(map[string]any)
			b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": held[i]["id"], "result": map[string]any{"token": "tok-" + p["providerName"].(string)}})
			os.Stdout.Write(Frame(b))
		}
		held = held[:0]
	}
}

func startFake(t *testing.T, mode string) *Host {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h, err := Start([]string{exe}, &Options{Env: append(os.Environ(), fakeHostEnv+"="+mode, "GORACE=atexit_sleep_ms=0")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Kill)
	return h
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestHostMatchesAnswersToCallers(t *testing.T) {
	h := startFake(t, "answer")
	ctx := bounded(t)
	a, err := h.GoToken("s", "red")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.GoToken("s", "blue")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		call *Call
		want string
		seq  int
	}{{a, "tok-red", 2}, {b, "tok-blue", 1}} {
		resp, err := tc.call.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := resp.Token()
		if err != nil || got != tc.want || resp.Seq != tc.seq {
			t.Errorf("call %d: got (%q, %v, seq %d), want (%q, nil, seq %d)", tc.call.ID, got, err, resp.Seq, tc.want, tc.seq)
		}
	}
	if err := h.WriteFrame([]byte("{nope")); err != nil {
		t.Fatal(err)
	}
	stray, err := h.NextStray(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stray.Error == nil || stray.Error.Code != -32700 {
		t.Errorf("stray = %s, want a -32700 error", stray.Raw)
	}
	if err := h.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	code, err := h.Wait(ctx)
	if err != nil || code != 0 {
		t.Errorf("Wait = %d, %v; want 0, nil", code, err)
	}
	if v := h.Violations(); len(v) != 0 {
		t.Errorf("violations: %q", v)
	}
}

func TestHostReportsJunkOnStdout(t *testing.T) {
	h := startFake(t, "junk")
	ctx := bounded(t)
	if _, err := h.GoToken("s", "red"); err != nil {
		t.Fatal(err)
	}
	if err := h.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	v := h.Violations()
	if len(v) != 1 || !strings.Contains(v[0], "header line not ended by CRLF") {
		t.Errorf("violations = %q, want one about a header line not ended by CRLF", v)
	}
	if diff := cmp.Diff([]int64{1}, h.Unanswered()); diff != "" {
		t.Errorf("Unanswered() mismatch (-want +got):\n%s", diff)
	}
}

func TestWaitKillsAHostThatDoesNotExit(t *testing.T) {
	h := startFake(t, "answer")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if code, err := h.Wait(bounded(t)); err != nil || code != -1 {
		t.Errorf("Wait after the kill = %d, %v; want -1, nil", code, err)
	}
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // body, or the violation's message prefix
		ok       bool
	}{
		{"plain", "Content-Length: 2\r\n\r\n{}", "{}", true},
		{"with content type", "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", "{}", true},
		{"lf only", "Content-Length: 2\n\n{}", "header line not ended by CRLF", false},
		{"no length", "Content-Type: x\r\n\r\n", "frame without Content-Length", false},
		{"twice", "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", "Content-Length given twice", false},
		{"other header", "X-Debug: 1\r\nContent-Length: 2\r\n\r\n{}", "unexpected header", false},
		{"short body", "Content-Length: 5\r\n\r\n{}", "stdout ended inside a frame body", false},
		{"log line", "time=now level=INFO msg=hi\n", "header line not ended by CRLF", false},
		{"no colon", "hello\r\n\r\n", "header line without a colon", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := readFrame(bufio.NewReaderSize(strings.NewReader(tc.in), maxHeaderLine))
			if tc.ok {
				if err != nil || string(body) != tc.want {
					t.Errorf("readFrame = %q, %v; want %q, nil", body, err, tc.want)
				}
				return
			}
			var v *violation
			if !errors.As(err, &v) || !strings.HasPrefix(v.msg, tc.want) {
				t.Errorf("readFrame error = %v, want a violation %q", err, tc.want)
			}
		})
	}
}

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		name, body string
		violation  string // empty: a valid answer
	}{
		{"result", `{"jsonrpc":"2.0","id":3,"result":{"token":"t"}}`, ""},
		{"error with null id", `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"m"}}`, ""},
		{"not json", `nope`, "frame body is not a JSON object"},
		{"no version", `{"id":3,"result":1}`, `frame body lacks "jsonrpc": "2.0"`},
		{"request", `{"jsonrpc":"2.0","id":1,"method":"x"}`, "the host sent a request"},
		{"no id", `{"jsonrpc":"2.0","result":1}`, "answer without an id"},
		{"string id", `{"jsonrpc":"2.0","id":"1","result":1}`, "answer id is neither"},
		{"both", `{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"m"}}`, "answer must hold exactly one"},
		{"null id result", `{"jsonrpc":"2.0","id":null,"result":1}`, "result answer with a null id"},
		{"bad error", `{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}`, `error answer whose "error"`},
		{"fractional code", `{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}}`, "error code is not an integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAnswer([]byte(tc.body))
			if tc.violation == "" {
				if err != nil {
					t.Errorf("parseAnswer = %v, want nil", err)
				}
				return
			}
			var v *violation
			if !errors.As(err, &v) || !strings.HasPrefix(v.msg, tc.violation) {
				t.Errorf("parseAnswer error = %v, want a violation %q", err, tc.violation)
			}
		})
	}
}

func TestWaitFailsWhenTheHostExitsWithoutAnswering(t *testing.T) {
	h := startFake(t, "answer")
	c, err := h.GoToken("s", "red") // held: the fake answers in pairs
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(bounded(t)); err == nil || !strings.Contains(err.Error(), "stdout ended without an answer") {
		t.Errorf("Wait = %v, want an error saying stdout ended", err)
	}
}
