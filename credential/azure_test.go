package credential

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
	"github.com/tokenhost/tokenhost/credential/credtest"
)

// canary is embedded by the stand-ins in every token and error body they
// write, and by the tests in every secret, so that finding it in an error
// proves a leak.
const canary = "CANARY-d41d8cd98f"

const (
	testTenant = "11111111-2222-3333-4444-555555555555"
	testClient = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	testSecret = "secret-" + canary
)

// noRetry makes azcore give up at the first failure, so fault tests do not
// wait for its backoff.
var noRetry = policy.RetryOptions{MaxRetries: -1}

// stand is a set of loopback stand-ins and a client that can reach only
// them. Its cleanup fails the test if anything dialed a non-loopback
// address.
type stand struct {
	ca     *credtest.CA
	guard  *credtest.DialGuard
	client *http.Client
	entra  *credtest.Entra
	gh     *credtest.GitHubOIDC
}

func newStand(t *testing.T, eo *credtest.EntraOptions) *stand {
	t.Helper()
	s := &stand{ca: credtest.NewCA(), guard: credtest.NewDialGuard()}
	s.client = s.ca.Client(s.guard)
	s.gh = credtest.NewGitHubOIDC(s.ca, &credtest.GitHubOIDCOptions{Canary: canary, RequestToken: "request-" + canary})
	o := credtest.EntraOptions{
		Apps:       []credtest.App{{TenantID: testTenant, ClientID: testClient, Secret: testSecret}},
		Canary:     canary,
		Federation: s.gh,
	}
	if eo != nil {
		o = *eo
		if o.Canary == "" {
			o.Canary = canary
		}
		if o.Federation == nil {
			o.Federation = s.gh
		}
	}
	s.entra = credtest.NewEntra(s.ca, &o)
	t.Cleanup(func() {
		s.entra.Close()
		s.gh.Close()
		s.client.CloseIdleConnections()
		if got := s.guard.Refused(); len(got) != 0 {
			t.Errorf("non-loopback dials attempted: %v", got)
		}
	})
	return s
}

// entraClient returns options that reach the stand-in, without instance
// discovery or retries.
func (s *stand) entraClient() EntraClientOptions {
	return EntraClientOptions{AuthorityHost: s.entra.URL(), DisableInstanceDiscovery: true, Transport: s.client, Retry: noRetry}
}

// secretOptions returns client-secret options pointed at the stand-in.
func (s *stand) secretOptions(secretVar string) *AzureOptions {
	return &AzureOptions{
		Credential:         AzureClientSecret,
		TenantID:           Ref{Value: testTenant},
		ClientID:           Ref{Value: testClient},
		ClientSecret:       SecretRef{Env: secretVar},
		EntraClientOptions: s.entraClient(),
	}
}

// mapEnv returns a lookup function over m, for the sources' env field.
func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func newAzure(t *testing.T, o *AzureOptions, env map[string]string) *azureSource {
	t.Helper()
	src, err := NewAzureSource(o)
	if err != nil {
		t.Fatalf("NewAzureSource: %v", err)
	}
	s := src.(*azureSource)
	if env != nil {
		s.env = mapEnv(env)
	}
	return s
}

// checkClean fails the test if err leaks a secret or the canary, or spans
// more than one line.
func checkClean(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), Hint(err)} {
		if strings.Contains(text, canary) {
			t.Errorf("error leaks the canary: %q", text)
		}
		if strings.Contains(text, "eyJ") {
			t.Errorf("error holds something JWT-shaped: %q", text)
		}
	}
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("error spans several lines: %q", err.Error())
	}
}

// checkFailure fails the test unless err is clean (see checkClean),
// contains every string of want, wraps wantIs (when not nil) and has a hint
// containing hint.
func checkFailure(t *testing.T, err error, want []string, wantIs error, hint string) {
	t.Helper()
	checkClean(t, err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %q, want it to contain %q", err, w)
		}
	}
	if wantIs != nil && !errors.Is(err, wantIs) {
		t.Errorf("errors.Is(err, %v) = false", wantIs)
	}
	if !strings.Contains(Hint(err), hint) {
		t.Errorf("Hint = %q, want it to contain %q", Hint(err), hint)
	}
}

