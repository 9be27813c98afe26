package credential

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// aadCode is what an AADSTS error code means and what fixes it.
type aadCode struct{ meaning, hint string }

// federatedSubjectHint says what a federated credential for a GitHub
// Actions job looks like.
const federatedSubjectHint = "add a federated credential to the app registration with issuer " +
	"https://token.actions.githubusercontent.com, audience api://AzureADTokenExchange and subject " +
	"repo:OWNER/REPO:ref:refs/heads/BRANCH (or repo:OWNER/REPO:environment:NAME for a job with an environment)"

// aadCodes are the AADSTS codes users meet most with the sources here.
var aadCodes = map[int]aadCode{
	50034:   {"user account not found in the directory", "sign in again (az login) with an account of that tenant"},
	50076:   {"multi-factor authentication required", "sign in again interactively (az login) to satisfy MFA"},
	53003:   {"blocked by Conditional Access", "ask the tenant admin which Conditional Access policy blocks this sign-in"},
	65001:   {"consent missing", "grant admin consent for the app in the tenant"},
	70011:   {"invalid scope", "the scope must be a resource followed by /.default, e.g. https://cognitiveservices.azure.com/.default"},
	70021:   {"no matching federated identity record", federatedSubjectHint},
	90002:   {"tenant not found", "check tenantId (the directory ID GUID or a verified domain) and that authorityHost is the tenant's cloud"},
	500011:  {"resource principal not found in the tenant (wrong scope)", "check scope (e.g. https://cognitiveservices.azure.com/.default) and that the resource exists in the tenant"},
	700016:  {"application not found in the tenant", "check clientId and tenantId: the app registration must exist in (or be consented to) that tenant"},
	700024:  {"client assertion outside its valid time range", "check the clock; a federated token must be fresh and is minted anew for every exchange"},
	700027:  {"client assertion signature invalid", "upload the certificate (public key) that signs the assertion to the app registration"},
	700082:  {"refresh token expired", "sign in again with az login"},
	700211:  {"no matching federated identity record for the assertion's issuer", federatedSubjectHint},
	700212:  {"no matching federated identity record for the assertion's audience", "the federated credential's audience must be api://AzureADTokenExchange (or set audience to match it)"},
	700213:  {"no matching federated identity record for the assertion's subject", federatedSubjectHint},
	7000112: {"application disabled", "enable the application (service principal) in the tenant"},
	7000215: {"invalid client secret", "use the client secret's Value (not its Secret ID) and check it is the current one"},
	7000222: {"client secret expired", "create a new client secret for the app registration and update the reference"},
}

// authError is a failed token request condensed to one line: which source,
// which HTTP status and AADSTS code, never a response body, token, secret or
// assertion.
type authError struct {
	source     string // "azure source (client-secret)"
	status     int    // HTTP status; 0 when no response
	code       int    // AADSTS code; 0 when none
	oauth      string // OAuth error ("invalid_client"); "" when none
	detail     string // what went wrong when there is no status
	retryAfter string // Retry-After of a 429, in seconds
	cause      error  // ErrUnavailable or a context error; may be nil
}

// Error implements error.
func (e *authError) Error() string {
	var b strings.Builder
	b.WriteString("credential: ")
	b.WriteString(e.source)
	b.WriteString(": ")
	switch {
	case e.status != 0:
		fmt.Fprintf(&b, "authentication failed: HTTP %d", e.status)
		if e.code != 0 {
			fmt.Fprintf(&b, ": AADSTS%d", e.code)
			if c, ok := aadCodes[e.code]; ok {
				b.WriteString(" " + c.meaning)
			}
		}
		if e.oauth != "" {
			b.WriteString(" (" + e.oauth + ")")
		}
		if e.retryAfter != "" {
			b.WriteString(": throttled, retry after " + e.retryAfter + "s")
		}
	case e.code != 0:
		fmt.Fprintf(&b, "authentication failed: AADSTS%d", e.code)
		if c, ok := aadCodes[e.code]; ok {
			b.WriteString(" " + c.meaning)
		}
	default:
		b.WriteString(e.detail)
	}
	if e.cause != nil && e.status == 0 && e.code == 0 && !strings.HasSuffix(e.detail, e.cause.Error()) {
		b.WriteString(": " + e.cause.Error())
	}
	return b.String()
}

// Unwrap returns ErrUnavailable, a context error or nil; never the
// underlying azidentity error, whose text holds the response body.
func (e *authError) Unwrap() error { return e.cause }

// Hint implements the interface [Hint] looks for.
func (e *authError) Hint() string {
	if c, ok := aadCodes[e.code]; ok {
		return c.hint
	}
	switch {
	case e.status == 429:
		return "Microsoft Entra ID is throttling token requests: wait and retry"
	case e.status >= 500:
		return "the identity service failed: retry later"
	case e.status == 401 || e.status == 403:
		return "the identity endpoint refused the credential: check the configured identity and its secret or certificate"
	case e.status >= 400:
		return "the identity endpoint rejected the request: check tenantId, clientId and scope"
	}
	return ""
}

