package credential

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestHint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want string // a fragment of the hint; "" means no hint
	}{
		{"nil", nil, ""},
		{"plain", errors.New("boom"), ""},
		{"missing id-token", errNoIDToken(envRequestURL), "permissions: id-token: write"},
		{"federated subject", &authError{source: "s", status: 400, code: 70021}, "repo:OWNER/REPO:ref:refs/heads/BRANCH"},
		{"federated environment", &authError{source: "s", status: 400, code: 70021}, "repo:OWNER/REPO:environment:NAME"},
		{"app not found", &authError{source: "s", status: 400, code: 700016}, "check clientId and tenantId"},
		{"secret value", &authError{source: "s", status: 401, code: 7000215}, "not its Secret ID"},
		{"secret expired", &authError{source: "s", status: 401, code: 7000222}, "new client secret"},
		{"tenant", &authError{source: "s", status: 400, code: 90002}, "check tenantId"},
		{"scope", &authError{source: "s", status: 400, code: 500011}, "check scope"},
		{"code from az output", &authError{source: "s", code: 700082}, "az login"},
		{"unknown code, 400", &authError{source: "s", status: 400, code: 1}, "rejected the request"},
		{"throttled", &authError{source: "s", status: 429}, "throttling"},
		{"server", &authError{source: "s", status: 503}, "retry later"},
		{"chain unavailable", &authError{source: "s", detail: "unavailable: x", cause: ErrUnavailable}, "cannot work here"},
		{"wrapped hint", fmt.Errorf("outer: %w", errNoIDToken(envRequestToken)), "id-token: write"},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), "in time"},
		{"condensed deadline", &authError{source: "s", detail: "no token before the deadline", cause: context.DeadlineExceeded}, "in time"},
		{"unavailable", fmt.Errorf("x: %w", ErrUnavailable), "cannot work here"},
		{"canceled", context.Canceled, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Hint(tc.err)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("Hint = %q, want it to contain %q", got, tc.want)
			}
			if strings.ContainsAny(got, "\r\n") {
				t.Errorf("Hint spans several lines: %q", got)
			}
		})
	}
}

// TestAADCodesHaveHints keeps the table whole: every code has a meaning
// and a hint, one line each.
func TestAADCodesHaveHints(t *testing.T) {
	t.Parallel()
	for code, c := range aadCodes {
		if c.meaning == "" || c.hint == "" || strings.ContainsAny(c.meaning+c.hint, "\r\n") {
			t.Errorf("AADSTS%d: meaning %q, hint %q: want both, one line each", code, c.meaning, c.hint)
		}
	}
}
