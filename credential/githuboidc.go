package credential

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// DefaultGitHubAudience is the audience of the GitHub OIDC token unless told
// otherwise: the one Entra federated credentials expect.
const DefaultGitHubAudience = "api://AzureADTokenExchange"

// DefaultIssuerTimeout bounds each request to the GitHub OIDC issuer
// unless [GitHubOIDCOptions.IssuerTimeout] says otherwise.
const DefaultIssuerTimeout = 10 * time.Second

// The variables GitHub Actions sets in a job with `permissions: id-token: write`.
const (
	envRequestURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	envRequestToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// GitHubOIDCOptions configures a github-oidc source (see
// [NewGitHubOIDCSource]). Its JSON form is the "github-oidc" source of the
// configuration file.
type GitHubOIDCOptions struct {
	// TenantID is the Entra tenant of the application; required.
	TenantID Ref `json:"tenantId"`
	// ClientID is the application (client) ID that has a federated
	// credential for the workflow; required.
	ClientID Ref `json:"clientId"`
	// Audience is the aud of the GitHub token; [DefaultGitHubAudience]
	// when empty.
	Audience string `json:"audience,omitempty"`
	// Scope is the scope of the Entra token; [DefaultAzureScope] when empty.
	Scope string `json:"scope,omitempty"`
	// IssuerTimeout bounds each request to the GitHub issuer;
	// [DefaultIssuerTimeout] when zero.
	IssuerTimeout time.Duration `json:"-"`
	// EntraClientOptions say how to reach Microsoft Entra ID; their
	// Transport also carries the requests to the GitHub issuer.
	EntraClientOptions
}

// NewGitHubOIDCSource returns a [Source] for a GitHub Actions job with
// `permissions: id-token: write`: it asks the job's OIDC issuer
// (ACTIONS_ID_TOKEN_REQUEST_URL, authorized by
// ACTIONS_ID_TOKEN_REQUEST_TOKEN) for a token with the configured audience,
// and exchanges it with Microsoft Entra ID as the federated client assertion
// of the application (azidentity's ClientAssertionCredential). Every
// exchange presents a freshly minted GitHub token.
//
// Like [NewAzureSource] it checks opts at once and creates the azidentity
// credential on first use. Outside such a job, Token fails with an error
// wrapping [ErrUnavailable] whose [Hint] names the missing permission.
func NewGitHubOIDCSource(opts *GitHubOIDCOptions) (Source, error) {
	s := &githubOIDCSource{env: os.LookupEnv, readFile: os.ReadFile, now: time.Now}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Audience == "" {
		s.opts.Audience = DefaultGitHubAudience
	}
	if s.opts.Scope == "" {
		s.opts.Scope = DefaultAzureScope
	}
	if s.opts.IssuerTimeout <= 0 {
		s.opts.IssuerTimeout = DefaultIssuerTimeout
	}
	o := s.opts
	for name, r := range map[string]Ref{"tenantId": o.TenantID, "clientId": o.ClientID} {
		if r.IsZero() {
			return nil, fmt.Errorf("credential: github-oidc source: %s is required", name)
		}
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("credential: github-oidc source: %s: %w", name, err)
		}
	}
	if v := o.TenantID.Value; v != "" && !validTenant(v) {
		return nil, fmt.Errorf("credential: github-oidc source: tenantId %q has characters other than letters, digits, '.' and '-'", v)
	}
	if err := validAuthorityHost(o.AuthorityHost); err != nil {
		return nil, fmt.Errorf("credential: github-oidc source: %w", err)
	}
	return s, nil
}

type githubOIDCSource struct {
	opts     GitHubOIDCOptions
	env      func(string) (string, bool)  // os.LookupEnv but in tests
	readFile func(string) ([]byte, error) // os.ReadFile but in tests
	now      func() time.Time             // time.Now but in tests

	mu   sync.Mutex
	cred azcore.TokenCredential // nil until the first Token
}

var _ Source = (*githubOIDCSource)(nil)

const githubSource = "github-oidc source"

// errNoIDToken is the error outside a job allowed to request ID tokens.
func errNoIDToken(missing string) error {
	return &withHint{
		err: fmt.Errorf("credential: %s: %s is not set: the job lacks `permissions: id-token: write` (or is not a GitHub Actions job): %w",
			githubSource, missing, ErrUnavailable),
		hint: "add `permissions: id-token: write` to the workflow job (or workflow) that runs tokenhost",
	}
}

// assertionSlot carries the error of the GitHub side of one Token call
// through azidentity, which would otherwise flatten it into text.
type assertionSlot struct {
	mu  sync.Mutex
	err error
}

type slotKey struct{}

