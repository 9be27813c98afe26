package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tokenhost/tokenhost/credential/credtest"
	"github.com/tokenhost/tokenhost/e2e/internal/peer"
	"github.com/tokenhost/tokenhost/rpc"
)

// Canaries: secrets planted where a careless host would leak them. Only
// canaryToken may ever leave the host, and only inside a getToken result.
const (
	canaryToken     = "tok-CANARY-good-7c1d"        // a token the host answers
	canarySecret    = "CANARY-client-secret-4e2a"   // an Entra client secret
	canaryBody      = "CANARY-endpoint-body-91b0"   // in every stand-in token and error body
	canaryExec      = "CANARY-exec-stdout-0f3c"     // on a failing command's stdout
	canaryActions   = "CANARY-actions-request-55aa" // ACTIONS_ID_TOKEN_REQUEST_TOKEN
	canaryAssertion = "CANARY-oidc-body-d00d"       // in the GitHub issuer's tokens and errors
)

var canaries = []string{canaryToken, canarySecret, canaryBody, canaryExec, canaryActions, canaryAssertion}

// faultyEntra starts an Entra stand-in that knows the app with the canary
// secret and misbehaves with f.
func faultyEntra(t *testing.T, ca *credtest.CA, f credtest.Fault) *credtest.Entra {
	e := credtest.NewEntra(ca, &credtest.EntraOptions{
		Apps:   []credtest.App{{TenantID: "contoso.example", ClientID: "app", Secret: canarySecret}},
		Canary: canaryBody,
	})
	t.Cleanup(e.Close)
	e.SetFault(f)
	return e
}

func azureAuth(e *credtest.Entra) map[string]any {
	return map[string]any{
		"type": "azure", "credential": "client-secret",
		"tenantId": "contoso.example", "clientId": "app",
		"clientSecret":  map[string]any{"env": "E2E_CLIENT_SECRET"},
		"authorityHost": e.URL(), "disableInstanceDiscovery": true,
	}
}

// TestFailuresKeepSecrets drives every failure path of the sources through
// the binary, all at once: an identity endpoint answering 500, 429 with
// Retry-After, a malformed body, an expired token, resetting connections
// and stalling; a GitHub issuer refusing the request token; a command that
// fails after printing a secret, one that prints broken JSON around one,
// and one that ignores SIGTERM. Each gets an error answer with a source
// code and a message that names the provider; meanwhile and after, the
// good provider is served; and no canary appears on stderr, in any error,
// or on stdout outside the good provider's results. The command that
// ignored SIGTERM leaves no process behind.
func TestFailuresKeepSecrets(t *testing.T) {
	t.Parallel()
	ca := credtest.NewCA()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteFile(caFile); err != nil {
		t.Fatal(err)
	}
	gh := credtest.NewGitHubOIDC(ca, &credtest.GitHubOIDCOptions{Canary: canaryAssertion})
	t.Cleanup(gh.Close)
	gh.SetFault(credtest.Fault{Kind: credtest.FaultRefuse})
	oidcEntra := faultyEntra(t, ca, credtest.Fault{})

	dir := t.TempDir()
	execOut := writeFile(t, "stdout", canaryExec+"\n")
	brokenJSON := writeFile(t, "broken.json", `{"token": "`+canaryExec+`", `)
	pidFile := filepath.Join(dir, "stubborn.pid")
	stubborn := writeFile(t, "stubborn.sh", "trap '' TERM\necho $$ > \""+pidFile+"\"\nwhile :; do sleep 1; done\n")

	failing := map[string]map[string]any{
		"azure-500":       azureAuth(faultyEntra(t, ca, credtest.Fault{Kind: credtest.FaultServerError})),
		"azure-429":       azureAuth(faultyEntra(t, ca, credtest.Fault{Kind: credtest.FaultThrottle, RetryAfter: 1})),
		"azure-malformed": azureAuth(faultyEntra(t, ca, credtest.Fault{Kind: credtest.FaultMalformed})),
		"azure-expired":   azureAuth(faultyEntra(t, ca, credtest.Fault{Kind: credtest.FaultExpired})),
		"azure-reset":     azureAuth(faultyEntra(t, ca, credtest.Fault{Kind: credtest.FaultReset})),
		"azure-stall":     azureAuth(faultyEntra(t, ca, credtest.Fault{Kind: credtest.FaultStall})),
		"azure-aadsts":    azureAuth(faultyEntra(t, ca, credtest.Fault{Kind: credtest.FaultAADSTS, Code: 7000215})),
		"github-oidc": {
			"type": "github-oidc", "tenantId": "contoso.example", "clientId": "app",
			"authorityHost": oidcEntra.URL(), "disableInstanceDiscovery": true,
		},
		"exec-fails":       execAuth(t, "fail.sh", execOut, "the command failed, see its log"),
		"exec-broken-json": catAuth(brokenJSON),
		"exec-stubborn":    {"type": "exec", "command": []string{"/bin/sh", stubborn}},
	}
	providers := []provider{{Name: "good", Auth: envAuth("E2E_GOOD_TOKEN")}}
	for name, auth := range failing {
		providers = append(providers, provider{Name: name, Auth: auth})
	}
	env := hostEnv(t,
		"E2E_GOOD_TOKEN="+canaryToken,
		"E2E_CLIENT_SECRET="+canarySecret,
		"SSL_CERT_FILE="+caFile,
		"ACTIONS_ID_TOKEN_REQUEST_URL="+gh.RequestURL(),
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN="+canaryActions,
	)
	// A short bound, so the stalling endpoint and the stubborn command
	// are given up on within the test.
	h := startHost(t, writeConfig(t, config{Timeout: "4s", Strict: true, Providers: providers}), env, "--log-level", "debug")

	calls := map[string]*peer.Call{}
	for name := range failing {
		calls[name] = goToken(t, h, name)
	}
	getToken(t, h, "good", canaryToken) // served while the others fail
	var messages []string
	for name, c := range calls {
		resp := wait(t, c)
		if resp.Error == nil {
			t.Errorf("%s: answer %s, want an error", name, resp.Raw)
			continue
		}
		switch resp.Error.Code {
		case rpc.CodeSourceFailed, rpc.CodeSourceTimeout, rpc.CodeSourceUnavailable:
		default:
			t.Errorf("%s: error code %d (%q), want a source failure, timeout or unavailability", name, resp.Error.Code, resp.Error.Message)
		}
		if !strings.Contains(resp.Error.Message, `"`+name+`"`) {
			t.Errorf("%s: error %q does not name the provider", name, resp.Error.Message)
		}
		messages = append(messages, resp.Error.Message)
	}
	getToken(t, h, "good", canaryToken) // and after

	pid := readPid(t, pidFile)
	endSession(t, h)
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("the exec source that ignores SIGTERM (pid %d) is still running after its request timed out", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}

	for _, c := range canaries {
		for _, m := range messages {
			if strings.Contains(m, c) {
				t.Errorf("an error answer holds canary %q: %q", c, m)
			}
		}
		if strings.Contains(h.Stderr(), c) {
			t.Errorf("stderr holds canary %q", c)
		}
	}
	// On stdout, canaryToken only inside the good provider's results.
	for _, r := range h.Strays() {
		t.Errorf("unexpected answer with a null id: %s", r.Raw)
	}
	t.Logf("error answers:\n%s", strings.Join(messages, "\n"))
}

// readPid reads the pid a script wrote.
func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the stubborn command did not start: %v", err)
	}
	var pid int
	for _, c := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(c-'0')
	}
	return pid
}