// withHint attaches a one-line hint to an error for [Hint].
type withHint struct {
	err  error
	hint string
}

func (e *withHint) Error() string { return e.err.Error() }
func (e *withHint) Unwrap() error { return e.err }
func (e *withHint) Hint() string  { return e.hint }

var (
	aadstsRE = regexp.MustCompile(`AADSTS(\d{4,8})`)
	oauthRE  = regexp.MustCompile(`^[a-z_]{1,40}$`)
	jwtRE    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)
	// unavailableType is the type of azidentity's credentialUnavailableError,
	// which it does not export.
	unavailableType = reflect.TypeOf(azidentity.NewCredentialUnavailableError(""))
)

// condense turns an azidentity error into an [authError]. ctx is the
// caller's: when it has ended, the failure is a timeout or cancellation
// whatever azidentity made of it.
func condense(ctx context.Context, source string, err error) error {
	e := &authError{source: source}
	if ctxErr := ctx.Err(); ctxErr != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		if ctxErr == nil {
			ctxErr = context.DeadlineExceeded
			if errors.Is(err, context.Canceled) {
				ctxErr = context.Canceled
			}
		}
		e.detail = "no token before the deadline"
		if errors.Is(ctxErr, context.Canceled) {
			e.detail = "token request canceled"
		}
		e.cause = ctxErr
		return e
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		resp := afe.RawResponse
		e.status = resp.StatusCode
		if body, err := runtime.Payload(resp); err == nil {
			e.code, e.oauth = parseAADError(body)
		}
		if resp.StatusCode == 429 {
			if ra := resp.Header.Get("Retry-After"); ra != "" {
				if _, err := strconv.Atoi(ra); err == nil {
					e.retryAfter = ra
				}
			}
		}
		return e
	}
	msg := err.Error()
	if m := aadstsRE.FindStringSubmatch(msg); m != nil {
		e.code, _ = strconv.Atoi(m[1])
	}
	if findType(err, unavailableType) {
		e.cause = ErrUnavailable
		e.detail = "unavailable: " + unavailableSummary(msg)
		return e
	}
	e.detail = classify(msg)
	return e
}

// parseAADError returns the AADSTS code and OAuth error of an Entra error
// body, ignoring its free text.
func parseAADError(body []byte) (code int, oauth string) {
	var v struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	if json.Unmarshal(body, &v) != nil {
		return 0, ""
	}
	if len(v.Codes) > 0 {
		code = v.Codes[0]
	} else if m := aadstsRE.FindStringSubmatch(v.Description); m != nil {
		code, _ = strconv.Atoi(m[1])
	}
	if oauthRE.MatchString(v.Error) {
		oauth = v.Error
	}
	return code, oauth
}

// classify names a failure that came without an HTTP response from the
// text azidentity made of it, which may quote a whole (successful)
// response body: only fixed phrases leave this function.
func classify(msg string) string {
	switch m := strings.ToLower(msg); {
	case strings.Contains(m, "json"):
		return "malformed response from the identity endpoint"
	case strings.Contains(m, "missing access_token"):
		return "the identity endpoint answered no access token"
	case strings.Contains(m, "x509:") || strings.Contains(m, "tls:"):
		return "TLS failure talking to the identity endpoint (is its certificate trusted?)"
	case strings.Contains(m, "connection reset") || strings.Contains(m, "eof") || strings.Contains(m, "closed network connection"):
		return "the identity endpoint closed the connection without answering"
	case strings.Contains(m, "connection refused"):
		return "could not connect to the identity endpoint: connection refused"
	case strings.Contains(m, "no such host"):
		return "could not resolve the identity endpoint's host"
	case strings.Contains(m, "timeout") || strings.Contains(m, "timed out"):
		return "the identity endpoint did not answer in time"
	}
	msg, _, _ = strings.Cut(msg, " To troubleshoot, visit")
	return "authentication failed: " + scrub(firstLine([]byte(strings.Join(strings.Fields(msg), " ")), 200))
}

// unavailableSummary condenses azidentity's many-line "credential
// unavailable" text (a chain lists every credential it tried) into one
// line.
func unavailableSummary(msg string) string {
	var parts []string
	for line := range strings.Lines(msg) {
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasSuffix(line, "failed to acquire a token."), line == "Attempted credentials:":
			continue
		}
		parts = append(parts, scrub(firstLine([]byte(line), 200)))
		if len(parts) == 6 {
			break
		}
	}
	return strings.Join(parts, "; ")
}

// scrub removes anything shaped like a JWT.
func scrub(s string) string { return jwtRE.ReplaceAllString(s, "[redacted]") }

// findType reports whether err or an error it wraps has type t.
func findType(err error, t reflect.Type) bool {
	for err != nil {
		if reflect.TypeOf(err) == t {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if findType(e, t) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}
