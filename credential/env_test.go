package credential

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestEnvSource(t *testing.T) {
	tests := []struct {
		name        string
		variable    string
		env         map[string]string
		want        string
		wantErr     string // empty: no error
		unavailable bool
	}{
		{name: "set", variable: "TOKEN", env: map[string]string{"TOKEN": "secret-1"}, want: "secret-1"},
		{name: "trimmed", variable: "TOKEN", env: map[string]string{"TOKEN": " secret-1\n"}, want: "secret-1"},
		{name: "unset", variable: "TOKEN", wantErr: "variable TOKEN is not set", unavailable: true},
		{name: "empty", variable: "TOKEN", env: map[string]string{"TOKEN": ""}, wantErr: "variable TOKEN is empty", unavailable: true},
		{name: "blank", variable: "TOKEN", env: map[string]string{"TOKEN": " \n"}, wantErr: "variable TOKEN is empty", unavailable: true},
		{name: "no name", wantErr: "no variable name", unavailable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewEnvSource(tt.variable).(*envSource)
			s.lookup = func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			tok, err := s.Token(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tok != (Token{Value: tt.want}) {
					t.Errorf("got value %q, expiry %v; want %q and no expiry", tok.Value, tok.ExpiresOn, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "credential: env source") {
				t.Fatalf("got error %v, want one saying %q", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrUnavailable); got != tt.unavailable {
				t.Errorf("errors.Is(err, ErrUnavailable) = %v, want %v", got, tt.unavailable)
			}
		})
	}
}

func TestEnvSourceReadsEveryCall(t *testing.T) {
	t.Setenv("TOKENHOST_TEST_TOKEN", "secret-1")
	s := NewEnvSource("TOKENHOST_TEST_TOKEN")
	for _, want := range []string{"secret-1", "secret-2"} {
		t.Setenv("TOKENHOST_TEST_TOKEN", want)
		tok, err := s.Token(context.Background())
		if err != nil || tok.Value != want {
			t.Errorf("got %q, %v; want %q", tok.Value, err, want)
		}
	}
}

func TestEnvSourceCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t.Setenv("TOKENHOST_TEST_TOKEN", "secret-1")
	if _, err := NewEnvSource("TOKENHOST_TEST_TOKEN").Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want %v", err, context.Canceled)
	}
}
