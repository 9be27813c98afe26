package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/e2e/internal/peer"
	"github.com/tokenhost/tokenhost/rpc"
)

// TestTokenReachesCaller: each kind of source answers getToken with its
// token, and the runtime's wire fields in a provider entry are accepted.
func TestTokenReachesCaller(t *testing.T) {
	t.Parallel()
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	cfg := writeConfig(t, config{Providers: []provider{
		{Name: "default", Auth: envAuth("E2E_TOKEN")},
		{Name: "file", Auth: fileAuth(writeFile(t, "token", "tok-from-file")), Wire: map[string]any{
			"type": "openai", "baseUrl": "http://127.0.0.1:9/v1", "wireApi": "responses", "headers": map[string]string{"X-Team": "e2e"},
		}},
		{Name: "exec", Auth: execAuth(t, "print.sh", "tok-from-exec"), Wire: map[string]any{
			"type": "azure", "baseUrl": "http://127.0.0.1:9/openai", "azure": map[string]any{"apiVersion": "2024-10-21"},
		}},
		{Name: "exec-json", Auth: execAuth(t, "print.sh", `{"token":"tok-from-json","expiresOn":"`+future+`"}`)},
	}})
	h := startHost(t, cfg, hostEnv(t, "E2E_TOKEN=tok-from-env"))
	tests := []struct{ provider, want string }{
		{"default", "tok-from-env"},
		{"file", "tok-from-file"},
		{"exec", "tok-from-exec"},
		{"exec-json", "tok-from-json"},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) { getToken(t, h, tc.provider, tc.want) })
	}
	endSession(t, h)
}

// TestFreshAcquisitionPerCall: a source without an expiry is read again on
// every call, so a change shows on the next call.
func TestFreshAcquisitionPerCall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	write := func(t *testing.T, path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(t, tokenFile, "tok-file-1")
	counter := filepath.Join(dir, "counter")
	cfg := writeConfig(t, config{Providers: []provider{
		{Name: "file", Auth: fileAuth(tokenFile)},
		{Name: "exec", Auth: execAuth(t, "counter.sh", counter, "tok-exec")},
	}})
	h := startHost(t, cfg, hostEnv(t))

	t.Run("file rewritten in place", func(t *testing.T) {
		getToken(t, h, "file", "tok-file-1")
		write(t, tokenFile, "tok-file-22") // a new length: a change whatever the clock's resolution
		getToken(t, h, "file", "tok-file-22")
		write(t, tokenFile, "tok-file-333")
		getToken(t, h, "file", "tok-file-333")
	})
	t.Run("file renamed over", func(t *testing.T) {
		next := filepath.Join(dir, "token.next")
		write(t, next, "tok-file-rename")
		if err := os.Rename(next, tokenFile); err != nil {
			t.Fatal(err)
		}
		getToken(t, h, "file", "tok-file-rename")
	})
	t.Run("exec output changed", func(t *testing.T) {
		for i := range 3 {
			getToken(t, h, "exec", fmt.Sprintf("tok-exec-%d", i))
		}
	})
	endSession(t, h)
}

// TestDispatchByProvider: each name reaches its own source; a name with no
// source falls back to "default" unless the host is strict, and then the
// error names the provider and the known ones.
func TestDispatchByProvider(t *testing.T) {
	t.Parallel()
	providers := func(t *testing.T) []provider {
		return []provider{
			{Name: "default", Auth: envAuth("E2E_DEFAULT")},
			{Name: "red", Auth: execAuth(t, "print.sh", "tok-red")},
			{Name: "blue", Auth: fileAuth(writeFile(t, "blue", "tok-blue"))},
		}
	}
	env := func(t *testing.T) []string { return hostEnv(t, "E2E_DEFAULT=tok-default") }
	tests := []struct {
		name   string
		strict bool     // in the config
		flags  []string // on the command line
	}{
		{name: "lenient"},
		{name: "strict by config", strict: true},
		{name: "strict by flag", flags: []string{"--strict"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startHost(t, writeConfig(t, config{Strict: tc.strict, Providers: providers(t)}), env(t), tc.flags...)
			getToken(t, h, "default", "tok-default")
			getToken(t, h, "red", "tok-red")
			getToken(t, h, "blue", "tok-blue")
			if tc.strict || len(tc.flags) > 0 {
				wantError(t, wait(t, goToken(t, h, "green")), rpc.CodeUnknownProvider, `green`, "default", "red", "blue")
			} else {
				getToken(t, h, "green", "tok-default")
			}
			endSession(t, h)
		})
	}
}

