package credtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultResource is the resource an [Entra] issues tokens for unless told
// otherwise (the scope is the resource followed by "/.default").
const DefaultResource = "https://cognitiveservices.azure.com"

// App is an application registration an [Entra] knows: a service principal
// in a tenant with its credentials.
type App struct {
	// TenantID is the tenant the application is registered in.
	TenantID string
	// ClientID is the application (client) ID.
	ClientID string
	// Secret, when not empty, is a client secret the application accepts.
	Secret string
	// SecretExpired makes a correct secret fail with AADSTS7000222.
	SecretExpired bool
	// Certificate, when not nil, is a certificate whose RSA key may sign
	// client assertions.
	Certificate *x509.Certificate
	// FederatedSubject, when not empty, is the subject a federated
	// assertion from [EntraOptions.Federation] must carry (AADSTS70021
	// otherwise); any subject is accepted when empty.
	FederatedSubject string
	// Disabled makes every request fail with AADSTS7000112.
	Disabled bool
}

// EntraOptions configures an [Entra]. The zero value is usable.
type EntraOptions struct {
	// Apps are the registered applications.
	Apps []App
	// Resources are the resources tokens can be issued for;
	// [DefaultResource] when empty.
	Resources []string
	// Lifetime of issued tokens (expires_in); one hour when zero.
	Lifetime time.Duration
	// RefreshIn is the refresh_in answered; half the lifetime when zero.
	RefreshIn time.Duration
	// Federation, when not nil, is the issuer whose tokens the apps accept
	// as client assertions, each once and while fresh.
	Federation *GitHubOIDC
	// Canary is embedded in every token and error body when not empty.
	Canary string
	// Now is the service's clock; time.Now when nil.
	Now func() time.Time
}

// Entra stands in for Microsoft Entra ID as MSAL (and so azidentity) calls
// it for an authority host: instance discovery at /common/discovery/instance,
// OpenID configuration at /{tenant}/v2.0/.well-known/openid-configuration,
// and the token endpoint /{tenant}/oauth2/v2.0/token for the
// client_credentials grant with a client secret or a client assertion (an
// application certificate's, or a federated token of
// [EntraOptions.Federation]). Access tokens are HS256 JWTs with aud, iss,
// tid, oid, appid and exp claims; [Entra.VerifyAccessToken] checks them.
//
// Give azidentity [Entra.URL] as its authority host. MSAL sends instance
// discovery for an authority host it does not know to
// login.microsoftonline.com, not to the authority host: set
// DisableInstanceDiscovery, or route that host here with
// [Entra.RouteDiscovery].
type Entra struct {
	srv    *httptest.Server
	opts   EntraOptions
	minter minter
	faults *faults

	tokenRequests, discoveryRequests, metadataRequests atomic.Int64
}

// NewEntra starts an [Entra] with a certificate from ca. Close it when done.
func NewEntra(ca *CA, opts *EntraOptions) *Entra {
	e := &Entra{minter: newMinter(), faults: newFaults()}
	if opts != nil {
		e.opts = *opts
	}
	if len(e.opts.Resources) == 0 {
		e.opts.Resources = []string{DefaultResource}
	}
	if e.opts.Lifetime == 0 {
		e.opts.Lifetime = time.Hour
	}
	if e.opts.RefreshIn == 0 {
		e.opts.RefreshIn = e.opts.Lifetime / 2
	}
	if e.opts.Now == nil {
		e.opts.Now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /common/discovery/instance", e.serveDiscovery)
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", e.serveMetadata)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", e.serveToken)
	e.srv = httptest.NewUnstartedServer(mux)
	e.srv.TLS = ca.serverTLS()
	e.srv.StartTLS()
	return e
}

// Close shuts the service down.
func (e *Entra) Close() {
	e.faults.close()
	e.srv.Close()
}

// URL returns the authority host, "https://127.0.0.1:PORT".
func (e *Entra) URL() string { return e.srv.URL }

// Addr returns the listener's "host:port".
func (e *Entra) Addr() string { return e.srv.Listener.Addr().String() }

// RouteDiscovery routes g's dials of login.microsoftonline.com:443 here,
// where MSAL sends instance discovery for an authority host it does not
// know, so a client with instance discovery enabled stays on loopback.
func (e *Entra) RouteDiscovery(g *DialGuard) { g.Route(discoveryHost+":443", e.Addr()) }

// SetFault makes the token endpoint misbehave; see [Fault].
func (e *Entra) SetFault(f Fault) { e.faults.set(f) }

// TokenRequests returns how many requests the token endpoint received,
// failed ones included.
func (e *Entra) TokenRequests() int64 { return e.tokenRequests.Load() }

// DiscoveryRequests returns how many instance discovery requests the
// service received.
func (e *Entra) DiscoveryRequests() int64 { return e.discoveryRequests.Load() }

// MetadataRequests returns how many OpenID configuration requests the
// service received.
func (e *Entra) MetadataRequests() int64 { return e.metadataRequests.Load() }

