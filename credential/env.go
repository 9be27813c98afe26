package credential

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// NewEnvSource returns a [Source] whose token is the value of the
// environment variable name, read on every call and trimmed of surrounding
// whitespace. An unset or empty variable is an error wrapping
// [ErrUnavailable] that names the variable (never its value). The token has
// no ExpiresOn: a [Cache] keeps it for the ttl it is given.
func NewEnvSource(name string) Source {
	return &envSource{name: name, lookup: os.LookupEnv}
}

type envSource struct {
	name   string
	lookup func(string) (string, bool) // os.LookupEnv but in tests
}

var _ Source = (*envSource)(nil)

func (s *envSource) Token(ctx context.Context) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, fmt.Errorf("credential: env source %s: %w", s.name, err)
	}
	if s.name == "" {
		return Token{}, fmt.Errorf("credential: env source: no variable name given: %w", ErrUnavailable)
	}
	// The same reading, and the same errors, as a configuration's
	// {"env": "VAR"}.
	v, err := SecretRef{Env: s.name}.resolve(s.lookup, nil)
	if err != nil {
		return Token{}, fmt.Errorf("credential: env source: %w", err)
	}
	return Token{Value: strings.TrimSpace(string(v))}, nil
}