// checkToken fails the test unless tok is a live access token of e for
// the default scope's resource and the test application.
func checkToken(t *testing.T, e *credtest.Entra, tok Token) {
	t.Helper()
	claims, err := e.VerifyAccessToken(tok.Value)
	if err != nil {
		t.Fatalf("token not issued by the stand-in: %v", err)
	}
	got := map[string]any{"aud": claims["aud"], "appid": claims["appid"], "tid": claims["tid"]}
	want := map[string]any{"aud": credtest.DefaultResource, "appid": testClient, "tid": testTenant}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
	if until := time.Until(tok.ExpiresOn); until < 50*time.Minute || until > 61*time.Minute {
		t.Errorf("ExpiresOn = %v, want about an hour from now", tok.ExpiresOn)
	}
	if tok.RefreshOn.IsZero() || !tok.RefreshOn.Before(tok.ExpiresOn) {
		t.Errorf("RefreshOn = %v, want set and before ExpiresOn %v", tok.RefreshOn, tok.ExpiresOn)
	}
}

func TestAzureClientSecret(t *testing.T) {
	t.Parallel()
	st := newStand(t, nil)
	s := newAzure(t, st.secretOptions("SECRET"), map[string]string{"SECRET": testSecret})
	tok, err := s.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	checkToken(t, st.entra, tok)
	if _, err := s.Token(t.Context()); err != nil {
		t.Fatalf("second Token: %v", err)
	}
	if got := st.entra.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1 (azidentity keeps the token)", got)
	}
	if got := st.entra.DiscoveryRequests(); got != 0 {
		t.Errorf("discovery requests = %d, want 0 with instance discovery disabled", got)
	}
}

func TestAzureInstanceDiscovery(t *testing.T) {
	t.Parallel()
	st := newStand(t, nil)
	// MSAL asks login.microsoftonline.com about an authority host it does
	// not know; the route sends that to the stand-in.
	st.entra.RouteDiscovery(st.guard)
	o := st.secretOptions("SECRET")
	o.DisableInstanceDiscovery = false
	s := newAzure(t, o, map[string]string{"SECRET": testSecret})
	tok, err := s.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	checkToken(t, st.entra, tok)
	if got := st.entra.DiscoveryRequests(); got == 0 {
		t.Errorf("discovery requests = %d, want some", got)
	}
}

func TestAzureSecretFromFile(t *testing.T) {
	t.Parallel()
	st := newStand(t, nil)
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := st.secretOptions("")
	o.ClientSecret = SecretRef{File: path}
	if _, err := newAzure(t, o, map[string]string{}).Token(t.Context()); err != nil {
		t.Fatalf("Token: %v", err)
	}
}

func TestAzureSourceIsLazy(t *testing.T) {
	t.Parallel()
	st := newStand(t, nil)
	created := 0
	s := newAzure(t, st.secretOptions("UNSET_SECRET"), map[string]string{})
	real := s.newCredential
	s.create = func() (azcore.TokenCredential, error) { created++; return real() }
	if s.cred != nil || created != 0 {
		t.Fatal("constructor created an azidentity credential")
	}
	if n := st.entra.TokenRequests() + st.entra.MetadataRequests() + st.entra.DiscoveryRequests(); n != 0 {
		t.Fatalf("constructor made %d requests", n)
	}
	// The secret's variable is unset: that shows only now, as unavailable.
	_, err := s.Token(t.Context())
	checkClean(t, err)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "UNSET_SECRET") {
		t.Errorf("err = %v, want ErrUnavailable naming UNSET_SECRET", err)
	}
	if created != 1 {
		t.Errorf("creations = %d, want 1", created)
	}
	s.env = mapEnv(map[string]string{"UNSET_SECRET": testSecret})
	if _, err := s.Token(t.Context()); err != nil {
		t.Fatalf("Token after the variable appeared: %v", err)
	}
	if _, err := s.Token(t.Context()); err != nil {
		t.Fatalf("third Token: %v", err)
	}
	if created != 2 {
		t.Errorf("creations = %d, want 2 (one failed, one kept)", created)
	}
}

// newCert returns a self-signed certificate and its key, PEM-encoded.
func newCert(t *testing.T) (*x509.Certificate, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tokenhost test app"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pemBytes = append(pemBytes, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})...)
	return cert, pemBytes
}

