package credtest

import (
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:443": true, "127.8.9.10:1": true, "[::1]:80": true, "localhost:8080": true, "::1": true,
		"169.254.169.254:80": false, "login.microsoftonline.com:443": false, "10.0.0.1:443": false,
		"[::ffff:8.8.8.8]:53": false, "localhost.example:1": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestDialGuardRefusesAndRecords(t *testing.T) {
	t.Parallel()
	ca := NewCA()
	g := NewDialGuard()
	_, err := ca.Client(g).Get("https://169.254.169.254/metadata")
	if err == nil {
		t.Fatal("non-loopback request succeeded")
	}
	if got := g.Refused(); len(got) != 1 || got[0] != "169.254.169.254:443" {
		t.Errorf("Refused = %v, want [169.254.169.254:443]", got)
	}
}

func TestCAFile(t *testing.T) {
	t.Parallel()
	ca := NewCA()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) || !pool.Equal(ca.CertPool()) {
		t.Error("the CA file does not hold the CA")
	}
}

// post sends a client_credentials request with a federated assertion.
func post(t *testing.T, c *http.Client, e *Entra, assertion string) int {
	t.Helper()
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"app"}, "scope": {DefaultResource + "/.default"},
		"client_assertion_type": {assertionType}, "client_assertion": {assertion},
	}
	resp, err := c.PostForm(e.URL()+"/tenant/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestEntraAcceptsEachFederatedTokenOnceAndFresh(t *testing.T) {
	t.Parallel()
	ca := NewCA()
	now := time.Now()
	gh := NewGitHubOIDC(ca, &GitHubOIDCOptions{Now: func() time.Time { return now }})
	defer gh.Close()
	later := now
	e := NewEntra(ca, &EntraOptions{Apps: []App{{TenantID: "tenant", ClientID: "app"}}, Federation: gh, Now: func() time.Time { return later }})
	defer e.Close()
	c := ca.Client(NewDialGuard())

	tok := gh.Mint(DefaultAudience)
	if got := post(t, c, e, tok); got != http.StatusOK {
		t.Fatalf("first use: HTTP %d, want 200", got)
	}
	if got := post(t, c, e, tok); got != http.StatusBadRequest {
		t.Errorf("replay: HTTP %d, want 400", got)
	}
	stale := gh.Mint(DefaultAudience)
	later = now.Add(time.Hour)
	if got := post(t, c, e, stale); got != http.StatusBadRequest {
		t.Errorf("stale token: HTTP %d, want 400", got)
	}
	later = now
	if got := post(t, c, e, gh.Mint("api://other")); got != http.StatusBadRequest {
		t.Errorf("wrong audience: HTTP %d, want 400", got)
	}
}

func TestGitHubIssuerChecksRequestToken(t *testing.T) {
	t.Parallel()
	ca := NewCA()
	gh := NewGitHubOIDC(ca, &GitHubOIDCOptions{Canary: "CANARY"})
	defer gh.Close()
	c := ca.Client(NewDialGuard())
	for _, tc := range []struct {
		token string
		want  int
	}{{gh.RequestToken(), 200}, {"wrong", 401}} {
		req, _ := http.NewRequest(http.MethodGet, gh.RequestURL()+"&audience=aud", nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Value string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("token %q: HTTP %d, want %d", tc.token, resp.StatusCode, tc.want)
		}
		if tc.want == 200 {
			claims, err := decodeClaims(strings.Split(body.Value, ".")[1])
			if err != nil || claims["aud"] != "aud" || claims["canary"] != "CANARY" {
				t.Errorf("claims = %v, %v", claims, err)
			}
		}
	}
}