// TestUnknownProviderWithoutDefault: with no "default" to fall back to, an
// unknown name is an error that names it and the known providers.
func TestUnknownProviderWithoutDefault(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, config{Providers: []provider{
		{Name: "red", Auth: execAuth(t, "print.sh", "tok-red")},
		{Name: "blue", Auth: execAuth(t, "print.sh", "tok-blue")},
	}})
	h := startHost(t, cfg, hostEnv(t))
	for _, name := range []string{"default", "green"} {
		wantError(t, wait(t, goToken(t, h, name)), rpc.CodeUnknownProvider, name, "red", "blue")
	}
	getToken(t, h, "red", "tok-red")
	endSession(t, h)
}

// TestErrorCodes: every request a host must refuse gets its JSON-RPC error
// code, under the request's id, and the host goes on serving.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, config{Providers: []provider{
		{Name: "default", Auth: envAuth("E2E_TOKEN")},
		{Name: "unset", Auth: envAuth("E2E_UNSET_VAR")},
		{Name: "failing", Auth: execAuth(t, "fail.sh", "", "failing: the issuer said no")},
	}})
	h := startHost(t, cfg, hostEnv(t, "E2E_TOKEN=tok-default"))
	params := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name   string
		method string
		params any
		code   int64
		parts  []string // the message contains each
	}{
		{"unknown method", "providerToken.nothing", params(`{}`), rpc.CodeMethodNotFound, []string{"providerToken.nothing"}},
		{"no params", peer.MethodGetToken, nil, rpc.CodeInvalidParams, nil},
		{"null params", peer.MethodGetToken, params(`null`), rpc.CodeInvalidParams, nil},
		{"params an array", peer.MethodGetToken, params(`["` + session + `","default"]`), rpc.CodeInvalidParams, nil},
		{"params a string", peer.MethodGetToken, params(`"default"`), rpc.CodeInvalidParams, nil},
		{"sessionId missing", peer.MethodGetToken, params(`{"providerName":"default"}`), rpc.CodeInvalidParams, []string{"sessionId"}},
		{"sessionId empty", peer.MethodGetToken, params(`{"sessionId":"","providerName":"default"}`), rpc.CodeInvalidParams, []string{"sessionId"}},
		{"sessionId a number", peer.MethodGetToken, params(`{"sessionId":42,"providerName":"default"}`), rpc.CodeInvalidParams, nil},
		{"providerName missing", peer.MethodGetToken, params(`{"sessionId":"s"}`), rpc.CodeInvalidParams, []string{"providerName"}},
		{"providerName empty", peer.MethodGetToken, params(`{"sessionId":"s","providerName":""}`), rpc.CodeInvalidParams, []string{"providerName"}},
		{"providerName a bool", peer.MethodGetToken, params(`{"sessionId":"s","providerName":true}`), rpc.CodeInvalidParams, nil},
		{"source failed", peer.MethodGetToken, peer.TokenParams{SessionID: session, ProviderName: "failing"}, rpc.CodeSourceFailed, []string{`failing`, "the issuer said no"}},
		{"source unavailable", peer.MethodGetToken, peer.TokenParams{SessionID: session, ProviderName: "unset"}, rpc.CodeSourceUnavailable, []string{`unset`, "E2E_UNSET_VAR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := h.Go(tc.method, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, wait(t, c), tc.code, tc.parts...)
			getToken(t, h, "default", "tok-default")
		})
	}
	endSession(t, h)
}

