package credential

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// AzureCredential names the azidentity credential an azure source uses.
type AzureCredential string

// The credentials of [AzureOptions.Credential].
const (
	// AzureDefault is azidentity's DefaultAzureCredential; its own variables
	// (AZURE_TOKEN_CREDENTIALS, AZURE_CLIENT_ID, AZURE_TENANT_ID, ...) apply.
	AzureDefault AzureCredential = "default"
	// AzureManagedIdentity is a managed identity: system-assigned, or
	// user-assigned by clientId or resourceId.
	AzureManagedIdentity AzureCredential = "managed-identity"
	// AzureWorkloadIdentity is workload identity federation
	// (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID unless
	// clientId and tenantId are given).
	AzureWorkloadIdentity AzureCredential = "workload-identity"
	// AzureCLI is the account the Azure CLI (az) is signed in with.
	AzureCLI AzureCredential = "azure-cli"
	// AzureClientSecret is a service principal with a client secret.
	AzureClientSecret AzureCredential = "client-secret"
	// AzureClientCertificate is a service principal with a certificate.
	AzureClientCertificate AzureCredential = "client-certificate"
)

// DefaultAzureScope is the scope tokens are requested for unless told
// otherwise: Azure OpenAI and the other Azure AI services.
const DefaultAzureScope = "https://cognitiveservices.azure.com/.default"

// AzureOptions configures an azure source (see [NewAzureSource]). Its JSON
// form is the "azure" source of the configuration file.
type AzureOptions struct {
	// Credential is the kind of credential; [AzureDefault] when empty.
	Credential AzureCredential `json:"credential,omitempty"`
	// TenantID is the directory (tenant) ID: required by client-secret and
	// client-certificate, optional for the others.
	TenantID Ref `json:"tenantId,omitzero"`
	// ClientID is the application (client) ID: required by client-secret
	// and client-certificate; for managed-identity it selects a
	// user-assigned identity.
	ClientID Ref `json:"clientId,omitzero"`
	// ResourceID selects a user-assigned managed identity by its ARM
	// resource ID (managed-identity only; not with ClientID).
	ResourceID Ref `json:"resourceId,omitzero"`
	// ClientSecret is the client secret of client-secret.
	ClientSecret SecretRef `json:"clientSecret,omitzero"`
	// Certificate is the certificate and private key of
	// client-certificate: PEM, or PKCS#12 (base64 when in a variable).
	Certificate SecretRef `json:"certificate,omitzero"`
	// CertificatePassword decrypts Certificate, when it is encrypted.
	CertificatePassword SecretRef `json:"certificatePassword,omitzero"`
	// Scope is the scope tokens are requested for; [DefaultAzureScope]
	// when empty.
	Scope string `json:"scope,omitempty"`
	// EntraClientOptions say how to reach Microsoft Entra ID.
	EntraClientOptions
}

// EntraClientOptions say how a source reaches Microsoft Entra ID; both
// [AzureOptions] and [GitHubOIDCOptions] embed them, so their JSON fields
// appear at the top level of either.
type EntraClientOptions struct {
	// AuthorityHost is the Microsoft Entra authority, e.g.
	// https://login.microsoftonline.us/ for US Government; the public
	// cloud (or AZURE_AUTHORITY_HOST) when empty.
	AuthorityHost string `json:"authorityHost,omitempty"`
	// DisableInstanceDiscovery skips Entra instance discovery, for
	// disconnected and private clouds.
	DisableInstanceDiscovery bool `json:"disableInstanceDiscovery,omitempty"`

	// Transport sends the source's HTTP requests; azcore's default when
	// nil. An *http.Client is a policy.Transporter, so tests give a client
	// that trusts their CA.
	Transport policy.Transporter `json:"-"`
	// Retry configures azcore's retries of failed requests. Zero fields
	// mean tokenhost's defaults: each try bounded by [DefaultTryTimeout],
	// retries waiting at most [DefaultMaxRetryDelay], so that a failing
	// identity endpoint's own error reaches the user within the host's
	// acquisition timeout instead of a bare timeout; azcore's for the rest.
	Retry policy.RetryOptions `json:"-"`
}

// Bounds on Entra requests unless [EntraClientOptions.Retry] says otherwise.
const (
	// DefaultTryTimeout bounds one HTTP request to an identity endpoint.
	DefaultTryTimeout = 10 * time.Second
	// DefaultMaxRetryDelay bounds the wait before a retry (azcore's own
	// default is a minute).
	DefaultMaxRetryDelay = 2 * time.Second
)

// azureUses lists the settings each credential accepts beyond scope,
// authorityHost and disableInstanceDiscovery; required ones are checked in
// validate.
var azureUses = map[AzureCredential][]string{
	AzureDefault:           {"tenantId"},
	AzureManagedIdentity:   {"clientId", "resourceId"},
	AzureWorkloadIdentity:  {"tenantId", "clientId"},
	AzureCLI:               {"tenantId"},
	AzureClientSecret:      {"tenantId", "clientId", "clientSecret"},
	AzureClientCertificate: {"tenantId", "clientId", "certificate", "certificatePassword"},
}

