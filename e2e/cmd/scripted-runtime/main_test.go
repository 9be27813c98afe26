package main

import "testing"

func TestRedact(t *testing.T) {
	tests := []struct{ tok, want string }{
		{"demo-env-token-0b5d7e19", "demo…23"},
		{"short", "…(5)"},
		{"12345678", "…(8)"},
		{"ééééééééé", "éééé…9"},
	}
	for _, tc := range tests {
		if got := redact(tc.tok); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.tok, got, tc.want)
		}
	}
}
