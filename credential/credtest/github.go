package credtest

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultAudience is the audience GitHub OIDC tokens carry when exchanged
// with Entra.
const DefaultAudience = "api://AzureADTokenExchange"

// DefaultSubject is the subject of the tokens a [GitHubOIDC] mints unless
// told otherwise: a job on the main branch of octo-org/octo-repo.
const DefaultSubject = "repo:octo-org/octo-repo:ref:refs/heads/main"

// GitHubOIDCOptions configures a [GitHubOIDC]. The zero value is usable.
type GitHubOIDCOptions struct {
	// RequestToken is the ACTIONS_ID_TOKEN_REQUEST_TOKEN the issuer
	// accepts; random when empty.
	RequestToken string
	// Subject is the sub claim of minted tokens; [DefaultSubject] when
	// empty.
	Subject string
	// Lifetime of minted tokens; 5 minutes when zero.
	Lifetime time.Duration
	// Canary is embedded in every token and error body when not empty.
	Canary string
	// Now is the issuer's clock; time.Now when nil.
	Now func() time.Time
}

// GitHubOIDC stands in for the GitHub Actions OIDC token issuer: the
// endpoint a job with `permissions: id-token: write` finds in
// ACTIONS_ID_TOKEN_REQUEST_URL. It checks the bearer request token, mints a
// JWT with a unique jti per call for the requested audience, and remembers
// it so an [Entra] federated with it accepts each token once.
type GitHubOIDC struct {
	srv    *httptest.Server
	opts   GitHubOIDCOptions
	minter minter
	faults *faults

	requests atomic.Int64

	mu     sync.Mutex
	minted []string        // jtis, in order
	used   map[string]bool // jti -> redeemed
}

// NewGitHubOIDC starts a [GitHubOIDC] with a certificate from ca. Close it
// when done.
func NewGitHubOIDC(ca *CA, opts *GitHubOIDCOptions) *GitHubOIDC {
	g := &GitHubOIDC{minter: newMinter(), faults: newFaults(), used: map[string]bool{}}
	if opts != nil {
		g.opts = *opts
	}
	if g.opts.RequestToken == "" {
		g.opts.RequestToken = "request-" + randomString(16)
	}
	if g.opts.Subject == "" {
		g.opts.Subject = DefaultSubject
	}
	if g.opts.Lifetime == 0 {
		g.opts.Lifetime = 5 * time.Minute
	}
	if g.opts.Now == nil {
		g.opts.Now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_apis/idtoken", g.serveToken)
	g.srv = httptest.NewUnstartedServer(mux)
	g.srv.TLS = ca.serverTLS()
	g.srv.StartTLS()
	return g
}

// Close shuts the issuer down.
func (g *GitHubOIDC) Close() {
	g.faults.close()
	g.srv.Close()
}

// URL returns the issuer's base URL, also the iss claim of its tokens.
func (g *GitHubOIDC) URL() string { return g.srv.URL }

// RequestURL returns the value for ACTIONS_ID_TOKEN_REQUEST_URL. Like the
// real one it already has a query, so a client appends "&audience=...".
func (g *GitHubOIDC) RequestURL() string { return g.srv.URL + "/_apis/idtoken?api-version=2.0" }

// RequestToken returns the value for ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (g *GitHubOIDC) RequestToken() string { return g.opts.RequestToken }

// Env returns ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN
// as a job with `permissions: id-token: write` has them.
func (g *GitHubOIDC) Env() map[string]string {
	return map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   g.RequestURL(),
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": g.RequestToken(),
	}
}

// SetFault makes the issuer misbehave (FaultRefuse, FaultServerError,
// FaultMalformed, FaultStall, FaultReset) until the next SetFault.
func (g *GitHubOIDC) SetFault(f Fault) { g.faults.set(f) }

// Requests returns how many token requests the issuer received, refused
// ones included.
func (g *GitHubOIDC) Requests() int64 { return g.requests.Load() }

// Minted returns the jti of every token the issuer minted, in order.
func (g *GitHubOIDC) Minted() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.minted...)
}

// Mint mints a token for audience without an HTTP request, as a workload
// identity's token file would hold.
func (g *GitHubOIDC) Mint(audience string) string {
	now := g.opts.Now()
	jti := randomString(16)
	claims := map[string]any{
		"iss":        g.URL(),
		"sub":        g.opts.Subject,
		"aud":        audience,
		"jti":        jti,
		"iat":        now.Unix(),
		"nbf":        now.Unix(),
		"exp":        now.Add(g.opts.Lifetime).Unix(),
		"repository": "octo-org/octo-repo",
		"ref":        "refs/heads/main",
	}
	if g.opts.Canary != "" {
		claims["canary"] = g.opts.Canary
	}
	g.mu.Lock()
	g.minted = append(g.minted, jti)
	g.mu.Unlock()
	return g.minter.mint(claims)
}

func (g *GitHubOIDC) serveToken(w http.ResponseWriter, r *http.Request) {
	g.requests.Add(1)
	canary := g.opts.Canary
	if f := g.faults.take(); g.faults.transportFault(w, r, f, canary) {
		return
	}
	want := "Bearer " + g.opts.RequestToken
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "credtest: bad request token " + canary})
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		aud = g.URL() // GitHub's default audience is the repository owner's URL
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": 1, "value": g.Mint(aud)})
}

// federatedClaims are what [Entra] checks in a redeemed assertion.
type federatedClaims struct {
	subject, audience string
}

// errAssertionTime, errAssertionUsed and errAssertionForeign tell [Entra]
// which error to answer.
var (
	errAssertionTime    = errors.New("credtest: assertion outside its valid time range")
	errAssertionUsed    = errors.New("credtest: assertion already used")
	errAssertionForeign = errors.New("credtest: assertion not minted by this issuer")
)

// redeem checks that assertion is a token this issuer minted, unused and
// valid at now, and marks it used.
func (g *GitHubOIDC) redeem(assertion string, now time.Time) (federatedClaims, error) {
	claims, err := g.minter.check(assertion)
	if err != nil {
		return federatedClaims{}, errAssertionForeign
	}
	exp, _ := numClaim(claims, "exp")
	nbf, _ := numClaim(claims, "nbf")
	if now.Unix() >= exp || now.Unix() < nbf {
		return federatedClaims{}, errAssertionTime
	}
	jti := strClaim(claims, "jti")
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.used[jti] {
		return federatedClaims{}, errAssertionUsed
	}
	g.used[jti] = true
	return federatedClaims{subject: strClaim(claims, "sub"), audience: strClaim(claims, "aud")}, nil
}