// TestEmptyTokenNeverAnswered: a source that yields an empty token is an
// error, never {"token": ""}.
func TestEmptyTokenNeverAnswered(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, config{Providers: []provider{
		{Name: "env-empty", Auth: envAuth("E2E_EMPTY")},
		{Name: "env-blank", Auth: envAuth("E2E_BLANK")},
		{Name: "file-empty", Auth: fileAuth(writeFile(t, "empty", ""))},
		{Name: "file-blank", Auth: fileAuth(writeFile(t, "blank", " \n"))},
		{Name: "exec-empty", Auth: execAuth(t, "print.sh", "")},
		{Name: "exec-blank", Auth: execAuth(t, "print.sh", "\n\t \n")},
		{Name: "exec-json-empty", Auth: execAuth(t, "print.sh", `{"token":""}`)},
	}})
	h := startHost(t, cfg, hostEnv(t, "E2E_EMPTY=", "E2E_BLANK=  "))
	for _, name := range []string{"env-empty", "env-blank", "file-empty", "file-blank", "exec-empty", "exec-blank", "exec-json-empty"} {
		t.Run(name, func(t *testing.T) {
			resp := wait(t, goToken(t, h, name))
			if resp.Error == nil {
				t.Fatalf("answer = %s, want an error", resp.Raw)
			}
			if !strings.Contains(resp.Error.Message, name) {
				t.Errorf("error message %q does not name the provider %q", resp.Error.Message, name)
			}
		})
	}
	endSession(t, h)
}

// TestTimeoutBoundsAcquisition: a source that never answers is cut off by
// the host's timeout (from the config or --timeout) with -32002, and a
// call to another provider sent after it is answered first.
func TestTimeoutBoundsAcquisition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout string   // in the config
		flags   []string // on the command line
	}{
		{name: "config timeout", timeout: "2s"},
		{name: "--timeout", flags: []string{"--timeout", "2s"}},
		{name: "--timeout over the config's", timeout: "10m", flags: []string{"--timeout", "2s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := writeConfig(t, config{Timeout: tc.timeout, Providers: []provider{
				{Name: "default", Auth: envAuth("E2E_TOKEN")},
				{Name: "hang", Auth: execAuth(t, "hang.sh")},
			}})
			h := startHost(t, cfg, hostEnv(t, "E2E_TOKEN=tok-default"), tc.flags...)
			slow := goToken(t, h, "hang")
			fast := goToken(t, h, "default")
			fastResp := wait(t, fast)
			if tok, err := fastResp.Token(); err != nil || tok != "tok-default" {
				t.Errorf("fast call = %q, %v; want tok-default", tok, err)
			}
			slowResp := wait(t, slow)
			wantError(t, slowResp, rpc.CodeSourceTimeout, "hang")
			if fastResp.Seq > slowResp.Seq {
				t.Errorf("the fast answer arrived after the timeout error (answers #%d and #%d)", fastResp.Seq, slowResp.Seq)
			}
			getToken(t, h, "default", "tok-default")
			endSession(t, h)
		})
	}
}

// TestLongTimeoutHonoured: a timeout longer than any default inside the
// host is the one that bounds an acquisition, and its end is -32002.
func TestLongTimeoutHonoured(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 40s for a timeout")
	}
	t.Parallel()
	cfg := writeConfig(t, config{Timeout: "40s", Providers: []provider{{Name: "hang", Auth: execAuth(t, "hang.sh")}}})
	h := startHost(t, cfg, hostEnv(t))
	wantError(t, wait(t, goToken(t, h, "hang")), rpc.CodeSourceTimeout, "hang", "40s")
	endSession(t, h)
}

// TestCancelRequest: $/cancelRequest ends a pending request with -32800;
// cancelling an answered or unknown id changes nothing.
func TestCancelRequest(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, config{Timeout: "10m", Providers: []provider{
		{Name: "default", Auth: envAuth("E2E_TOKEN")},
		{Name: "hang", Auth: execAuth(t, "hang.sh")},
	}})
	h := startHost(t, cfg, hostEnv(t, "E2E_TOKEN=tok-default"))
	slow := goToken(t, h, "hang")
	getToken(t, h, "default", "tok-default") // the host is serving while slow hangs
	if err := h.Cancel(slow.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, wait(t, slow), rpc.CodeRequestCancelled)
	for _, id := range []int64{slow.ID, 1 << 40} {
		if err := h.Cancel(id); err != nil {
			t.Fatal(err)
		}
	}
	getToken(t, h, "default", "tok-default")
	endSession(t, h) // no answer to the later cancellations, no stray frame
}

