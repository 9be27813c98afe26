package session

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
	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/rpc"
)

var quiet = slog.New(slog.DiscardHandler)

// fixed returns a TokenFunc answering value.
func fixed(value string) TokenFunc {
	return func(context.Context, ProviderTokenArgs) (credential.Token, error) {
		return credential.Token{Value: value}, nil
	}
}

// codeOf returns err's JSON-RPC code, or 0 when it is not an *rpc.Error.
func codeOf(err error) int64 {
	var e *rpc.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func TestDispatcherRoutes(t *testing.T) {
	type reg struct{ session, provider, value string }
	tests := []struct {
		name     string
		regs     []reg
		strict   bool
		args     ProviderTokenArgs
		want     string
		wantCode int64
	}{
		{"provider of any session", []reg{{"", "red", "r"}, {"", "default", "d"}}, false,
			ProviderTokenArgs{"s1", "red"}, "r", 0},
		{"unknown name falls back to default", []reg{{"", "red", "r"}, {"", "default", "d"}}, false,
			ProviderTokenArgs{"s1", "blue"}, "d", 0},
		{"strict: no fallback", []reg{{"", "red", "r"}, {"", "default", "d"}}, true,
			ProviderTokenArgs{"s1", "blue"}, "", rpc.CodeUnknownProvider},
		{"strict: own name still works", []reg{{"", "default", "d"}}, true,
			ProviderTokenArgs{"s1", "default"}, "d", 0},
		{"no default to fall back to", []reg{{"", "red", "r"}}, false,
			ProviderTokenArgs{"s1", "blue"}, "", rpc.CodeUnknownProvider},
		{"session's own beats any session's", []reg{{"", "red", "any"}, {"s1", "red", "own"}}, false,
			ProviderTokenArgs{"s1", "red"}, "own", 0},
		{"another session's is not used", []reg{{"s2", "red", "other"}}, false,
			ProviderTokenArgs{"s1", "red"}, "", rpc.CodeUnknownProvider},
		{"provider name beats session", []reg{{"", "red", "any-red"}, {"s1", "default", "own-default"}}, false,
			ProviderTokenArgs{"s1", "red"}, "any-red", 0},
		{"session's default before any session's default", []reg{{"", "default", "any"}, {"s1", "default", "own"}}, false,
			ProviderTokenArgs{"s1", "blue"}, "own", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDispatcher(&Options{Strict: tt.strict, Logger: quiet})
			for _, r := range tt.regs {
				d.Register(r.session, r.provider, fixed(r.value))
			}
			tok, err := d.Token(context.Background(), tt.args)
			if got := codeOf(err); got != tt.wantCode {
				t.Fatalf("error %v: code %d, want %d", err, got, tt.wantCode)
			}
			if tok.Value != tt.want {
				t.Errorf("token %q, want %q", tok.Value, tt.want)
			}
		})
	}
}

