package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/credential/credtest"
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
// its own, answering token requests with d (nil: a new one). It is closed at the end of the
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
		Logger:     testLogger(t),
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

// testLogger logs to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
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
	d := sess.NewDispatcher(&sess.Options{Logger: testLogger(t), OnCall: func(c sess.Call) {
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

// newSession creates a session on c, failing the test on error.
func newSession(t *testing.T, c *sess.Client, cfg sess.SessionConfig) *sess.Session {
	t.Helper()
	s, err := c.CreateSession(bounded(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wholeSession is a config whose whole-session provider is model, with
// token as its callback.
func wholeSession(model *modelserver.Server, token sess.TokenFunc) sess.SessionConfig {
	return sess.SessionConfig{
		Model: "gpt-4.1",
		Provider: &sess.Provider{
			ProviderConfig: rpc.ProviderConfig{Type: rpc.ProviderConfigTypeOpenAI, BaseURL: model.URL()},
			Token:          token,
		},
	}
}

// named is a named provider of type openai at model.
func named(name string, model *modelserver.Server, token sess.TokenFunc) sess.NamedProvider {
	return sess.NamedProvider{
		NamedProviderConfig: rpc.NamedProviderConfig{Name: name, Type: rpc.ProviderConfigTypeOpenAI, BaseURL: model.URL()},
		Token:               token,
	}
}

// TestRuntimeAsksPerRequestCacheAnswers: the runtime asks for a token
// before every model request (two turns, two requests, two token calls),
// and a credential.Cache in front of the source answers the second from
// its entry: the source is acquired from once.
func TestRuntimeAsksPerRequestCacheAnswers(t *testing.T) {
	t.Parallel()
	model := startModel(t, "cached")
	var upstream atomic.Int32
	src := credential.SourceFunc(func(context.Context) (credential.Token, error) {
		upstream.Add(1)
		return credential.Token{Value: "tok-b-7f2a", ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	cached := credential.NewCache(nil).Source("b", src, 0)
	var asked atomic.Int32
	d := sess.NewDispatcher(&sess.Options{Logger: testLogger(t), OnCall: func(c sess.Call) {
		if c.Err == nil {
			asked.Add(1)
		}
	}})
	c := startRuntime(t, d)
	s := newSession(t, c, wholeSession(model, sess.SourceFunc(cached)))
	for _, prompt := range []string{"first", "second"} {
		if _, err := s.Run(bounded(t), prompt, nil); err != nil {
			t.Fatalf("turn %q: %v", prompt, err)
		}
	}
	want := []string{completions + " Bearer tok-b-7f2a", completions + " Bearer tok-b-7f2a"}
	if diff := cmp.Diff(want, authOf(model.Requests())); diff != "" {
		t.Errorf("model requests (-want +got):\n%s", diff)
	}
	if got := asked.Load(); got != 2 {
		t.Errorf("the runtime asked for %d tokens, want 2 (one per model request)", got)
	}
	if got := upstream.Load(); got != 1 {
		t.Errorf("the source was acquired from %d times, want 1 (the cache answers the second)", got)
	}
}

// TestRuntimeNamedProviders: two sessions on one connection, each with two
// named providers and their models, each token routed by session and
// provider: every request reaches its provider's endpoint with that
// provider's token of that session, never another's.
func TestRuntimeNamedProviders(t *testing.T) {
	t.Parallel()
	red, blue := startModel(t, "from red"), startModel(t, "from blue")
	c := startRuntime(t, nil)
	models := []rpc.ProviderModelConfig{{ID: "gpt-4.1", Provider: "red"}, {ID: "gpt-4.1", Provider: "blue"}}
	tests := []struct {
		session, model, reply string
	}{
		{"s1", "red/gpt-4.1", "from red"},
		{"s2", "blue/gpt-4.1", "from blue"},
		{"s3", "red/gpt-4.1", "from red"},
	}
	for _, tc := range tests {
		s := newSession(t, c, sess.SessionConfig{
			Model: tc.model,
			Providers: []sess.NamedProvider{
				named("red", red, fixedToken("tok-red-"+tc.session)),
				named("blue", blue, fixedToken("tok-blue-"+tc.session)),
			},
			Models: models,
		})
		reply, err := s.Run(bounded(t), "which provider?", nil)
		if err != nil {
			t.Fatalf("session %s: %v", tc.session, err)
		}
		if reply != tc.reply {
			t.Errorf("session %s: reply %q, want %q", tc.session, reply, tc.reply)
		}
	}
	if diff := cmp.Diff([]string{completions + " Bearer tok-red-s1", completions + " Bearer tok-red-s3"}, authOf(red.Requests())); diff != "" {
		t.Errorf("red's requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{completions + " Bearer tok-blue-s2"}, authOf(blue.Requests())); diff != "" {
		t.Errorf("blue's requests (-want +got):\n%s", diff)
	}
}

// TestRuntimeFailingSource: when a provider's source fails, the turn fails
// (after the runtime's own retries) with a session.error that names the
// provider and the cause, and holds neither the command's stdout (a
// canary) nor anything else secret; no model request is made.
func TestRuntimeFailingSource(t *testing.T) {
	t.Parallel()
	model := startModel(t, "unreachable")
	const canary = "SECRET-CANARY-d41e"
	stdout := filepath.Join(t.TempDir(), "stdout")
	if err := os.WriteFile(stdout, []byte(canary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := credential.NewExecSource([]string{"/bin/sh", testdata(t, "fail.sh"), stdout, "AADSTS7000215: invalid client secret provided"}, &credential.ExecOptions{Name: "red-login"})
	c := startRuntime(t, sess.NewDispatcher(&sess.Options{Logger: testLogger(t)}))
	s := newSession(t, c, sess.SessionConfig{
		Model:     "red/gpt-4.1",
		Providers: []sess.NamedProvider{named("red", model, sess.SourceFunc(src))},
		Models:    []rpc.ProviderModelConfig{{ID: "gpt-4.1", Provider: "red"}},
	})
	_, err := s.Run(bounded(t), "hi", nil)
	var te *sess.TurnError
	if !errors.As(err, &te) {
		t.Fatalf("turn error %v, want a *session.TurnError", err)
	}
	t.Logf("the user sees: %s", te.Message)
	for _, want := range []string{`provider "red"`, "AADSTS7000215", "exit status 3"} {
		if !strings.Contains(te.Message, want) {
			t.Errorf("the user sees %q, want it to name %q", te.Message, want)
		}
	}
	if strings.Contains(te.Message, canary) {
		t.Errorf("the user sees the command's stdout: %q", te.Message)
	}
	if reqs := model.Requests(); len(reqs) != 0 {
		t.Errorf("the model got %d requests, want none", len(reqs))
	}
}

// TestRuntimeHangingSource: a source that never answers is bounded by the
// dispatcher's timeout, so the turn ends (failed, naming the timeout)
// instead of hanging, though the runtime never cancels a token request.
func TestRuntimeHangingSource(t *testing.T) {
	t.Parallel()
	model := startModel(t, "unreachable")
	src := credential.NewExecSource([]string{"/bin/sh", testdata(t, "hang.sh")}, nil)
	d := sess.NewDispatcher(&sess.Options{Logger: testLogger(t), Timeout: 200 * time.Millisecond})
	c := startRuntime(t, d)
	s := newSession(t, c, wholeSession(model, sess.SourceFunc(src)))
	_, err := s.Run(bounded(t), "hi", nil)
	var te *sess.TurnError
	if !errors.As(err, &te) {
		t.Fatalf("turn error %v, want a *session.TurnError", err)
	}
	for _, want := range []string{`provider "default"`, "no token within 200ms"} {
		if !strings.Contains(te.Message, want) {
			t.Errorf("the user sees %q, want it to name %q", te.Message, want)
		}
	}
	if reqs := model.Requests(); len(reqs) != 0 {
		t.Errorf("the model got %d requests, want none", len(reqs))
	}
}

// runConfig is a config for `tokenhost run`, with models; writeConfig's
// config has none.
type runConfig struct {
	Model     string                    `json:"model,omitempty"`
	Models    []rpc.ProviderModelConfig `json:"models,omitempty"`
	Providers []provider                `json:"providers"`
}

// TestRuntimeTokenhostRun: the built binary's `tokenhost run` completes a
// turn on the real runtime with a config whose providers take their tokens
// from an environment variable or a command: the reply is on stdout, each
// token request on stderr (never the token); a failing source makes it
// exit 1 with the runtime's error.
func TestRuntimeTokenhostRun(t *testing.T) {
	t.Parallel()
	if os.Getenv(hostCmdEnv) != "" {
		t.Skipf("%s names another host: `run` is tokenhost's own", hostCmdEnv)
	}
	copilot := copilotPath(t)
	const canary = "SECRET-CANARY-f00d"
	stdoutFile := filepath.Join(t.TempDir(), "stdout")
	if err := os.WriteFile(stdoutFile, []byte(canary), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		providers func(url string) []provider
		models    []rpc.ProviderModelConfig
		model     string
		token     string // what the model endpoint must see
		wantCode  int
		stderr    []string // what stderr must say
	}{
		{
			name: "default provider, env source",
			providers: func(url string) []provider {
				return []provider{{Name: "default", Auth: envAuth("E2E_RUN_TOKEN"), Wire: map[string]any{"type": "openai", "baseUrl": url}}}
			},
			model:  "gpt-4.1",
			token:  "tok-from-env-91",
			stderr: []string{`token for provider "default" acquired in`},
		},
		{
			name: "named provider, exec source",
			providers: func(url string) []provider {
				return []provider{{Name: "red", Auth: execAuth(t, "print.sh", "tok-from-exec-37"), Wire: map[string]any{"type": "openai", "baseUrl": url}}}
			},
			models: []rpc.ProviderModelConfig{{ID: "gpt-4.1", Provider: "red"}},
			token:  "tok-from-exec-37",
			stderr: []string{`token for provider "red" acquired in`},
		},
		{
			name: "failing source",
			providers: func(url string) []provider {
				return []provider{{Name: "red", Auth: execAuth(t, "fail.sh", stdoutFile, "login expired: run az login"), Wire: map[string]any{"type": "openai", "baseUrl": url}}}
			},
			models:   []rpc.ProviderModelConfig{{ID: "gpt-4.1", Provider: "red"}},
			wantCode: 1,
			stderr:   []string{`tokenhost run: Failed to get response`, `provider "red"`, "login expired: run az login", `token for provider "red" failed after`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			model := startModel(t, "the reply, streamed")
			cfg, err := json.Marshal(runConfig{Model: tc.model, Models: tc.models, Providers: tc.providers(model.URL())})
			if err != nil {
				t.Fatal(err)
			}
			cfgPath := writeFile(t, "config.json", string(cfg))
			cmd := exec.CommandContext(bounded(t), hostCmd[0], "run", "--config", cfgPath, "-p", "say something", "--copilot", copilot)
			cmd.Env = hostEnv(t, "E2E_RUN_TOKEN=tok-from-env-91")
			cmd.Dir = t.TempDir()
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			t.Logf("stderr:\n%s", stderr.String())
			if got := cmd.ProcessState.ExitCode(); got != tc.wantCode {
				t.Fatalf("exit status %d (%v), want %d", got, err, tc.wantCode)
			}
			if tc.wantCode == 0 {
				if got, want := stdout.String(), "the reply, streamed\n"; got != want {
					t.Errorf("stdout %q, want %q", got, want)
				}
				if diff := cmp.Diff([]string{completions + " Bearer " + tc.token}, authOf(model.Requests())); diff != "" {
					t.Errorf("model requests (-want +got):\n%s", diff)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not say %q", want)
				}
			}
			for _, secret := range []string{tc.token, canary} {
				if secret != "" && strings.Contains(stderr.String(), secret) {
					t.Errorf("stderr shows a secret %q", secret)
				}
			}
		})
	}
}

// TestRuntimeKeylessChain: the whole keyless chain, offline. An azure
// client-secret source and a github-oidc source (federated through the
// loopback GitHub Actions issuer) each get a token from the loopback Entra
// stand-in, and the runtime delivers exactly that token to the model
// endpoint. Not parallel: the github-oidc source reads the Actions
// variables from the process environment.
func TestRuntimeKeylessChain(t *testing.T) {
	copilotPath(t)
	ca := credtest.NewCA()
	gh := credtest.NewGitHubOIDC(ca, nil)
	t.Cleanup(gh.Close)
	const subject = "repo:octo-org/octo-repo:ref:refs/heads/main"
	entra := credtest.NewEntra(ca, &credtest.EntraOptions{
		Apps: []credtest.App{
			{TenantID: "contoso.example", ClientID: "secret-app", Secret: "s3cret-e2e"},
			{TenantID: "contoso.example", ClientID: "oidc-app", FederatedSubject: subject},
		},
		Federation: gh,
	})
	t.Cleanup(entra.Close)
	for k, v := range gh.Env() {
		t.Setenv(k, v)
	}
	t.Setenv("E2E_APP_SECRET", "s3cret-e2e")
	entraClient := credential.EntraClientOptions{AuthorityHost: entra.URL(), DisableInstanceDiscovery: true, Transport: ca.Client(credtest.NewDialGuard())}
	azure, err := credential.NewAzureSource(&credential.AzureOptions{
		Credential:         credential.AzureClientSecret,
		TenantID:           credential.Ref{Value: "contoso.example"},
		ClientID:           credential.Ref{Value: "secret-app"},
		ClientSecret:       credential.SecretRef{Env: "E2E_APP_SECRET"},
		EntraClientOptions: entraClient,
	})
	if err != nil {
		t.Fatal(err)
	}
	oidc, err := credential.NewGitHubOIDCSource(&credential.GitHubOIDCOptions{
		TenantID:           credential.Ref{Value: "contoso.example"},
		ClientID:           credential.Ref{Value: "oidc-app"},
		EntraClientOptions: entraClient,
	})
	if err != nil {
		t.Fatal(err)
	}
	azureModel, oidcModel := startModel(t, "via azure"), startModel(t, "via github-oidc")
	c := startRuntime(t, sess.NewDispatcher(&sess.Options{Logger: testLogger(t)}))
	s := newSession(t, c, sess.SessionConfig{
		Model: "azure/gpt-4.1",
		Providers: []sess.NamedProvider{
			named("azure", azureModel, sess.SourceFunc(azure)),
			named("oidc", oidcModel, sess.SourceFunc(oidc)),
		},
		Models: []rpc.ProviderModelConfig{{ID: "gpt-4.1", Provider: "azure"}},
	})
	if reply, err := s.Run(bounded(t), "hi", nil); err != nil || reply != "via azure" {
		t.Fatalf("azure turn: %q, %v", reply, err)
	}
	s2 := newSession(t, c, sess.SessionConfig{
		Model:     "oidc/gpt-4.1",
		Providers: []sess.NamedProvider{named("oidc", oidcModel, sess.SourceFunc(oidc))},
		Models:    []rpc.ProviderModelConfig{{ID: "gpt-4.1", Provider: "oidc"}},
	})
	if reply, err := s2.Run(bounded(t), "hi", nil); err != nil || reply != "via github-oidc" {
		t.Fatalf("github-oidc turn: %q, %v", reply, err)
	}
	for name, model := range map[string]*modelserver.Server{"azure": azureModel, "github-oidc": oidcModel} {
		// A named provider with no entry in models (oidc in the first
		// session) also gets an unauthenticated GET /models: keep the
		// completions.
		var reqs []modelserver.Request
		for _, r := range model.Requests() {
			if r.Path == completions {
				reqs = append(reqs, r)
			}
		}
		if len(reqs) != 1 {
			t.Fatalf("%s: model requests %+v, want 1", name, reqs)
		}
		tok, ok := strings.CutPrefix(reqs[0].Authorization, "Bearer ")
		if !ok {
			t.Fatalf("%s: Authorization %q is not a bearer token", name, reqs[0].Authorization)
		}
		claims, err := entra.VerifyAccessToken(tok)
		if err != nil {
			t.Errorf("%s: the model got a token the Entra stand-in did not mint: %v", name, err)
			continue
		}
		if claims["aud"] != "https://cognitiveservices.azure.com" {
			t.Errorf("%s: token audience %v, want https://cognitiveservices.azure.com", name, claims["aud"])
		}
	}
	if got := len(gh.Minted()); got != 1 {
		t.Errorf("the Actions issuer minted %d tokens, want 1", got)
	}
}