// TestThousandConcurrentCalls: 1,000 calls in flight at once each get one
// answer, under their own id, with their provider's token.
func TestThousandConcurrentCalls(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, config{Providers: []provider{
		{Name: "default", Auth: envAuth("E2E_TOKEN")},
		{Name: "red", Auth: execAuth(t, "print.sh", "tok-red")},
		{Name: "blue", Auth: fileAuth(writeFile(t, "blue", "tok-blue"))},
	}})
	h := startHost(t, cfg, hostEnv(t, "E2E_TOKEN=tok-default"))
	want := map[string]string{"default": "tok-default", "red": "tok-red", "blue": "tok-blue", "green": "tok-default"}
	names := []string{"default", "red", "blue", "green"}
	const n = 1000
	calls := make([]*peer.Call, n)
	for i := range calls {
		c, err := h.GoToken(fmt.Sprintf("session-%d", i%7), names[i%len(names)])
		if err != nil {
			t.Fatal(err)
		}
		calls[i] = c
	}
	for i, c := range calls {
		resp := wait(t, c)
		if resp.ID == nil || *resp.ID != c.ID {
			t.Fatalf("call %d got the answer of another id: %s", c.ID, resp.Raw)
		}
		name := names[i%len(names)]
		if tok, err := resp.Token(); err != nil || tok != want[name] {
			t.Errorf("call %d (%s) = %q, %v; want %q", c.ID, name, tok, err, want[name])
		}
	}
	if got := h.Answers(); got != n {
		t.Errorf("answers = %d, want %d", got, n)
	}
	endSession(t, h)
}

// TestStdoutHoldsOnlyFrames: across a whole session at debug log level,
// with tokens, errors of every kind and refused frames, stdout holds
// nothing but answer frames (endSession checks).
func TestStdoutHoldsOnlyFrames(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, config{Providers: []provider{
		{Name: "default", Auth: envAuth("E2E_TOKEN")},
		{Name: "failing", Auth: execAuth(t, "fail.sh", writeFile(t, "out", "stdout of a failing source"), "failing: no")},
		{Name: "noisy", Auth: execAuth(t, "print.sh", "tok-noisy")},
	}})
	h := startHost(t, cfg, hostEnv(t, "E2E_TOKEN=tok-default"), "--log-level", "debug")
	var calls []*peer.Call
	for _, name := range []string{"default", "failing", "noisy", "green"} {
		calls = append(calls, goToken(t, h, name))
	}
	c, err := h.Go("nope", nil)
	if err != nil {
		t.Fatal(err)
	}
	calls = append(calls, c)
	for _, c := range calls {
		wait(t, c)
	}
	if err := h.WriteFrame([]byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.NextStray(bounded(t)); err != nil {
		t.Fatal(err)
	}
	if err := h.Notify("$/unknownNotification", map[string]int{"x": 1}); err != nil {
		t.Fatal(err)
	}
	getToken(t, h, "default", "tok-default")
	endSession(t, h)
	if h.Stderr() == "" {
		t.Errorf("stderr is empty at debug level: logs belong on stderr")
	}
}

// TestCleanExit: the host ends with status 0 when its stdin closes and on
// SIGTERM or SIGINT, idle or with a call in flight.
func TestCleanExit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		inFlight bool
		end      func(*peer.Host) error
	}{
		{"stdin closed", false, (*peer.Host).CloseStdin},
		{"stdin closed during a call", true, (*peer.Host).CloseStdin},
		{"SIGTERM", false, func(h *peer.Host) error { return h.Signal(syscall.SIGTERM) }},
		{"SIGTERM during a call", true, func(h *peer.Host) error { return h.Signal(syscall.SIGTERM) }},
		{"SIGINT", false, func(h *peer.Host) error { return h.Signal(syscall.SIGINT) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := writeConfig(t, config{Timeout: "10m", Providers: []provider{
				{Name: "default", Auth: envAuth("E2E_TOKEN")},
				{Name: "hang", Auth: execAuth(t, "hang.sh")},
			}})
			h := startHost(t, cfg, hostEnv(t, "E2E_TOKEN=tok-default"))
			getToken(t, h, "default", "tok-default") // serving, so signals are handled
			var slow *peer.Call
			if tc.inFlight {
				slow = goToken(t, h, "hang")
			}
			if err := tc.end(h); err != nil {
				t.Fatal(err)
			}
			code, err := h.Wait(bounded(t))
			if err != nil {
				t.Fatal(err)
			}
			if code != 0 {
				t.Errorf("exit status = %d, want 0", code)
			}
			checkStdout(t, h)
			// The runtime is gone: the host ends what is in flight rather
			// than waiting it out (the config's timeout is 10m). An answer,
			// if any, says the call was cancelled.
			if slow == nil {
				return
			}
			if resp := slow.Response(); resp != nil && (resp.Error == nil || resp.Error.Code != rpc.CodeRequestCancelled) {
				t.Errorf("the call in flight was answered %s: the host waited the acquisition out instead of ending it", resp.Raw)
			}
		})
	}
}