func (s *githubOIDCSource) Token(ctx context.Context) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, fmt.Errorf("credential: %s: %w", githubSource, err)
	}
	for _, v := range []string{envRequestURL, envRequestToken} {
		if x, ok := s.env(v); !ok || x == "" {
			return Token{}, errNoIDToken(v)
		}
	}
	cred, err := s.credential()
	if err != nil {
		return Token{}, err
	}
	slot := &assertionSlot{}
	at, err := cred.GetToken(context.WithValue(ctx, slotKey{}, slot), policy.TokenRequestOptions{Scopes: []string{s.opts.Scope}})
	if err != nil {
		slot.mu.Lock()
		gerr := slot.err
		slot.mu.Unlock()
		if gerr != nil {
			return Token{}, gerr
		}
		return Token{}, condense(ctx, githubSource, err)
	}
	return accessToken(githubSource, at, s.now())
}

func (s *githubOIDCSource) credential() (azcore.TokenCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cred != nil {
		return s.cred, nil
	}
	tenant, err := s.opts.TenantID.resolve(s.env, s.readFile)
	if err != nil {
		return nil, fmt.Errorf("credential: %s: tenantId: %w", githubSource, err)
	}
	client, err := s.opts.ClientID.resolve(s.env, s.readFile)
	if err != nil {
		return nil, fmt.Errorf("credential: %s: clientId: %w", githubSource, err)
	}
	cred, err := azidentity.NewClientAssertionCredential(tenant, client, s.assertion, &azidentity.ClientAssertionCredentialOptions{
		ClientOptions:            s.opts.clientOptions(),
		DisableInstanceDiscovery: s.opts.DisableInstanceDiscovery,
	})
	if err != nil {
		return nil, fmt.Errorf("credential: %s: %s: %w", githubSource, scrub(firstLine([]byte(err.Error()), 200)), ErrUnavailable)
	}
	s.cred = cred
	return cred, nil
}

// assertion mints a fresh GitHub OIDC token; azidentity calls it for every
// exchange with Entra.
func (s *githubOIDCSource) assertion(ctx context.Context) (string, error) {
	tok, err := s.mint(ctx)
	if err != nil {
		if slot, ok := ctx.Value(slotKey{}).(*assertionSlot); ok {
			slot.mu.Lock()
			slot.err = err
			slot.mu.Unlock()
		}
		return "", err
	}
	return tok, nil
}

// maxIssuerResponse bounds what is read of the issuer's answer.
const maxIssuerResponse = 1 << 20

func (s *githubOIDCSource) mint(ctx context.Context) (string, error) {
	reqURL, _ := s.env(envRequestURL)
	reqToken, _ := s.env(envRequestToken)
	if reqURL == "" {
		return "", errNoIDToken(envRequestURL)
	}
	if reqToken == "" {
		return "", errNoIDToken(envRequestToken)
	}
	u, err := url.Parse(reqURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("credential: %s: %s is not a URL: %w", githubSource, envRequestURL, ErrUnavailable)
	}
	q := u.Query()
	q.Set("audience", s.opts.Audience)
	u.RawQuery = q.Encode()
	host := u.Host

	ctx, cancel := context.WithTimeout(ctx, s.opts.IssuerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("credential: %s: GitHub OIDC request: %w", githubSource, err)
	}
	req.Header.Set("Authorization", "Bearer "+reqToken)
	req.Header.Set("Accept", "application/json")
	var do func(*http.Request) (*http.Response, error) = http.DefaultClient.Do
	if s.opts.Transport != nil {
		do = s.opts.Transport.Do
	}
	resp, err := do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", fmt.Errorf("credential: %s: GitHub OIDC issuer %s did not answer in time: %w", githubSource, host, ctxErr)
		}
		// A transport error names the URL, which holds no secret, but keep
		// only the host.
		return "", fmt.Errorf("credential: %s: GitHub OIDC issuer %s: %s", githubSource, host, classify(err.Error()))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxIssuerResponse))
		e := fmt.Errorf("credential: %s: GitHub OIDC issuer %s answered HTTP %d", githubSource, host, resp.StatusCode)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return "", &withHint{err: e, hint: "the GitHub OIDC issuer refused ACTIONS_ID_TOKEN_REQUEST_TOKEN: it is valid only during its job; check `permissions: id-token: write`"}
		}
		return "", e
	}
	var body struct {
		Value string `json:"value"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxIssuerResponse)).Decode(&body); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", fmt.Errorf("credential: %s: GitHub OIDC issuer %s did not answer in time: %w", githubSource, host, ctxErr)
		}
		return "", fmt.Errorf("credential: %s: GitHub OIDC issuer %s: malformed response", githubSource, host)
	}
	if strings.TrimSpace(body.Value) == "" {
		return "", errors.New("credential: " + githubSource + ": GitHub OIDC issuer " + host + " answered no token")
	}
	return body.Value, nil
}