func TestUnknownProviderMessage(t *testing.T) {
	tests := []struct {
		name   string
		strict bool
		want   string
	}{
		{"lists known", false, `tokenhost: no token source for provider "blue" in session "s1"; known providers: "red", "yellow"`},
		{"strict says why", true, `tokenhost: no token source for provider "blue" in session "s1"; known providers: "red", "yellow"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDispatcher(&Options{Strict: tt.strict, Logger: quiet})
			d.Register("", "yellow", fixed("y"))
			d.Register("s1", "red", fixed("r"))
			d.Register("s2", "green", fixed("g"))
			_, err := d.Token(context.Background(), ProviderTokenArgs{"s1", "blue"})
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
	d := NewDispatcher(&Options{Strict: true, Logger: quiet})
	d.Register("", "default", fixed("d"))
	_, err := d.Token(context.Background(), ProviderTokenArgs{"s1", "blue"})
	if want := `(strict mode: no fallback to "default")`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("strict with a default: got %v, want it to say %s", err, want)
	}
}

func TestDispatcherChecksWhatCallbacksReturn(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	canary := "tok-canary-3f9a"
	tests := []struct {
		name     string
		fn       TokenFunc
		wantCode int64
		wantMsg  string
	}{
		{"empty token", fixed(""), rpc.CodeSourceFailed,
			`tokenhost: provider "p": the token source returned an empty token`},
		{"expired token", func(context.Context, ProviderTokenArgs) (credential.Token, error) {
			return credential.Token{Value: canary, ExpiresOn: now.Add(-time.Second)}, nil
		}, rpc.CodeSourceFailed, `tokenhost: provider "p": the token source returned a token that expired at 2026-11-25T11:59:59Z`},
		{"source failed", func(context.Context, ProviderTokenArgs) (credential.Token, error) {
			return credential.Token{}, errors.New("credential: exec source: exit status 3: no such audience\nsecond line")
		}, rpc.CodeSourceFailed, `tokenhost: provider "p": credential: exec source: exit status 3: no such audience …`},
		{"source unavailable", func(context.Context, ProviderTokenArgs) (credential.Token, error) {
			return credential.Token{}, fmt.Errorf("credential: env source: MY_TOKEN is not set: %w", credential.ErrUnavailable)
		}, rpc.CodeSourceUnavailable, `tokenhost: provider "p": credential: env source: MY_TOKEN is not set: credential unavailable`},
		{"rpc error passes through", func(context.Context, ProviderTokenArgs) (credential.Token, error) {
			return credential.Token{}, rpc.Errorf(rpc.CodeInvalidParams, "custom")
		}, rpc.CodeInvalidParams, `custom`},
		{"panic", func(context.Context, ProviderTokenArgs) (credential.Token, error) {
			panic(canary)
		}, rpc.CodeInternalError, `tokenhost: provider "p": the token callback failed unexpectedly (a bug: see the host's log)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			d := NewDispatcher(&Options{Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &log}, nil))})
			d.now = func() time.Time { return now }
			d.Register("", "p", tt.fn)
			tok, err := d.Token(context.Background(), ProviderTokenArgs{"s", "p"})
			if codeOf(err) != tt.wantCode || err.Error() != tt.wantMsg {
				t.Errorf("got code %d %q\nwant code %d %q", codeOf(err), err, tt.wantCode, tt.wantMsg)
			}
			if tok.Value != "" {
				t.Errorf("a failed call returned a token")
			}
			if strings.Contains(log.String(), canary) {
				t.Errorf("the log holds the token:\n%s", log.String())
			}
		})
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestDispatcherBoundsAHangingCallback(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	d := NewDispatcher(&Options{Timeout: time.Millisecond, Logger: quiet})
	// The callback ignores its context: only the dispatcher's own bound
	// ends the call.
	d.Register("", "hang", func(context.Context, ProviderTokenArgs) (credential.Token, error) {
		<-release
		return credential.Token{Value: "late"}, nil
	})
	_, err := d.Token(context.Background(), ProviderTokenArgs{"s", "hang"})
	if codeOf(err) != rpc.CodeSourceTimeout {
		t.Fatalf("got %v, want code %d", err, rpc.CodeSourceTimeout)
	}
	if want := `tokenhost: provider "hang": no token within 1ms`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %q, want it to start %q", err, want)
	}
}

func TestDispatcherHonoursCallerCancel(t *testing.T) {
	d := NewDispatcher(&Options{Logger: quiet})
	started := make(chan struct{})
	d.Register("", "p", func(ctx context.Context, _ ProviderTokenArgs) (credential.Token, error) {
		close(started)
		<-ctx.Done()
		return credential.Token{}, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := d.Token(ctx, ProviderTokenArgs{"s", "p"})
	if codeOf(err) != rpc.CodeRequestCancelled {
		t.Errorf("got %v, want code %d", err, rpc.CodeRequestCancelled)
	}
}

func TestRegisterRemove(t *testing.T) {
	d := NewDispatcher(&Options{Logger: quiet})
	removeOld := d.Register("s", "p", fixed("old"))
	d.Register("s", "p", fixed("new"))
	removeOld() // must not remove the newer registration
	if tok, err := d.Token(context.Background(), ProviderTokenArgs{"s", "p"}); err != nil || tok.Value != "new" {
		t.Fatalf("after removing the old registration: %q, %v; want new", tok.Value, err)
	}
	d.Register("s", "q", fixed("q"))
	d.Register("", "q", fixed("any"))
	d.RemoveSession("s")
	if _, err := d.Token(context.Background(), ProviderTokenArgs{"s", "p"}); codeOf(err) != rpc.CodeUnknownProvider {
		t.Errorf("after RemoveSession: %v, want unknown provider", err)
	}
	if tok, _ := d.Token(context.Background(), ProviderTokenArgs{"s", "q"}); tok.Value != "any" {
		t.Errorf("RemoveSession removed another session's registration")
	}
}

func TestOnCall(t *testing.T) {
	var calls []Call
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewDispatcher(&Options{Logger: quiet, OnCall: func(c Call) { c.Took = 0; calls = append(calls, c) }})
	d.Register("", "default", func(context.Context, ProviderTokenArgs) (credential.Token, error) {
		return credential.Token{Value: "v", ExpiresOn: exp}, nil
	})
	d.Token(context.Background(), ProviderTokenArgs{"s", "red"})
	d.RemoveSession(AnySession)
	_, err := d.Token(context.Background(), ProviderTokenArgs{"s", "red"})
	want := []Call{
		{Args: ProviderTokenArgs{"s", "red"}, Provider: "default", ExpiresOn: exp},
		{Args: ProviderTokenArgs{"s", "red"}, Err: err},
	}
	if diff := cmp.Diff(want, calls, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestGetTokenOverTheWire drives the mounted dispatcher through an
// rpc.Conn as the runtime would.
func TestGetTokenOverTheWire(t *testing.T) {
	d := NewDispatcher(&Options{Logger: quiet})
	d.Register("", "default", fixed("tok-default"))
	mux := rpc.NewMux()
	d.Mount(mux)
	a, b := net.Pipe()
	conn := rpc.NewConn(context.Background(), a, mux, &rpc.Options{Logger: quiet})
	defer func() { b.Close(); conn.Close(); conn.Wait() }()
	r := bufio.NewReader(b)

	tests := []struct {
		params string
		want   string
	}{
		{`{"sessionId":"s","providerName":"default"}`, `{"jsonrpc":"2.0","id":ID,"result":{"token":"tok-default"}}`},
		{`{"sessionId":"s","providerName":"red","extra":1}`, `{"jsonrpc":"2.0","id":ID,"result":{"token":"tok-default"}}`},
		{`{"providerName":"default"}`, `{"jsonrpc":"2.0","id":ID,"error":{"code":-32602,"message":"invalid params: sessionId is missing or empty"}}`},
		{`{"sessionId":"s","providerName":""}`, `{"jsonrpc":"2.0","id":ID,"error":{"code":-32602,"message":"invalid params: providerName is missing or empty"}}`},
		{`{"sessionId":1,"providerName":"default"}`, `{"jsonrpc":"2.0","id":ID,"error":{"code":-32602,"message":"invalid params: providerToken.getToken needs {sessionId, providerName} as strings"}}`},
		{`null`, `{"jsonrpc":"2.0","id":ID,"error":{"code":-32602,"message":"invalid params: providerToken.getToken needs {sessionId, providerName}"}}`},
		{`["s","default"]`, `{"jsonrpc":"2.0","id":ID,"error":{"code":-32602,"message":"invalid params: providerToken.getToken needs {sessionId, providerName} as strings"}}`},
	}
	for i, tt := range tests {
		t.Run(tt.params, func(t *testing.T) {
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"providerToken.getToken","params":%s}`, i, tt.params)
			fmt.Fprintf(b, "Content-Length: %d\r\n\r\n%s", len(body), body)
			got := readBody(t, r)
			want := strings.Replace(tt.want, "ID", strconv.Itoa(i), 1)
			if !jsonEqual(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func readBody(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "Content-Length:")))
	if err != nil {
		t.Fatalf("bad header %q", line)
	}
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func jsonEqual(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && cmp.Equal(x, y)
}

// TestRegisterSourceAnswersHitsInline: with a cached source, a hit is
// answered by the inline handler (no goroutine), and everything else is
// left to the handler.
func TestRegisterSourceAnswersHitsInline(t *testing.T) {
	var calls []Call
	d := NewDispatcher(&Options{Logger: quiet, OnCall: func(c Call) { calls = append(calls, c) }})
	src := credential.NewCache(nil).Source("k", credential.SourceFunc(func(context.Context) (credential.Token, error) {
		return credential.Token{Value: "tok", ExpiresOn: time.Now().Add(time.Hour)}, nil
	}), 0)
	d.RegisterSource(AnySession, "red", src)
	params := json.RawMessage(`{"sessionId":"s","providerName":"red"}`)
	if _, ok := d.handleInline(params); ok {
		t.Fatal("a cold cache was answered inline")
	}
	if _, err := d.Token(context.Background(), ProviderTokenArgs{"s", "red"}); err != nil {
		t.Fatal(err)
	}
	got, ok := d.handleInline(params)
	if !ok || got != (rpc.ProviderTokenAcquireResult{Token: "tok"}) {
		t.Errorf("a hit: %v, %v; want the token inline", got, ok)
	}
	for _, p := range []string{`{"sessionId":"s","providerName":"blue"}`, `{"sessionId":"","providerName":"red"}`, `[]`, `null`} {
		if _, ok := d.handleInline(json.RawMessage(p)); ok {
			t.Errorf("%s was answered inline", p)
		}
	}
	if len(calls) != 2 || calls[1].Provider != "red" || calls[1].Err != nil {
		t.Errorf("OnCall saw %+v, want the acquisition and the inline hit", calls)
	}
}
