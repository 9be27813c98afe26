package credential

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/credential/credtest"
)

// newGitHub returns a github-oidc source pointed at st whose variables are
// env (the stand-in's ACTIONS_ID_TOKEN_REQUEST_* when nil).
func newGitHub(t *testing.T, st *stand, env map[string]string) *githubOIDCSource {
	t.Helper()
	src, err := NewGitHubOIDCSource(&GitHubOIDCOptions{
		TenantID:           Ref{Value: testTenant},
		ClientID:           Ref{Value: testClient},
		EntraClientOptions: st.entraClient(),
	})
	if err != nil {
		t.Fatalf("NewGitHubOIDCSource: %v", err)
	}
	s := src.(*githubOIDCSource)
	if env == nil {
		env = st.gh.Env()
	}
	s.env = mapEnv(env)
	return s
}

// federatedApp is the test application with a federated credential for
// the stand-in issuer's default subject.
func federatedApp(subject string) *credtest.EntraOptions {
	return &credtest.EntraOptions{
		Apps: []credtest.App{{TenantID: testTenant, ClientID: testClient, FederatedSubject: subject}},
		// Under five minutes, so azidentity does not keep the token and
		// every Token call is an exchange.
		Lifetime: 2 * time.Minute,
	}
}

func TestGitHubOIDCExchange(t *testing.T) {
	t.Parallel()
	st := newStand(t, federatedApp(credtest.DefaultSubject))
	s := newGitHub(t, st, nil)
	for i := range 2 {
		tok, err := s.Token(t.Context())
		if err != nil {
			t.Fatalf("Token %d: %v", i, err)
		}
		if _, err := st.entra.VerifyAccessToken(tok.Value); err != nil {
			t.Fatalf("Token %d not issued by the stand-in: %v", i, err)
		}
	}
	minted := st.gh.Minted()
	if len(minted) != 2 || minted[0] == minted[1] {
		t.Errorf("GitHub tokens minted = %v, want 2 distinct (a fresh assertion per exchange)", minted)
	}
	if got := st.entra.TokenRequests(); got != 2 {
		t.Errorf("exchanges = %d, want 2", got)
	}
	if got := st.gh.Requests(); got != 2 {
		t.Errorf("issuer requests = %d, want 2", got)
	}
}

func TestGitHubOIDCConcurrentExchanges(t *testing.T) {
	t.Parallel()
	st := newStand(t, federatedApp(""))
	s := newGitHub(t, st, nil)
	errs := make(chan error, 4)
	for range 4 {
		go func() { _, err := s.Token(t.Context()); errs <- err }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("Token: %v", err)
		}
	}
	minted := st.gh.Minted()
	slices.Sort(minted)
	if len(slices.Compact(minted)) != len(st.gh.Minted()) {
		t.Errorf("a GitHub token was minted twice: %v", minted)
	}
}

func TestGitHubOIDCFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		subject     string
		env         func(st *stand) map[string]string
		fault       credtest.Fault
		deadline    bool
		want        []string
		unavailable bool
		wantIs      error
		hint        string
		exchanges   int64
	}{
		{
			name: "no id-token permission", env: func(*stand) map[string]string { return map[string]string{} },
			want: []string{"ACTIONS_ID_TOKEN_REQUEST_URL is not set", "id-token: write"}, unavailable: true, hint: "permissions: id-token: write",
		},
		{
			name: "request token missing", env: func(st *stand) map[string]string {
				return map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": st.gh.RequestURL()}
			},
			want: []string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set", "id-token: write"}, unavailable: true, hint: "id-token: write",
		},
		{
			name: "issuer refuses", fault: credtest.Fault{Kind: credtest.FaultRefuse},
			want: []string{"GitHub OIDC issuer", "HTTP 403"}, hint: "id-token: write",
		},
		{
			name: "wrong request token", env: func(st *stand) map[string]string {
				return map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": st.gh.RequestURL(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "stale-" + canary}
			},
			want: []string{"HTTP 401"}, hint: "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
		},
		{
			name: "issuer malformed", fault: credtest.Fault{Kind: credtest.FaultMalformed},
			want: []string{"malformed response"},
		},
		{
			name: "issuer stalls", fault: credtest.Fault{Kind: credtest.FaultStall}, deadline: true,
			want: []string{"did not answer in time"}, wantIs: context.DeadlineExceeded, hint: "in time",
		},
		{
			name: "subject mismatch", subject: "repo:octo-org/octo-repo:environment:prod",
			want: []string{"AADSTS70021 no matching federated identity record"}, hint: "repo:OWNER/REPO:ref:refs/heads/BRANCH", exchanges: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newStand(t, federatedApp(tc.subject))
			st.gh.SetFault(tc.fault)
			var env map[string]string
			if tc.env != nil {
				env = tc.env(st)
			}
			s := newGitHub(t, st, env)
			ctx := t.Context()
			if tc.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
			}
			_, err := s.Token(ctx)
			checkFailure(t, err, append(tc.want, "credential: github-oidc source: "), tc.wantIs, tc.hint)
			if strings.Contains(err.Error(), st.gh.RequestToken()) {
				t.Errorf("error holds the request token: %v", err)
			}
			if got := errors.Is(err, ErrUnavailable); got != tc.unavailable {
				t.Errorf("errors.Is(err, ErrUnavailable) = %v, want %v", got, tc.unavailable)
			}
			if got := st.entra.TokenRequests(); got != tc.exchanges {
				t.Errorf("exchanges = %d, want %d", got, tc.exchanges)
			}
		})
	}
}

func TestNewGitHubOIDCSourceValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts *GitHubOIDCOptions
		want string
	}{
		{"nil", nil, "is required"},
		{"no client", &GitHubOIDCOptions{TenantID: Ref{Value: testTenant}}, "clientId is required"},
		{"no tenant", &GitHubOIDCOptions{ClientID: Ref{Value: testClient}}, "tenantId is required"},
		{"bad authority", &GitHubOIDCOptions{TenantID: Ref{Value: testTenant}, ClientID: Ref{Value: testClient}, EntraClientOptions: EntraClientOptions{AuthorityHost: "ftp://x"}}, "https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewGitHubOIDCSource(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
