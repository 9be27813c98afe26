package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/credential/credtest"
	"github.com/tokenhost/tokenhost/e2e/internal/peer"
)

// keyless is a loopback Entra ID with two applications, one with a client
// secret and one federated with a loopback GitHub Actions OIDC issuer, and
// a config whose providers use them through the binary.
type keyless struct {
	entra *credtest.Entra
	gh    *credtest.GitHubOIDC
	cfg   string
	env   []string
}

const (
	keylessTenant  = "contoso.example"
	keylessSecret  = "s3cret-keyless-canary"
	keylessSubject = "repo:octo-org/octo-repo:ref:refs/heads/main"
)

func newKeyless(t *testing.T) *keyless {
	t.Helper()
	ca := credtest.NewCA()
	gh := credtest.NewGitHubOIDC(ca, nil)
	t.Cleanup(gh.Close)
	entra := credtest.NewEntra(ca, &credtest.EntraOptions{
		Apps: []credtest.App{
			{TenantID: keylessTenant, ClientID: "secret-app", Secret: keylessSecret},
			{TenantID: keylessTenant, ClientID: "oidc-app", FederatedSubject: keylessSubject},
		},
		Federation: gh,
	})
	t.Cleanup(entra.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteFile(caFile); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, config{Providers: []provider{
		{Name: "azure", Auth: map[string]any{
			"type": "azure", "credential": "client-secret", "tenantId": keylessTenant, "clientId": "secret-app",
			"clientSecret":  map[string]string{"env": "KEYLESS_SECRET"},
			"authorityHost": entra.URL(), "disableInstanceDiscovery": true,
		}},
		{Name: "ci", Auth: map[string]any{
			"type": "github-oidc", "tenantId": keylessTenant, "clientId": "oidc-app",
			"authorityHost": entra.URL(), "disableInstanceDiscovery": true,
		}},
	}})
	// The binary trusts the stand-ins' CA as a user's machine trusts a
	// real one: through the system roots, here SSL_CERT_FILE.
	vars := []string{"SSL_CERT_FILE=" + caFile, "KEYLESS_SECRET=" + keylessSecret}
	for k, v := range gh.Env() {
		vars = append(vars, k+"="+v)
	}
	slices.Sort(vars)
	return &keyless{entra: entra, gh: gh, cfg: cfg, env: hostEnv(t, vars...)}
}

// TestKeylessServe: tokenhost serve answers getToken with the tokens the
// Entra stand-in minted, for an azure and a github-oidc provider, and a
// burst of 1,000 concurrent calls on a cold cache makes exactly one call
// to the token endpoint.
func TestKeylessServe(t *testing.T) {
	k := newKeyless(t)
	h := startHost(t, k.cfg, k.env)
	for i, name := range []string{"azure", "ci"} {
		calls := make([]*peer.Call, 1000)
		for j := range calls {
			calls[j] = goToken(t, h, name)
		}
		tokens := map[string]bool{}
		for _, c := range calls {
			tok, err := wait(t, c).Token()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			tokens[tok] = true
		}
		if len(tokens) != 1 {
			t.Errorf("%s: %d distinct tokens in the burst, want 1", name, len(tokens))
		}
		for tok := range tokens {
			claims, err := k.entra.VerifyAccessToken(tok)
			if err != nil {
				t.Errorf("%s: the answer is not a token the Entra stand-in minted: %v", name, err)
			} else if claims["aud"] != "https://cognitiveservices.azure.com" {
				t.Errorf("%s: audience %v", name, claims["aud"])
			}
		}
		if got, want := k.entra.TokenRequests(), int64(i+1); got != want {
			t.Errorf("after the %s burst: %d token requests to Entra, want %d", name, got, want)
		}
	}
	if got := len(k.gh.Minted()); got != 1 {
		t.Errorf("the Actions issuer minted %d tokens, want 1", got)
	}
	endSession(t, h)
	if strings.Contains(h.Stderr(), keylessSecret) {
		t.Errorf("the host's stderr holds the client secret")
	}
}

// TestKeylessTokenAndDoctor: the token and doctor commands work against
// the same stand-ins, and doctor explains an Entra refusal in one line.
func TestKeylessTokenAndDoctor(t *testing.T) {
	k := newKeyless(t)
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(hostCmd[0], append(slices.Clone(hostCmd[1:]), args...)...)
		cmd.Env = k.env
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}

	out, errOut, err := run("token", "--config", k.cfg, "--provider", "azure")
	if err != nil {
		t.Fatalf("token: %v\n%s", err, errOut)
	}
	if _, err := k.entra.VerifyAccessToken(strings.TrimSpace(out)); err != nil {
		t.Errorf("token printed something the stand-in did not mint: %v", err)
	}
	out, errOut, err = run("token", "--config", k.cfg, "--provider", "ci", "--claims")
	if err != nil {
		t.Fatalf("token --claims: %v\n%s", err, errOut)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(out), &claims); err != nil || claims["aud"] != "https://cognitiveservices.azure.com" || claims["tid"] == nil {
		t.Errorf("claims %q (%v)", out, err)
	}

	out, errOut, err = run("doctor", "--config", k.cfg)
	if err != nil {
		t.Fatalf("doctor: %v\n%s\n%s", err, out, errOut)
	}
	for _, want := range []string{"azure (client-secret)", "github-oidc", "ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor's table lacks %q:\n%s", want, out)
		}
	}

	k.entra.SetFault(credtest.Fault{Kind: credtest.FaultAADSTS, Code: 7000215})
	out, errOut, err = run("doctor", "--config", k.cfg)
	if err == nil {
		t.Errorf("doctor succeeded with Entra refusing every request:\n%s", out)
	}
	for _, want := range []string{"FAIL", "AADSTS7000215", "hint:"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor's table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, keylessSecret) {
		t.Errorf("doctor printed the client secret")
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		t.Log(line)
	}
}
