package session

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/rpc"
)

// pipePair returns the two ends of an in-memory duplex stream.
func pipePair() (a, b io.ReadWriteCloser) {
	ar, bw := io.Pipe()
	br, aw := io.Pipe()
	return duplex{ar, aw}, duplex{br, bw}
}

type duplex struct {
	*io.PipeReader
	*io.PipeWriter
}

func (d duplex) Close() error {
	d.PipeReader.Close()
	return d.PipeWriter.Close()
}

// attachFake attaches a client to an in-memory fake runtime speaking
// protocol.
func attachFake(t *testing.T, protocol int, opts *ClientOptions) (*Client, *fakeRuntime, error) {
	t.Helper()
	a, b := pipePair()
	f := newFakeRuntime(t.Context(), b, protocol, false)
	t.Cleanup(func() { f.conn.Close() })
	c, err := Attach(t.Context(), a, opts)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, f, err
}

func TestClientTurn(t *testing.T) {
	c, f, err := attachFake(t, ProtocolVersion, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.CreateSession(t.Context(), SessionConfig{
		ID:        "s-1",
		Model:     "gpt-4.1",
		Streaming: true,
		Provider:  &Provider{ProviderConfig: rpc.ProviderConfig{Type: rpc.ProviderConfigTypeOpenAI, BaseURL: "http://127.0.0.1:9/v1"}, Token: fixed("tok-1")},
		Providers: []NamedProvider{{NamedProviderConfig: rpc.NamedProviderConfig{Name: "red", BaseURL: "http://127.0.0.1:9/red"}, Token: fixed("tok-red")}},
		Models:    []rpc.ProviderModelConfig{{ID: "m", Provider: "red"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.WorkspacePath(), "/ws/s-1"; got != want {
		t.Errorf("workspace %q, want %q", got, want)
	}
	no := false
	want := []rpc.SessionCreateRequest{{
		SessionID:         "s-1",
		Model:             "gpt-4.1",
		Streaming:         true,
		RequestPermission: &no,
		Provider:          &rpc.ProviderConfig{Type: rpc.ProviderConfigTypeOpenAI, BaseURL: "http://127.0.0.1:9/v1", HasBearerTokenProvider: true},
		Providers:         []rpc.NamedProviderConfig{{Name: "red", BaseURL: "http://127.0.0.1:9/red", HasBearerTokenProvider: true}},
		Models:            []rpc.ProviderModelConfig{{ID: "m", Provider: "red"}},
	}}
	if diff := cmp.Diff(want, f.createRequests()); diff != "" {
		t.Errorf("session.create params (-want +got):\n%s", diff)
	}
	var types []string
	reply, err := s.Run(t.Context(), "hi", func(ev rpc.SessionEvent) { types = append(types, ev.Type) })
	if err != nil {
		t.Fatal(err)
	}
	if reply != "token=tok-1" {
		t.Errorf("reply %q, want %q", reply, "token=tok-1")
	}
	wantTypes := []string{rpc.EventAssistantMessageDelta, rpc.EventAssistantMessageDelta, rpc.EventAssistantMessage, rpc.EventSessionIdle}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, ok := <-s.Events(); ok {
		t.Error("events still open after Close")
	}
	// The session's callbacks are gone with it.
	if _, err := c.Dispatcher().Token(t.Context(), ProviderTokenArgs{SessionID: "s-1", ProviderName: "red"}); codeOf(err) != rpc.CodeUnknownProvider {
		t.Errorf("token after Close: %v, want code %d", err, rpc.CodeUnknownProvider)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Client.Close: %v", err)
	}
}

func TestClientSessionsKeepTheirProviders(t *testing.T) {
	c, _, err := attachFake(t, ProtocolVersion, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ id, model, want string }{
		{"a", "gpt-4.1", "token=tok-a"},
		{"b", "red/m", "token=tok-red-b"},
		{"c", "gpt-4.1", "token=tok-c"},
	}
	var sessions []*Session
	for _, tc := range tests {
		s, err := c.CreateSession(t.Context(), SessionConfig{
			ID:        tc.id,
			Model:     tc.model,
			Provider:  &Provider{ProviderConfig: rpc.ProviderConfig{BaseURL: "http://127.0.0.1:9"}, Token: fixed("tok-" + tc.id)},
			Providers: []NamedProvider{{NamedProviderConfig: rpc.NamedProviderConfig{Name: "red", BaseURL: "http://127.0.0.1:9"}, Token: fixed("tok-red-" + tc.id)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	for i, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			got, err := sessions[i].Run(t.Context(), "hi", nil)
			if err != nil || got != tc.want {
				t.Errorf("Run = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := c.CreateSession(t.Context(), SessionConfig{ID: "a"}); err == nil {
		t.Error("a second session with the same id was created")
	}
}

func TestClientTurnError(t *testing.T) {
	c, _, err := attachFake(t, ProtocolVersion, nil)
	if err != nil {
		t.Fatal(err)
	}
	failing := func(context.Context, ProviderTokenArgs) (credential.Token, error) {
		return credential.Token{}, errors.New("credential: exec source: exit status 3: login expired")
	}
	s, err := c.CreateSession(t.Context(), SessionConfig{Provider: &Provider{ProviderConfig: rpc.ProviderConfig{BaseURL: "http://127.0.0.1:9"}, Token: failing}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(t.Context(), "hi", nil)
	var te *TurnError
	if !errors.As(err, &te) {
		t.Fatalf("Run error %v, want a *TurnError", err)
	}
	want := `Provider token request failed: tokenhost: provider "default": credential: exec source: exit status 3: login expired`
	if te.Message != want || te.ErrorType != "authentication" {
		t.Errorf("TurnError %+v, want message %q", te.SessionErrorData, want)
	}
}

// TestClientEventsNeverBlockTheReadLoop: a session whose events nobody
// reads does not hold up another session on the same connection.
func TestClientEventsNeverBlockTheReadLoop(t *testing.T) {
	c, _, err := attachFake(t, ProtocolVersion, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(id string) SessionConfig {
		return SessionConfig{ID: id, Provider: &Provider{ProviderConfig: rpc.ProviderConfig{BaseURL: "http://127.0.0.1:9"}, Token: fixed("tok-" + id)}}
	}
	unread, err := c.CreateSession(t.Context(), cfg("unread"))
	if err != nil {
		t.Fatal(err)
	}
	busy, err := c.CreateSession(t.Context(), cfg("busy"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unread.Send(t.Context(), "flood 5000"); err != nil {
		t.Fatal(err)
	}
	if got, err := busy.Run(t.Context(), "hi", nil); err != nil || got != "token=tok-busy" {
		t.Fatalf("Run = %q, %v", got, err)
	}
}

func TestClientProtocolMismatch(t *testing.T) {
	_, _, err := attachFake(t, 2, nil)
	if err == nil || !strings.Contains(err.Error(), "speaks protocol version 2; this client speaks 3") {
		t.Fatalf("Attach error %v, want a protocol mismatch", err)
	}
}

func TestClientRuntimeGone(t *testing.T) {
	c, f, err := attachFake(t, ProtocolVersion, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.CreateSession(t.Context(), SessionConfig{Provider: &Provider{ProviderConfig: rpc.ProviderConfig{BaseURL: "http://127.0.0.1:9"}, Token: fixed("x")}})
	if err != nil {
		t.Fatal(err)
	}
	f.conn.Close()
	<-c.Done()
	if _, ok := <-s.Events(); ok {
		t.Error("events still open after the connection ended")
	}
	if _, err := s.Send(t.Context(), "hi"); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after the end: %v, want ErrClosed", err)
	}
	if err := c.Err(); err == nil {
		t.Error("Err is nil after the runtime went away")
	}
	if err := c.Close(); err == nil {
		t.Error("Close after the runtime went away returned nil")
	}
}

// fakeOptions runs this test binary as the runtime, in mode. Its shutdown
// timeout is generous: a loaded machine (-race, packages in parallel) must
// not turn a clean exit into a kill; tests of the kill path set their own.
func fakeOptions(t *testing.T, mode string) *ClientOptions {
	return &ClientOptions{
		Path:            os.Args[0],
		Home:            t.TempDir(),
		Env:             []string{fakeRuntimeEnv + "=" + mode},
		ShutdownTimeout: time.Minute,
	}
}

func TestStartSpawnsAndShutsDown(t *testing.T) {
	opts := fakeOptions(t, "ok")
	c, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Runtime().Version, "home="+opts.Home; got != want {
		t.Errorf("the runtime saw %q, want %q", got, want)
	}
	s, err := c.CreateSession(t.Context(), SessionConfig{Provider: &Provider{ProviderConfig: rpc.ProviderConfig{BaseURL: "http://127.0.0.1:9"}, Token: fixed("tok-spawned")}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Run(t.Context(), "hi", nil); err != nil || got != "token=tok-spawned" {
		t.Fatalf("Run = %q, %v", got, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !c.proc.cmd.ProcessState.Exited() || !c.proc.cmd.ProcessState.Success() {
		t.Errorf("the runtime ended %v, want a clean exit", c.proc.cmd.ProcessState)
	}
}

func TestStartRuntimeCrash(t *testing.T) {
	c, err := Start(t.Context(), fakeOptions(t, "ok"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.CreateSession(t.Context(), SessionConfig{Provider: &Provider{ProviderConfig: rpc.ProviderConfig{BaseURL: "http://127.0.0.1:9"}, Token: fixed("x")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(t.Context(), "crash", nil)
	if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "exit status 3: fatal: boom") {
		t.Errorf("Run error %v, want ErrClosed with the exit status and the last stderr line", err)
	}
	if err := c.Close(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Close = %v, want the runtime's exit", err)
	}
	if c.proc.cmd.ProcessState == nil {
		t.Error("the runtime was not reaped")
	}
}

func TestStartContextKills(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	c, err := Start(ctx, fakeOptions(t, "deaf"))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-c.Done()
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Err = %v, want the runtime killed", err)
	}
	c.Close()
}

// TestCloseKillsADeafRuntime: a runtime that answers neither
// runtime.shutdown nor the end of its stdin is killed, and reaped.
func TestCloseKillsADeafRuntime(t *testing.T) {
	opts := fakeOptions(t, "deaf")
	opts.ShutdownTimeout = 50 * time.Millisecond
	c, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if ps := c.proc.cmd.ProcessState; ps == nil || ps.Success() {
		t.Errorf("the runtime ended %v, want killed", ps)
	}
}

func TestStartRuntimeNotFound(t *testing.T) {
	_, err := Start(t.Context(), &ClientOptions{
		getenv:   func(string) string { return "" },
		lookPath: func(string) (string, error) { return "", exec.ErrNotFound },
	})
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "COPILOT_CLI_PATH") {
		t.Errorf("Start error %v, want not found, naming COPILOT_CLI_PATH", err)
	}
	_, err = Start(t.Context(), &ClientOptions{
		getenv: func(k string) string { return map[string]string{"COPILOT_CLI_PATH": "/nonexistent/copilot"}[k] },
	})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/copilot") {
		t.Errorf("Start error %v, want one naming $COPILOT_CLI_PATH's program", err)
	}
}
