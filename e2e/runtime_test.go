package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/e2e/internal/modelserver"
	"github.com/tokenhost/tokenhost/rpc"
	sess "github.com/tokenhost/tokenhost/session"
)

// The tests in this file run the real Copilot runtime (pinned in
// e2e/runtime), fully offline: its model provider is a loopback
// [modelserver], its HOME a temporary directory, and its tokens come from
// callbacks of a [sess.Client] (package session, imported as sess: the
// suite's own session constant has the name).

// runtimeBinary is the pinned runtime, relative to this package.
const runtimeBinary = "runtime/node_modules/@github/copilot-linux-x64/copilot"

// copilotPath returns the runtime to test: $COPILOT_CLI_PATH, else the
// pinned one. It skips the test when there is none, unless
// TOKENHOST_REQUIRE_RUNTIME=1 (as in `make test`), which fails it.
func copilotPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("COPILOT_CLI_PATH")
	if p == "" {
		abs, err := filepath.Abs(runtimeBinary)
		if err != nil {
			t.Fatal(err)
		}
		p = abs
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("TOKENHOST_REQUIRE_RUNTIME") == "1" {
			t.Fatalf("the Copilot runtime is required (TOKENHOST_REQUIRE_RUNTIME=1) but missing: %v; run `make runtime`", err)
		}
		t.Skipf("the Copilot runtime is not installed (%v): run `make runtime`", err)
	}
	return p
}

// startRuntime starts the real runtime with a HOME and working directory of
// its own, answering token requests with d. It is closed at the end of the
// test; its stderr goes to the test's output.
func startRuntime(t *testing.T, d *sess.Dispatcher) *sess.Client {
	t.Helper()
	path := copilotPath(t)
	c, err := sess.Start(bounded(t), &sess.ClientOptions{
		Path:       path,
		Home:       t.TempDir(),
		Dir:        t.TempDir(),
		Stderr:     t.Output(),
		Dispatcher: d,
	})
	if err != nil {
		t.Fatalf("starting the runtime: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("closing the runtime: %v", err)
		}
	})
	return c
}

// startModel starts a loopback model endpoint replying reply.
func startModel(t *testing.T, reply string) *modelserver.Server {
	t.Helper()
	m, err := modelserver.New(reply, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// fixedToken answers every request with tok.
func fixedToken(tok string) sess.TokenFunc {
	return func(context.Context, sess.ProviderTokenArgs) (credential.Token, error) {
		return credential.Token{Value: tok}, nil
	}
}

// completions is the path of every model request the runtime makes.
const completions = "/v1" + modelserver.Path

// authOf lists the (path, Authorization) pairs of the requests.
func authOf(reqs []modelserver.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Path+" "+r.Authorization)
	}
	return out
}

// TestRuntimeBearerToken: the token a whole-session provider's callback
// returns reaches the model endpoint as `Authorization: Bearer <token>`,
// and the turn completes with the endpoint's reply, streamed as deltas.
func TestRuntimeBearerToken(t *testing.T) {
	t.Parallel()
	model := startModel(t, "hello from the loopback model")
	var (
		mu    sync.Mutex
		calls []sess.Call
	)
	d := sess.NewDispatcher(&sess.Options{OnCall: func(c sess.Call) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, c)
	}})
	c := startRuntime(t, d)
	if got := c.Runtime().ProtocolVersion; got != sess.ProtocolVersion {
		t.Errorf("protocol version %d, want %d", got, sess.ProtocolVersion)
	}
	s, err := c.CreateSession(bounded(t), sess.SessionConfig{
		Model:     "gpt-4.1",
		Streaming: true,
		Provider: &sess.Provider{
			ProviderConfig: rpc.ProviderConfig{Type: rpc.ProviderConfigTypeOpenAI, BaseURL: model.URL()},
			Token:          fixedToken("tok-a-1c5e"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var deltas strings.Builder
	reply, err := s.Run(bounded(t), "say hello", func(ev rpc.SessionEvent) {
		if ev.Type == rpc.EventAssistantMessageDelta {
			deltas.WriteString(deltaOf(t, ev))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if reply != "hello from the loopback model" {
		t.Errorf("reply %q, want the model's", reply)
	}
	if deltas.String() != reply {
		t.Errorf("deltas join to %q, want the reply %q", deltas.String(), reply)
	}
	if diff := cmp.Diff([]string{completions + " Bearer tok-a-1c5e"}, authOf(model.Requests())); diff != "" {
		t.Errorf("model requests (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0].Args.SessionID != s.ID() || calls[0].Args.ProviderName != sess.DefaultProvider || calls[0].Err != nil {
		t.Errorf("token calls %+v, want one for session %q, provider %q", calls, s.ID(), sess.DefaultProvider)
	}
	if err := s.Close(bounded(t)); err != nil {
		t.Errorf("closing the session: %v", err)
	}
}

func deltaOf(t *testing.T, ev rpc.SessionEvent) string {
	t.Helper()
	var d rpc.AssistantMessageDeltaData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Errorf("assistant.message_delta data: %v", err)
	}
	return d.DeltaContent
}