// NewAzureSource returns a [Source] of Microsoft Entra ID access tokens
// acquired through azidentity; nil opts means DefaultAzureCredential and
// [DefaultAzureScope].
//
// It checks opts at once (an unknown credential, a setting the credential
// does not use, a missing tenantId or clientId, a malformed reference) but
// reads no reference, makes no request and creates no azidentity credential
// until the first Token call, so a configured but unused azure source costs
// nothing.
//
// Token errors are one line: the credential, the HTTP status and the AADSTS
// code with its meaning, never a response body; [Hint] says what to fix.
// Errors of a credential that cannot work here (azidentity's "credential
// unavailable", a variable unset) wrap [ErrUnavailable].
func NewAzureSource(opts *AzureOptions) (Source, error) {
	s := &azureSource{env: os.LookupEnv, readFile: os.ReadFile, now: time.Now}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Credential == "" {
		s.opts.Credential = AzureDefault
	}
	if s.opts.Scope == "" {
		s.opts.Scope = DefaultAzureScope
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

type azureSource struct {
	opts     AzureOptions
	env      func(string) (string, bool)            // os.LookupEnv but in tests
	readFile func(string) ([]byte, error)           // os.ReadFile but in tests
	now      func() time.Time                       // time.Now but in tests
	create   func() (azcore.TokenCredential, error) // s.newCredential but in tests

	mu   sync.Mutex
	cred azcore.TokenCredential // nil until the first Token
}

var _ Source = (*azureSource)(nil)

func (s *azureSource) name() string { return "azure source (" + string(s.opts.Credential) + ")" }

func (s *azureSource) errorf(format string, args ...any) error {
	return fmt.Errorf("credential: "+s.name()+": "+format, args...)
}

func (s *azureSource) validate() error {
	o := s.opts
	uses, ok := azureUses[o.Credential]
	if !ok {
		return fmt.Errorf("credential: azure source: unknown credential %q: want default, managed-identity, workload-identity, azure-cli, client-secret or client-certificate", o.Credential)
	}
	set := map[string]bool{
		"tenantId":            !o.TenantID.IsZero(),
		"clientId":            !o.ClientID.IsZero(),
		"resourceId":          !o.ResourceID.IsZero(),
		"clientSecret":        !o.ClientSecret.IsZero(),
		"certificate":         !o.Certificate.IsZero(),
		"certificatePassword": !o.CertificatePassword.IsZero(),
	}
	for _, name := range []string{"tenantId", "clientId", "resourceId", "clientSecret", "certificate", "certificatePassword"} {
		if set[name] && !slices.Contains(uses, name) {
			return s.errorf("%s is not used by credential %s", name, o.Credential)
		}
	}
	for name, r := range map[string]Ref{"tenantId": o.TenantID, "clientId": o.ClientID, "resourceId": o.ResourceID} {
		if err := r.validate(); err != nil {
			return s.errorf("%s: %w", name, err)
		}
	}
	for name, r := range map[string]SecretRef{"clientSecret": o.ClientSecret, "certificate": o.Certificate, "certificatePassword": o.CertificatePassword} {
		if err := r.validateIfSet(); err != nil {
			return s.errorf("%s: %w", name, err)
		}
	}
	if v := o.TenantID.Value; v != "" && !validTenant(v) {
		return s.errorf("tenantId %q has characters other than letters, digits, '.' and '-'", v)
	}
	switch o.Credential {
	case AzureClientSecret, AzureClientCertificate:
		secret := "clientSecret"
		if o.Credential == AzureClientCertificate {
			secret = "certificate"
		}
		for _, name := range []string{"tenantId", "clientId", secret} {
			if !set[name] {
				return s.errorf("%s is required", name)
			}
		}
	case AzureManagedIdentity:
		if set["clientId"] && set["resourceId"] {
			return s.errorf("give clientId or resourceId, not both")
		}
	}
	if err := validAuthorityHost(o.AuthorityHost); err != nil {
		return s.errorf("%w", err)
	}
	if strings.TrimSpace(o.Scope) == "" {
		return s.errorf("scope is empty")
	}
	return nil
}

// validTenant reports whether a tenant ID has only the characters
// azidentity accepts.
func validTenant(t string) bool {
	for _, r := range t {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// validAuthorityHost checks an authority host ("" is the default).
func validAuthorityHost(h string) error {
	if h == "" {
		return nil
	}
	u, err := url.Parse(h)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("authorityHost %q: want an https URL such as https://login.microsoftonline.com/", h)
	}
	return nil
}

// clientOptions returns the azcore options of every credential.
func (e EntraClientOptions) clientOptions() azcore.ClientOptions {
	o := azcore.ClientOptions{Transport: e.Transport, Retry: e.Retry}
	if o.Retry.TryTimeout == 0 {
		o.Retry.TryTimeout = DefaultTryTimeout
	}
	if o.Retry.MaxRetryDelay == 0 {
		o.Retry.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if e.AuthorityHost != "" {
		o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: e.AuthorityHost}
	}
	return o
}

func (s *azureSource) Token(ctx context.Context) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, s.errorf("%w", err)
	}
	cred, err := s.credential()
	if err != nil {
		return Token{}, err
	}
	at, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.opts.Scope}})
	if err != nil {
		return Token{}, condense(ctx, s.name(), err)
	}
	return accessToken(s.name(), at, s.now())
}

