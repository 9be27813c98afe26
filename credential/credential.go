package credential

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Token is a bearer token and what is known of its lifetime.
//
// Token never prints its value: String, GoString, Format and LogValue all
// redact it, so a Token that reaches a log line, an error or a panic shows
// only its expiry.
type Token struct {
	// Value is the bearer token, without the "Bearer " prefix.
	Value string
	// ExpiresOn is when the token stops being valid; zero when unknown.
	ExpiresOn time.Time
	// RefreshOn is when the issuer advises refreshing it (Entra's
	// refresh_in); zero when not given.
	RefreshOn time.Time
}

// String implements [fmt.Stringer] without revealing the value.
func (t Token) String() string {
	if t.ExpiresOn.IsZero() {
		return "Token(redacted)"
	}
	return "Token(redacted, expires " + t.ExpiresOn.UTC().Format(time.RFC3339) + ")"
}

// GoString implements [fmt.GoStringer] without revealing the value.
func (t Token) GoString() string { return t.String() }

// Format implements [fmt.Formatter] so that every verb, %+v and %#v
// included, prints the redacted form.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// LogValue implements [slog.LogValuer] without revealing the value.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Source is where tokens come from. Token returns a token valid now, or an
// error; it honours ctx's deadline and cancellation.
//
// It is golang.org/x/oauth2's TokenSource with a context.
type Source interface {
	Token(ctx context.Context) (Token, error)
}

// SourceFunc adapts a function to a [Source].
type SourceFunc func(ctx context.Context) (Token, error)

// Token calls f(ctx).
func (f SourceFunc) Token(ctx context.Context) (Token, error) { return f(ctx) }

// ErrUnavailable is wrapped by errors that mean a source cannot work on this
// machine at all (a variable unset, a file or program missing, no identity
// endpoint), as opposed to a source that was tried and failed. Users fix the
// two differently: the first by configuration, the second at the issuer.
var ErrUnavailable = errors.New("credential unavailable")