func TestAzureClientCertificate(t *testing.T) {
	t.Parallel()
	registered, registeredPEM := newCert(t)
	_, otherPEM := newCert(t)
	st := newStand(t, &credtest.EntraOptions{Apps: []credtest.App{{TenantID: testTenant, ClientID: testClient, Certificate: registered}}})
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		pem     []byte
		wantErr string
	}{
		{"registered", registeredPEM, ""},
		{"unregistered", otherPEM, "AADSTS700027"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".pem")
			if err := os.WriteFile(path, tc.pem, 0o600); err != nil {
				t.Fatal(err)
			}
			s := newAzure(t, &AzureOptions{
				Credential: AzureClientCertificate, TenantID: Ref{Value: testTenant}, ClientID: Ref{Value: testClient},
				Certificate: SecretRef{File: path}, EntraClientOptions: st.entraClient(),
			}, nil)
			tok, err := s.Token(t.Context())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Token: %v", err)
				}
				checkToken(t, st.entra, tok)
				return
			}
			checkClean(t, err)
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %s", err, tc.wantErr)
			}
		})
	}
}

// clearMSIEnv clears the variables by which MSAL picks a managed identity
// source, so that only what a test sets counts.
func clearMSIEnv(t *testing.T) {
	for _, v := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_TOKEN_CREDENTIALS"} {
		t.Setenv(v, "")
		os.Unsetenv(v) // t.Setenv restores it
	}
}

func setEnv(t *testing.T, m map[string]string) {
	for k, v := range m {
		t.Setenv(k, v)
	}
}

// TestAzureManagedIdentity runs azidentity's managed identity credential
// against an App Service style endpoint. It sets the process environment,
// so it is not parallel.
func TestAzureManagedIdentity(t *testing.T) {
	clearMSIEnv(t)
	st := newStand(t, nil)
	mi := credtest.NewManagedIdentity(st.ca, &credtest.ManagedIdentityOptions{
		ClientIDs: []string{"user-client"}, ResourceIDs: []string{"/subscriptions/s/rg/r/id"}, Canary: canary,
	})
	t.Cleanup(mi.Close)
	setEnv(t, mi.Env())
	for _, tc := range []struct {
		name         string
		client, res  string
		wantIdentity string
		wantErr      string
	}{
		{name: "system", wantIdentity: "system"},
		{name: "user-client", client: "user-client", wantIdentity: "client_id=user-client"},
		{name: "user-resource", res: "/subscriptions/s/rg/r/id", wantIdentity: "mi_res_id=/subscriptions/s/rg/r/id"},
		{name: "not-assigned", client: "stranger", wantErr: "HTTP 400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(mi.Identities())
			// MSAL caches managed identity tokens process-wide by resource.
			resource := credtest.Resource("mi-" + tc.name)
			o := &AzureOptions{Credential: AzureManagedIdentity, Scope: resource + "/.default", EntraClientOptions: EntraClientOptions{Transport: st.client, Retry: noRetry}}
			if tc.client != "" {
				o.ClientID = Ref{Value: tc.client}
			}
			if tc.res != "" {
				o.ResourceID = Ref{Value: tc.res}
			}
			tok, err := newAzure(t, o, nil).Token(t.Context())
			if tc.wantErr != "" {
				checkClean(t, err)
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			claims, err := mi.VerifyAccessToken(tok.Value)
			if err != nil {
				t.Fatalf("token not issued by the stand-in: %v", err)
			}
			if claims["aud"] != resource {
				t.Errorf("aud = %v, want %s", claims["aud"], resource)
			}
			if got := mi.Identities()[before:]; !cmp.Equal(got, []string{tc.wantIdentity}) {
				t.Errorf("identities asked for = %v, want [%s]", got, tc.wantIdentity)
			}
		})
	}
}