// TestSecretsNeverInErrors: neither an error answer nor the host's log
// holds a token or a failing source's stdout, planted here as canaries.
// The canaries reach the sources through files, never the command line.
func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	const (
		served    = "CANARY-SERVED-7c1e"
		failedOut = "CANARY-FAILED-STDOUT-91ab"
		jsonOut   = "CANARY-FAILED-JSON-4d2f"
		expired   = "CANARY-EXPIRED-5e3a"
		frameBody = "CANARY-IN-A-BAD-FRAME-0b6c"
	)
	canaries := []string{served, failedOut, jsonOut, expired, frameBody}
	cfg := writeConfig(t, config{Providers: []provider{
		{Name: "default", Auth: envAuth("E2E_TOKEN")},
		{Name: "fails", Auth: execAuth(t, "fail.sh", writeFile(t, "out", failedOut), "fails: access denied")},
		{Name: "fails-json", Auth: execAuth(t, "fail.sh", writeFile(t, "out", `{"token":"`+jsonOut+`"}`), "fails-json: access denied", "1")},
		{Name: "expired", Auth: catAuth(writeFile(t, "out", `{"token":"`+expired+`","expiresOn":"2001-01-01T00:00:00Z"}`))},
	}})
	h := startHost(t, cfg, hostEnv(t, "E2E_TOKEN="+served), "--log-level", "debug")
	getToken(t, h, "default", served)
	var messages []string
	for _, tc := range []struct {
		provider string
		parts    []string
	}{
		{"fails", []string{"fails", "access denied"}},
		{"fails-json", []string{"fails-json", "access denied"}},
		{"expired", []string{"expired"}},
	} {
		resp := wait(t, goToken(t, h, tc.provider))
		if resp.Error == nil {
			t.Errorf("%s: answer = %s, want an error", tc.provider, resp.Raw)
			continue
		}
		wantError(t, resp, resp.Error.Code, tc.parts...)
		messages = append(messages, resp.Error.Message)
	}
	if err := h.WriteFrame([]byte(`{"jsonrpc":"2.0","id":1,"method":"providerToken.getToken","params":"` + frameBody)); err != nil {
		t.Fatal(err)
	}
	stray, err := h.NextStray(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	messages = append(messages, string(stray.Raw))
	endSession(t, h)
	for _, c := range canaries {
		for _, m := range messages {
			if strings.Contains(m, c) {
				t.Errorf("an error answer holds the canary %s: %q", c, m)
			}
		}
		if strings.Contains(h.Stderr(), c) {
			t.Errorf("the host's log holds the canary %s", c)
		}
	}
}

