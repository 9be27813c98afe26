package credential

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// execParseErrors are the reasons the exec source's output parser may
// give; its errors say nothing else (the output could be a secret).
var execParseErrors = []string{
	"printed no token",
	`printed output starting with "{" that is not a JSON object of the documented form`,
	`printed JSON without a "token"`,
	`printed an "expiresOn" that is not an RFC 3339 time`,
	`printed an "expires_in" that is not a positive number of seconds`,
}

// FuzzExecOutput parses arbitrary command output as the exec source does.
// It never panics; a token it returns is not empty and has no surrounding
// space, and an expires_in gives an expiry after now; every refusal is one
// of the documented reasons and quotes nothing of the output. Seeds are in
// testdata/fuzz/FuzzExecOutput.
func FuzzExecOutput(f *testing.F) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := &execSource{name: "fuzz", now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, out []byte) {
		tok, err := s.parse(out, &capBuffer{max: maxExecStderr})
		if err != nil {
			msg, ok := strings.CutPrefix(err.Error(), `credential: exec source "fuzz": `)
			if !ok || !known(msg) {
				t.Fatalf("parse(%q): error %q is not one of the documented reasons", out, err)
			}
			if tok != (Token{}) {
				t.Fatalf("parse(%q): a token with an error", out)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Fatalf("parse(%q): output errors are failures, not unavailability", out)
			}
			return
		}
		if tok.Value == "" || strings.TrimSpace(tok.Value) != tok.Value {
			t.Fatalf("parse(%q) = token %q, want non-empty and trimmed", out, tok.Value)
		}
		if !tok.ExpiresOn.IsZero() && strings.Contains(string(out), "expires_in") && !strings.Contains(string(out), "expiresOn") && !tok.ExpiresOn.After(now) {
			t.Fatalf("parse(%q): expires_in gave %s, not after now", out, tok.ExpiresOn)
		}
	})
}

func known(msg string) bool {
	for _, m := range execParseErrors {
		if msg == m {
			return true
		}
	}
	return false
}