// accessToken maps an azcore token to a [Token], refusing an empty or
// expired one.
func accessToken(source string, at azcore.AccessToken, now time.Time) (Token, error) {
	if at.Token == "" {
		return Token{}, fmt.Errorf("credential: %s: the identity endpoint answered an empty token", source)
	}
	if !at.ExpiresOn.IsZero() && !at.ExpiresOn.After(now) {
		return Token{}, fmt.Errorf("credential: %s: the identity endpoint answered a token that expired at %s", source, at.ExpiresOn.UTC().Format(time.RFC3339))
	}
	return Token{Value: at.Token, ExpiresOn: at.ExpiresOn, RefreshOn: at.RefreshOn}, nil
}

// credential returns the azidentity credential, creating it on first use.
// A failed creation is retried on the next call: a variable or file may
// appear later.
func (s *azureSource) credential() (azcore.TokenCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cred != nil {
		return s.cred, nil
	}
	create := s.create
	if create == nil {
		create = s.newCredential
	}
	cred, err := create()
	if err != nil {
		return nil, err
	}
	s.cred = cred
	return cred, nil
}

func (s *azureSource) newCredential() (azcore.TokenCredential, error) {
	o := s.opts
	co := o.clientOptions()
	ref := func(name string, r Ref) (string, error) {
		v, err := r.resolve(s.env, s.readFile)
		if err != nil {
			return "", s.errorf("%s: %w", name, err)
		}
		return v, nil
	}
	tenant, err := ref("tenantId", o.TenantID)
	if err != nil {
		return nil, err
	}
	client, err := ref("clientId", o.ClientID)
	if err != nil {
		return nil, err
	}
	resource, err := ref("resourceId", o.ResourceID)
	if err != nil {
		return nil, err
	}
	var cred azcore.TokenCredential
	switch o.Credential {
	case AzureDefault:
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: co, DisableInstanceDiscovery: o.DisableInstanceDiscovery, TenantID: tenant,
		})
	case AzureManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		switch {
		case client != "":
			mo.ID = azidentity.ClientID(client)
		case resource != "":
			mo.ID = azidentity.ResourceID(resource)
		}
		cred, err = azidentity.NewManagedIdentityCredential(mo)
	case AzureWorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: co, ClientID: client, TenantID: tenant, DisableInstanceDiscovery: o.DisableInstanceDiscovery,
		})
	case AzureCLI:
		cred, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: tenant})
	case AzureClientSecret:
		var secret []byte
		if secret, err = o.ClientSecret.resolve(s.env, s.readFile); err != nil {
			return nil, s.errorf("clientSecret: %w", err)
		}
		cred, err = azidentity.NewClientSecretCredential(tenant, client, strings.TrimSpace(string(secret)),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: o.DisableInstanceDiscovery})
	case AzureClientCertificate:
		cred, err = s.certificateCredential(tenant, client, co)
	}
	if err != nil {
		if errors.Is(err, ErrUnavailable) || strings.HasPrefix(err.Error(), "credential: ") {
			return nil, err
		}
		// azidentity's constructor errors are about configuration and
		// hold no secret; keep their first line.
		return nil, s.errorf("%s: %w", scrub(firstLine([]byte(err.Error()), 200)), ErrUnavailable)
	}
	return cred, nil
}

func (s *azureSource) certificateCredential(tenant, client string, co azcore.ClientOptions) (azcore.TokenCredential, error) {
	o := s.opts
	data, err := o.Certificate.resolve(s.env, s.readFile)
	if err != nil {
		return nil, s.errorf("certificate: %w", err)
	}
	var password []byte
	if !o.CertificatePassword.IsZero() {
		if password, err = o.CertificatePassword.resolve(s.env, s.readFile); err != nil {
			return nil, s.errorf("certificatePassword: %w", err)
		}
	}
	pw := strings.TrimRight(string(password), "\r\n")
	certs, key, err := azidentity.ParseCertificates(data, []byte(pw))
	if err != nil && o.Certificate.Env != "" {
		// PKCS#12 in a variable is base64.
		if der, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); derr == nil {
			certs, key, err = azidentity.ParseCertificates(der, []byte(pw))
		}
	}
	if err != nil {
		// ParseCertificates' errors describe the format, not the content.
		return nil, s.errorf("certificate (%s): cannot read a certificate and private key: %s", o.Certificate, firstLine([]byte(err.Error()), 120))
	}
	return azidentity.NewClientCertificateCredential(tenant, client, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: o.DisableInstanceDiscovery})
}