// TestMalformedFrames: a frame the host cannot use is answered with an
// error (id null unless the id was readable), a frame over 1 MiB is
// refused with a reason on stderr, and the next request is still served.
func TestMalformedFrames(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	cfg := writeConfig(t, config{Providers: []provider{{Name: "default", Auth: envAuth("E2E_TOKEN")}}})
	h := startHost(t, cfg, hostEnv(t, "E2E_TOKEN=tok-default"))
	// request builds a getToken request with id, padded with spaces to size
	// bytes (when larger).
	request := func(id int64, size int) []byte {
		b := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"providerToken.getToken","params":{"sessionId":"s","providerName":"default"}}`, id)
		for len(b) < size {
			b = append(b, ' ')
		}
		return b
	}
	tests := []struct {
		name   string
		frame  func(id int64) []byte // the bytes written; id is awaiting an answer
		code   int64                 // 0: a token answer is wanted
		withID bool                  // the answer carries id, not null
	}{
		{"body not JSON", func(id int64) []byte {
			return peer.Frame(fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method"`, id))
		}, rpc.CodeParseError, false},
		{"body not an object", func(int64) []byte { return peer.Frame([]byte(`[1,2,3]`)) }, rpc.CodeInvalidRequest, false},
		{"method not a string", func(id int64) []byte {
			return peer.Frame(fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":7}`, id))
		}, rpc.CodeInvalidRequest, true},
		{"no Content-Length header", func(int64) []byte { return []byte("Content-Type: application/json\r\n\r\n") }, rpc.CodeInvalidRequest, false},
		{"Content-Length not a number", func(int64) []byte { return []byte("Content-Length: twelve\r\n\r\n") }, rpc.CodeInvalidRequest, false},
		{"over 1 MiB", func(id int64) []byte { return peer.Frame(request(id, limit+1)) }, rpc.CodeInvalidRequest, false},
		{"exactly 1 MiB", func(id int64) []byte { return peer.Frame(request(id, limit)) }, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := h.Reserve()
			if err := h.WriteRaw(tc.frame(c.ID)); err != nil {
				t.Fatal(err)
			}
			resp := firstAnswer(t, h, c)
			switch {
			case tc.withID && (resp.ID == nil || *resp.ID != c.ID):
				t.Errorf("answer = %s, want one with id %d", resp.Raw, c.ID)
			case !tc.withID && resp.ID != nil:
				t.Errorf("answer = %s, want one with id null", resp.Raw)
			}
			if tc.code == 0 {
				if tok, err := resp.Token(); err != nil || tok != "tok-default" {
					t.Errorf("answer = %s, want the token", resp.Raw)
				}
			} else {
				wantError(t, resp, tc.code)
			}
			getToken(t, h, "default", "tok-default")
		})
	}
	endSession(t, h)
	if !regexp.MustCompile(`(?i)1048577|too large|exceed|limit`).MatchString(h.Stderr()) {
		t.Errorf("stderr does not say why the frame over 1 MiB was refused:\n%s", h.Stderr())
	}
}

// TestConfigErrors: a bad config ends the host with a non-zero status
// before it serves, saying on stderr where the problem is.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config string
		where        *regexp.Regexp // stderr matches it
	}{
		{"unknown top-level field", `{"providers": [{"name": "default", "auth": {"type": "env", "var": "X"}}], "colour": "red"}`,
			regexp.MustCompile(`colour`)},
		{"unknown provider field", `{"providers": [{"name": "default", "auth": {"type": "env", "var": "X"}, "colour": "red"}]}`,
			regexp.MustCompile(`providers[\[./]0\]?[./]colour`)},
		{"unknown auth field", `{"providers": [{"name": "default", "auth": {"type": "env", "var": "X", "colour": "red"}}]}`,
			regexp.MustCompile(`providers[\[./]0\]?[./]auth[./]colour`)},
		{"second provider", `// two providers
{"providers": [{"name": "default", "auth": {"type": "env", "var": "X"}}, {"name": "red", "auth": {"type": "file", "path": "/x", "colour": "red"}}]}`,
			regexp.MustCompile(`providers[\[./]1\]?[./]auth[./]colour`)},
		{"not JSON", `{"providers": [`, regexp.MustCompile(`config`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startHost(t, writeFile(t, "config.jsonc", tc.config), hostEnv(t, "X=tok"))
			code, err := h.Wait(bounded(t))
			if err != nil {
				t.Fatal(err)
			}
			if code == 0 {
				t.Errorf("exit status = 0, want non-zero")
			}
			if !tc.where.MatchString(h.Stderr()) {
				t.Errorf("stderr does not match %q:\n%s", tc.where, h.Stderr())
			}
			if n := h.Answers(); n != 0 {
				t.Errorf("%d frames on stdout, want none", n)
			}
			checkStdout(t, h)
		})
	}
	t.Run("missing config file", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(t.TempDir(), "absent.jsonc")
		h := startHost(t, missing, hostEnv(t))
		code, err := h.Wait(bounded(t))
		if err != nil {
			t.Fatal(err)
		}
		if code == 0 || !strings.Contains(h.Stderr(), missing) {
			t.Errorf("exit status %d, stderr %q; want non-zero and the path", code, h.Stderr())
		}
	})
}