// VerifyAccessToken returns the claims of an access token this service
// issued, or an error if it did not issue it or it has expired.
func (e *Entra) VerifyAccessToken(token string) (map[string]any, error) {
	claims, err := e.minter.check(token)
	if err != nil {
		return nil, err
	}
	if exp, _ := numClaim(claims, "exp"); e.opts.Now().Unix() >= exp {
		return nil, errors.New("credtest: access token expired")
	}
	return claims, nil
}

func (e *Entra) tenantKnown(tenant string) bool {
	for _, a := range e.opts.Apps {
		if a.TenantID == tenant {
			return true
		}
	}
	return false
}

func (e *Entra) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	e.discoveryRequests.Add(1)
	authz, err := url.Parse(r.URL.Query().Get("authorization_endpoint"))
	if err != nil || authz.Host != e.Addr() {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error":             "invalid_instance",
			"error_description": "AADSTS50049: Unknown or invalid instance. " + e.opts.Canary,
			"error_codes":       []int{50049},
		})
		return
	}
	tenant, _, _ := strings.Cut(strings.TrimPrefix(authz.Path, "/"), "/")
	host := e.srv.Listener.Addr().String()
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": e.URL() + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

func (e *Entra) serveMetadata(w http.ResponseWriter, r *http.Request) {
	e.metadataRequests.Add(1)
	tenant := r.PathValue("tenant")
	if !e.tenantKnown(tenant) {
		e.aadError(w, http.StatusBadRequest, "invalid_tenant", 90002)
		return
	}
	base := e.URL() + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"authorization_endpoint": base + "/oauth2/v2.0/authorize",
		"token_endpoint":         base + "/oauth2/v2.0/token",
		"issuer":                 base + "/v2.0",
		"tenant_region_scope":    "NA",
	})
}

// aadMessages are the error descriptions of the codes the service answers.
var aadMessages = map[int]string{
	90002:   "Tenant not found.",
	700016:  "Application was not found in the directory.",
	7000215: "Invalid client secret provided.",
	7000222: "The provided client secret keys are expired.",
	7000112: "Application is disabled.",
	70021:   "No matching federated identity record found for presented assertion.",
	700212:  "No matching federated identity record found for presented assertion audience.",
	700024:  "Client assertion is not within its valid time range.",
	700027:  "Client assertion failed signature validation.",
	500011:  "The resource principal was not found in the tenant.",
	7000218: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
	70011:   "The provided value for the input parameter 'scope' is not valid.",
	50049:   "Unknown or invalid instance.",
}

// codeReplay stands for the stand-in's own error for a federated token
// redeemed twice; it answers no AADSTS code for it.
const codeReplay = -1

// aadError answers an Entra style error body.
func (e *Entra) aadError(w http.ResponseWriter, status int, kind string, code int) {
	if code == codeReplay {
		writeJSON(w, status, map[string]any{
			"error":             kind,
			"error_description": "credtest: client assertion already used. " + e.opts.Canary,
		})
		return
	}
	msg := aadMessages[code]
	if msg == "" {
		msg = "credtest: injected error."
	}
	desc := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s", code, msg, randomString(8), e.opts.Canary)
	writeJSON(w, status, map[string]any{
		"error":             kind,
		"error_description": desc,
		"error_codes":       []int{code},
		"timestamp":         e.opts.Now().UTC().Format(time.DateTime + "Z"),
		"trace_id":          randomString(8),
		"correlation_id":    e.opts.Canary,
		"error_uri":         fmt.Sprintf("%s/error?code=%d", e.URL(), code),
	})
}

func (e *Entra) findApp(tenant, clientID string) (App, bool) {
	for _, a := range e.opts.Apps {
		if a.TenantID == tenant && a.ClientID == clientID {
			return a, true
		}
	}
	return App{}, false
}

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

func (e *Entra) serveToken(w http.ResponseWriter, r *http.Request) {
	e.tokenRequests.Add(1)
	f := e.faults.take()
	if e.faults.transportFault(w, r, f, e.opts.Canary) {
		return
	}
	if f.Kind == FaultAADSTS {
		code, status := f.Code, f.Status
		if code == 0 {
			code = 7000215
		}
		if status == 0 {
			status = http.StatusBadRequest
		}
		e.aadError(w, status, "invalid_request", code)
		return
	}
	if err := r.ParseForm(); err != nil {
		e.aadError(w, http.StatusBadRequest, "invalid_request", 900144)
		return
	}
	tenant := r.PathValue("tenant")
	if !e.tenantKnown(tenant) {
		e.aadError(w, http.StatusBadRequest, "invalid_request", 90002)
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		e.aadError(w, http.StatusBadRequest, "unsupported_grant_type", 70003)
		return
	}
	app, ok := e.findApp(tenant, r.PostForm.Get("client_id"))
	if !ok {
		e.aadError(w, http.StatusBadRequest, "unauthorized_client", 700016)
		return
	}
	if app.Disabled {
		e.aadError(w, http.StatusBadRequest, "unauthorized_client", 7000112)
		return
	}
	if status, kind, code := e.authenticate(r, app); code != 0 {
		e.aadError(w, status, kind, code)
		return
	}
	resource, ok := e.resource(r.PostForm.Get("scope"))
	if !ok {
		e.aadError(w, http.StatusBadRequest, "invalid_resource", 500011)
		return
	}
	now := e.opts.Now()
	lifetime, refresh := e.opts.Lifetime, e.opts.RefreshIn
	if f.Kind == FaultExpired {
		lifetime, refresh = -time.Minute, 0
	}
	claims := map[string]any{
		"aud":   resource,
		"iss":   e.URL() + "/" + tenant + "/v2.0",
		"tid":   tenant,
		"oid":   "oid-" + app.ClientID,
		"sub":   "oid-" + app.ClientID,
		"appid": app.ClientID,
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(lifetime).Unix(),
		"jti":   randomString(16),
	}
	if e.opts.Canary != "" {
		claims["canary"] = e.opts.Canary
	}
	body := map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int64(lifetime / time.Second),
		"ext_expires_in": int64(lifetime / time.Second),
		"access_token":   e.minter.mint(claims),
	}
	if refresh > 0 {
		body["refresh_in"] = int64(refresh / time.Second)
	}
	writeJSON(w, http.StatusOK, body)
}

