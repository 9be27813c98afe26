package credtest

import (
	"crypto/subtle"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ManagedIdentityOptions configures a [ManagedIdentity]. The zero value is
// usable: a system-assigned identity only.
type ManagedIdentityOptions struct {
	// Header is the IDENTITY_HEADER secret requests must present in
	// X-IDENTITY-HEADER; random when empty.
	Header string
	// ClientIDs and ResourceIDs are the user-assigned identities
	// assigned to the resource, by client ID and by ARM resource ID.
	ClientIDs, ResourceIDs []string
	// Lifetime of issued tokens; one hour when zero.
	Lifetime time.Duration
	// Canary is embedded in every token and error body when not empty.
	Canary string
	// Now is the endpoint's clock; time.Now when nil.
	Now func() time.Time
}

// ManagedIdentity stands in for the App Service managed identity endpoint
// that IDENTITY_ENDPOINT and IDENTITY_HEADER point to (api-version
// 2019-08-01): GET with the query resource (the scope without "/.default")
// and optionally client_id, mi_res_id or object_id, and the header
// X-IDENTITY-HEADER; the answer is access_token, expires_on (Unix seconds,
// as a string), resource, token_type and client_id.
//
// MSAL caches managed identity tokens in a process-wide cache keyed by
// identity and resource, so tests in one process should each ask for their
// own resource (see [ManagedIdentity.Resource]).
type ManagedIdentity struct {
	srv    *httptest.Server
	opts   ManagedIdentityOptions
	minter minter
	faults *faults

	requests atomic.Int64

	mu         sync.Mutex
	identities []string
}

// NewManagedIdentity starts a [ManagedIdentity] with a certificate from ca.
// Close it when done.
func NewManagedIdentity(ca *CA, opts *ManagedIdentityOptions) *ManagedIdentity {
	m := &ManagedIdentity{minter: newMinter(), faults: newFaults()}
	if opts != nil {
		m.opts = *opts
	}
	if m.opts.Header == "" {
		m.opts.Header = "header-" + randomString(16)
	}
	if m.opts.Lifetime == 0 {
		m.opts.Lifetime = time.Hour
	}
	if m.opts.Now == nil {
		m.opts.Now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /msi/token", m.serveToken)
	m.srv = httptest.NewUnstartedServer(mux)
	m.srv.TLS = ca.serverTLS()
	m.srv.StartTLS()
	return m
}

// Close shuts the endpoint down.
func (m *ManagedIdentity) Close() {
	m.faults.close()
	m.srv.Close()
}

// Endpoint returns the value for IDENTITY_ENDPOINT.
func (m *ManagedIdentity) Endpoint() string { return m.srv.URL + "/msi/token" }

// Env returns IDENTITY_ENDPOINT and IDENTITY_HEADER as App Service sets them.
func (m *ManagedIdentity) Env() map[string]string {
	return map[string]string{"IDENTITY_ENDPOINT": m.Endpoint(), "IDENTITY_HEADER": m.opts.Header}
}

// Resource returns a resource URI unique to name, for tests that must not
// share MSAL's process-wide managed identity cache; the endpoint issues
// tokens for any resource.
func Resource(name string) string { return "https://" + strings.ToLower(name) + ".credtest.invalid" }

// SetFault makes the endpoint misbehave; see [Fault].
func (m *ManagedIdentity) SetFault(f Fault) { m.faults.set(f) }

// Requests returns how many token requests the endpoint received.
func (m *ManagedIdentity) Requests() int64 { return m.requests.Load() }

// Identities returns the identity each successful request asked for, in
// order: "system", "client_id=ID" or "mi_res_id=ID" (no object ID is ever
// assigned).
func (m *ManagedIdentity) Identities() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.identities...)
}

// VerifyAccessToken returns the claims of an access token this endpoint
// issued, or an error if it did not issue it.
func (m *ManagedIdentity) VerifyAccessToken(token string) (map[string]any, error) {
	return m.minter.check(token)
}

func (m *ManagedIdentity) fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{
		"statusCode": status, "message": msg + " " + m.opts.Canary, "correlationId": randomString(8),
	})
}

func (m *ManagedIdentity) serveToken(w http.ResponseWriter, r *http.Request) {
	m.requests.Add(1)
	f := m.faults.take()
	if m.faults.transportFault(w, r, f, m.opts.Canary) {
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(m.opts.Header)) != 1 {
		m.fail(w, http.StatusUnauthorized, "credtest: missing or wrong X-IDENTITY-HEADER.")
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") != "2019-08-01" {
		m.fail(w, http.StatusBadRequest, "credtest: unsupported api-version.")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		m.fail(w, http.StatusBadRequest, "credtest: resource is required.")
		return
	}
	identity, clientID := "system", "system-"+m.srv.Listener.Addr().String()
	switch {
	case q.Get("client_id") != "":
		clientID = q.Get("client_id")
		identity = "client_id=" + clientID
		if !slices.Contains(m.opts.ClientIDs, clientID) {
			m.fail(w, http.StatusBadRequest, "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
			return
		}
	case q.Get("mi_res_id") != "":
		identity = "mi_res_id=" + q.Get("mi_res_id")
		if !slices.Contains(m.opts.ResourceIDs, q.Get("mi_res_id")) {
			m.fail(w, http.StatusBadRequest, "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
			return
		}
		clientID = "client-of-" + q.Get("mi_res_id")
	case q.Get("object_id") != "":
		m.fail(w, http.StatusBadRequest, "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
		return
	}
	now := m.opts.Now()
	lifetime := m.opts.Lifetime
	if f.Kind == FaultExpired {
		lifetime = -time.Minute
	}
	claims := map[string]any{
		"aud": resource, "iss": m.srv.URL, "appid": clientID, "oid": "oid-" + clientID,
		"iat": now.Unix(), "exp": now.Add(lifetime).Unix(), "jti": randomString(16),
	}
	if m.opts.Canary != "" {
		claims["canary"] = m.opts.Canary
	}
	m.mu.Lock()
	m.identities = append(m.identities, identity)
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": m.minter.mint(claims),
		"expires_on":   strconv.FormatInt(now.Add(lifetime).Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    clientID,
	})
}