// TestAzureWorkloadIdentity presents a federated token from a file, as the
// AKS workload identity webhook arranges.
func TestAzureWorkloadIdentity(t *testing.T) {
	clearMSIEnv(t)
	st := newStand(t, &credtest.EntraOptions{Apps: []credtest.App{{TenantID: testTenant, ClientID: testClient, FederatedSubject: credtest.DefaultSubject}}})
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(st.gh.Mint(credtest.DefaultAudience)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", path)
	s := newAzure(t, &AzureOptions{
		Credential: AzureWorkloadIdentity, TenantID: Ref{Value: testTenant}, ClientID: Ref{Env: "APP_ID"},
		EntraClientOptions: st.entraClient(),
	}, map[string]string{"APP_ID": testClient})
	tok, err := s.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	checkToken(t, st.entra, tok)
}

// TestAzureDefault runs DefaultAzureCredential restricted by
// AZURE_TOKEN_CREDENTIALS to the environment credential.
func TestAzureDefault(t *testing.T) {
	clearMSIEnv(t)
	st := newStand(t, nil)
	setEnv(t, map[string]string{
		"AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential",
		"AZURE_TENANT_ID":         testTenant,
		"AZURE_CLIENT_ID":         testClient,
		"AZURE_CLIENT_SECRET":     testSecret,
	})
	s := newAzure(t, &AzureOptions{EntraClientOptions: st.entraClient()}, nil)
	tok, err := s.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	checkToken(t, st.entra, tok)

	t.Run("nothing configured", func(t *testing.T) {
		t.Setenv("AZURE_TOKEN_CREDENTIALS", "prod")
		for _, v := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"} {
			t.Setenv(v, "")
			os.Unsetenv(v) // t.Setenv restores it
		}
		// prod includes managed identity, which would probe IMDS: keep it
		// on the App Service stand-in, which refuses a wrong header.
		mi := credtest.NewManagedIdentity(st.ca, &credtest.ManagedIdentityOptions{Canary: canary})
		t.Cleanup(mi.Close)
		t.Setenv("IDENTITY_ENDPOINT", mi.Endpoint())
		t.Setenv("IDENTITY_HEADER", "wrong-"+canary)
		s := newAzure(t, &AzureOptions{Scope: credtest.Resource("default-nothing") + "/.default", EntraClientOptions: st.entraClient()}, nil)
		_, err := s.Token(t.Context())
		checkClean(t, err)
		if !strings.Contains(err.Error(), "HTTP 401") {
			t.Errorf("err = %v, want the managed identity's HTTP 401", err)
		}
	})
}

// TestAzureDefaultNeverDialsIMDS shows that in tests a default credential
// with managed identity in its chain stays off 169.254.169.254: the chain is
// restricted and MSAL sees an App Service endpoint. Its control shows the
// guard would have caught the probe.
func TestAzureDefaultNeverDialsIMDS(t *testing.T) {
	clearMSIEnv(t)
	ca := credtest.NewCA()
	mi := credtest.NewManagedIdentity(ca, nil)
	t.Cleanup(mi.Close)

	t.Run("app service", func(t *testing.T) {
		guard := credtest.NewDialGuard()
		setEnv(t, mi.Env())
		t.Setenv("AZURE_TOKEN_CREDENTIALS", "prod")
		s := newAzure(t, &AzureOptions{Scope: credtest.Resource("imds-app-service") + "/.default", EntraClientOptions: EntraClientOptions{Transport: ca.Client(guard), Retry: noRetry}}, nil)
		if _, err := s.Token(t.Context()); err != nil {
			t.Fatalf("Token: %v", err)
		}
		if got := guard.Refused(); len(got) != 0 {
			t.Errorf("refused dials = %v, want none", got)
		}
		if mi.Requests() != 1 {
			t.Errorf("managed identity requests = %d, want 1", mi.Requests())
		}
	})
	t.Run("control: no endpoint", func(t *testing.T) {
		guard := credtest.NewDialGuard()
		t.Setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
		s := newAzure(t, &AzureOptions{Scope: credtest.Resource("imds-control") + "/.default", EntraClientOptions: EntraClientOptions{Transport: ca.Client(guard), Retry: noRetry}}, nil)
		_, err := s.Token(t.Context())
		checkClean(t, err)
		if got := guard.Refused(); !cmp.Equal(got, []string{"169.254.169.254:80"}) {
			t.Errorf("refused dials = %v, want [169.254.169.254:80]", got)
		}
	})
}

func TestAzureFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		fault    credtest.Fault
		deadline bool
		want     []string
		wantIs   error
		hint     string
	}{
		{name: "server error", fault: credtest.Fault{Kind: credtest.FaultServerError}, want: []string{"HTTP 500", "server_error"}, hint: "retry later"},
		{name: "AADSTS", fault: credtest.Fault{Kind: credtest.FaultAADSTS, Code: 7000222, Status: 401}, want: []string{"HTTP 401", "AADSTS7000222 client secret expired"}, hint: "new client secret"},
		{name: "malformed", fault: credtest.Fault{Kind: credtest.FaultMalformed}, want: []string{"malformed response"}},
		{name: "expired", fault: credtest.Fault{Kind: credtest.FaultExpired}, want: []string{"expired"}},
		{name: "throttled", fault: credtest.Fault{Kind: credtest.FaultThrottle, RetryAfter: 7}, want: []string{"HTTP 429", "retry after 7s"}, hint: "throttling"},
		{name: "stall", fault: credtest.Fault{Kind: credtest.FaultStall}, deadline: true, want: []string{"deadline"}, wantIs: context.DeadlineExceeded, hint: "in time"},
		{name: "reset", fault: credtest.Fault{Kind: credtest.FaultReset}, want: []string{"closed the connection"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newStand(t, nil)
			st.entra.SetFault(tc.fault)
			s := newAzure(t, st.secretOptions("SECRET"), map[string]string{"SECRET": testSecret})
			ctx := t.Context()
			if tc.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
			}
			_, err := s.Token(ctx)
			checkFailure(t, err, append(tc.want, "credential: azure source (client-secret): "), tc.wantIs, tc.hint)
			if got := st.entra.TokenRequests(); got != 1 {
				t.Errorf("token requests = %d, want 1", got)
			}
		})
	}
}

func TestAzureRejections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tenant string
		client string
		secret string
		scope  string
		want   string
		hint   string
	}{
		{name: "wrong secret", secret: "wrong-" + canary, want: "HTTP 401: AADSTS7000215 invalid client secret (invalid_client)", hint: "Secret ID"},
		{name: "unknown app", client: "99999999-0000-0000-0000-000000000000", want: "AADSTS700016 application not found in the tenant", hint: "clientId"},
		{name: "unknown tenant", tenant: "99999999-0000-0000-0000-000000000000", want: "AADSTS90002 tenant not found", hint: "tenantId"},
		{name: "wrong scope", scope: "https://example.invalid/.default", want: "AADSTS500011", hint: "scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newStand(t, nil)
			o := st.secretOptions("SECRET")
			if tc.tenant != "" {
				o.TenantID = Ref{Value: tc.tenant}
			}
			if tc.client != "" {
				o.ClientID = Ref{Value: tc.client}
			}
			if tc.scope != "" {
				o.Scope = tc.scope
			}
			secret := testSecret
			if tc.secret != "" {
				secret = tc.secret
			}
			_, err := newAzure(t, o, map[string]string{"SECRET": secret}).Token(t.Context())
			checkClean(t, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Error("a rejection must not read as unavailable")
			}
			if !strings.Contains(Hint(err), tc.hint) {
				t.Errorf("Hint = %q, want it to contain %q", Hint(err), tc.hint)
			}
		})
	}
}

func TestNewAzureSourceValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts AzureOptions
		want string
	}{
		{"unknown credential", AzureOptions{Credential: "magic"}, `unknown credential "magic"`},
		{"secret without tenant", AzureOptions{Credential: AzureClientSecret, ClientID: Ref{Value: "c"}, ClientSecret: SecretRef{Env: "S"}}, "tenantId is required"},
		{"secret without client", AzureOptions{Credential: AzureClientSecret, TenantID: Ref{Value: "t"}, ClientSecret: SecretRef{Env: "S"}}, "clientId is required"},
		{"secret without secret", AzureOptions{Credential: AzureClientSecret, TenantID: Ref{Value: "t"}, ClientID: Ref{Value: "c"}}, "clientSecret is required"},
		{"certificate without certificate", AzureOptions{Credential: AzureClientCertificate, TenantID: Ref{Value: "t"}, ClientID: Ref{Value: "c"}}, "certificate is required"},
		{"secret on managed identity", AzureOptions{Credential: AzureManagedIdentity, ClientSecret: SecretRef{Env: "S"}}, "clientSecret is not used by credential managed-identity"},
		{"client and resource", AzureOptions{Credential: AzureManagedIdentity, ClientID: Ref{Value: "c"}, ResourceID: Ref{Value: "r"}}, "not both"},
		{"bad tenant", AzureOptions{TenantID: Ref{Value: "a/b"}}, "tenantId"},
		{"http authority", AzureOptions{EntraClientOptions: EntraClientOptions{AuthorityHost: "http://login.example"}}, "https URL"},
		{"two-way reference", AzureOptions{Credential: AzureClientSecret, TenantID: Ref{Value: "t"}, ClientID: Ref{Value: "c"}, ClientSecret: SecretRef{Env: "S", File: "/f"}}, "both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewAzureSource(&tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "credential: azure source") {
				t.Errorf("err = %v, want a credential: azure source error containing %q", err, tc.want)
			}
		})
	}
	if _, err := NewAzureSource(nil); err != nil {
		t.Errorf("NewAzureSource(nil) = %v, want the default credential", err)
	}
}