// resource returns the resource of a scope "RESOURCE/.default", ignoring
// the OpenID scopes MSAL adds.
func (e *Entra) resource(scope string) (string, bool) {
	var res string
	for s := range strings.FieldsSeq(scope) {
		switch s {
		case "openid", "offline_access", "profile":
			continue
		}
		if res != "" {
			return "", false
		}
		res = strings.TrimSuffix(s, "/.default")
	}
	for _, known := range e.opts.Resources {
		if strings.TrimSuffix(known, "/") == strings.TrimSuffix(res, "/") {
			return known, true
		}
	}
	return "", false
}

// authenticate checks the client's credential; a zero code means success.
func (e *Entra) authenticate(r *http.Request, app App) (status int, kind string, code int) {
	form := r.PostForm
	if secret := form.Get("client_secret"); secret != "" {
		if app.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.Secret)) != 1 {
			return http.StatusUnauthorized, "invalid_client", 7000215
		}
		if app.SecretExpired {
			return http.StatusUnauthorized, "invalid_client", 7000222
		}
		return 0, "", 0
	}
	assertion := form.Get("client_assertion")
	if assertion == "" || form.Get("client_assertion_type") != assertionType {
		return http.StatusBadRequest, "invalid_client", 7000218
	}
	header, _, _ := strings.Cut(assertion, ".")
	raw, err := b64.DecodeString(header)
	var h struct {
		Alg string `json:"alg"`
	}
	if err != nil || json.Unmarshal(raw, &h) != nil {
		return http.StatusUnauthorized, "invalid_client", 700027
	}
	now := e.opts.Now()
	if h.Alg == "HS256" {
		if e.opts.Federation == nil {
			return http.StatusUnauthorized, "invalid_client", 700027
		}
		fc, err := e.opts.Federation.redeem(assertion, now)
		switch {
		case errors.Is(err, errAssertionTime):
			return http.StatusBadRequest, "invalid_client", 700024
		case errors.Is(err, errAssertionUsed):
			return http.StatusBadRequest, "invalid_client", codeReplay
		case err != nil:
			return http.StatusUnauthorized, "invalid_client", 700027
		case fc.audience != DefaultAudience:
			return http.StatusBadRequest, "invalid_client", 700212
		case app.FederatedSubject != "" && fc.subject != app.FederatedSubject:
			return http.StatusBadRequest, "invalid_client", 70021
		}
		return 0, "", 0
	}
	return e.checkCertAssertion(assertion, h.Alg, app, now, r)
}

// checkCertAssertion verifies a client assertion signed by the app's
// certificate key, as MSAL makes it (PS256, iss = sub = client ID, aud =
// the token endpoint).
func (e *Entra) checkCertAssertion(assertion, alg string, app App, now time.Time, r *http.Request) (int, string, int) {
	bad := func() (int, string, int) { return http.StatusUnauthorized, "invalid_client", 700027 }
	if app.Certificate == nil {
		return bad()
	}
	pub, ok := app.Certificate.PublicKey.(*rsa.PublicKey)
	if !ok {
		return bad()
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return bad()
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return bad()
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch alg {
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	default:
		err = errors.New("unsupported alg")
	}
	if err != nil {
		return bad()
	}
	claims, err := decodeClaims(parts[1])
	if err != nil || strClaim(claims, "iss") != app.ClientID || strClaim(claims, "sub") != app.ClientID {
		return bad()
	}
	if aud := strClaim(claims, "aud"); aud != e.URL()+r.URL.Path {
		return bad()
	}
	exp, _ := numClaim(claims, "exp")
	nbf, _ := numClaim(claims, "nbf")
	if now.Unix() >= exp || now.Unix()+300 < nbf {
		return http.StatusBadRequest, "invalid_client", 700024
	}
	return 0, "", 0
}