func TestAzureOptionsJSON(t *testing.T) {
	t.Parallel()
	const doc = `{
		"credential": "client-certificate",
		"tenantId": "` + testTenant + `",
		"clientId": {"env": "APP_ID"},
		"certificate": {"file": "/etc/tokenhost/app.pem"},
		"certificatePassword": {"env": "CERT_PASSWORD"},
		"scope": "https://example.invalid/.default",
		"authorityHost": "https://login.microsoftonline.us/",
		"disableInstanceDiscovery": true
	}`
	var got AzureOptions
	if err := json.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatal(err)
	}
	want := AzureOptions{
		Credential:          AzureClientCertificate,
		TenantID:            Ref{Value: testTenant},
		ClientID:            Ref{Env: "APP_ID"},
		Certificate:         SecretRef{File: "/etc/tokenhost/app.pem"},
		CertificatePassword: SecretRef{Env: "CERT_PASSWORD"},
		Scope:               "https://example.invalid/.default",
		EntraClientOptions: EntraClientOptions{
			AuthorityHost:            "https://login.microsoftonline.us/",
			DisableInstanceDiscovery: true,
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("unmarshal (-want +got):\n%s", d)
	}
	out, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var back AzureOptions
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if _, err := NewAzureSource(&got); err != nil {
		t.Errorf("NewAzureSource: %v", err)
	}

	var inline AzureOptions
	err = json.Unmarshal([]byte(`{"credential": "client-secret", "clientSecret": "hunter2-`+canary+`"}`), &inline)
	checkClean(t, err)
	if !strings.Contains(err.Error(), "must not be written inline") {
		t.Errorf("err = %v, want the inline secret refused", err)
	}
}

// TestAzureTryTimeout: each request to the identity endpoint has its own
// bound, so a stalled endpoint fails the call even when the caller set no
// deadline.
func TestAzureTryTimeout(t *testing.T) {
	t.Parallel()
	st := newStand(t, nil)
	st.entra.SetFault(credtest.Fault{Kind: credtest.FaultStall})
	o := st.secretOptions("SECRET")
	o.Retry = policy.RetryOptions{MaxRetries: -1, TryTimeout: 50 * time.Millisecond}
	s := newAzure(t, o, map[string]string{"SECRET": testSecret})
	_, err := s.Token(context.Background()) // no deadline of the caller's
	if err == nil {
		t.Fatal("a stalled endpoint gave a token")
	}
	checkClean(t, err)
}

// TestEntraClientDefaults: tokenhost's bounds apply unless set.
func TestEntraClientDefaults(t *testing.T) {
	o := EntraClientOptions{}.clientOptions()
	if o.Retry.TryTimeout != DefaultTryTimeout || o.Retry.MaxRetryDelay != DefaultMaxRetryDelay {
		t.Errorf("defaults: try timeout %v, max retry delay %v", o.Retry.TryTimeout, o.Retry.MaxRetryDelay)
	}
	o = EntraClientOptions{Retry: policy.RetryOptions{TryTimeout: time.Minute, MaxRetryDelay: time.Second}}.clientOptions()
	if o.Retry.TryTimeout != time.Minute || o.Retry.MaxRetryDelay != time.Second {
		t.Errorf("given: try timeout %v, max retry delay %v", o.Retry.TryTimeout, o.Retry.MaxRetryDelay)
	}
}
