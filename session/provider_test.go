package session

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/rpc"
)

func TestWire(t *testing.T) {
	cb := fixed("secret-canary")
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"whole-session with callback",
			Provider{ProviderConfig: rpc.ProviderConfig{Type: rpc.ProviderConfigTypeAzure, BaseURL: "https://x/openai/v1", Headers: map[string]string{"X-A": "1"}, Azure: &rpc.ProviderConfigAzure{APIVersion: "2025-01-01"}}, Token: cb}.Wire(),
			`{"type":"azure","baseUrl":"https://x/openai/v1","headers":{"X-A":"1"},"azure":{"apiVersion":"2025-01-01"},"hasBearerTokenProvider":true}`},
		{"whole-session without callback",
			Provider{ProviderConfig: rpc.ProviderConfig{BaseURL: "http://local", HasBearerTokenProvider: true}}.Wire(),
			`{"baseUrl":"http://local"}`},
		{"named with a source",
			NamedProvider{NamedProviderConfig: rpc.NamedProviderConfig{Name: "blue", BaseURL: "https://blue/v1"}, Source: credential.NewEnvSource("BLUE_TOKEN")}.Wire(),
			`{"name":"blue","baseUrl":"https://blue/v1","hasBearerTokenProvider":true}`},
		{"named with callback",
			NamedProvider{NamedProviderConfig: rpc.NamedProviderConfig{Name: "red", BaseURL: "https://red/v1", WireAPI: rpc.ProviderConfigWireAPIResponses}, Token: cb}.Wire(),
			`{"name":"red","baseUrl":"https://red/v1","wireApi":"responses","hasBearerTokenProvider":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(string(got), tt.want) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRegisterProviders(t *testing.T) {
	d := NewDispatcher(&Options{Logger: quiet, Strict: true})
	remove := d.RegisterProviders("s",
		&Provider{Token: fixed("whole")},
		[]NamedProvider{
			{NamedProviderConfig: rpc.NamedProviderConfig{Name: "red"}, Token: fixed("red")},
			{NamedProviderConfig: rpc.NamedProviderConfig{Name: "static"}},
			{NamedProviderConfig: rpc.NamedProviderConfig{Name: "src"}, Source: credential.SourceFunc(func(context.Context) (credential.Token, error) {
				return credential.Token{Value: "from-source"}, nil
			})},
		})
	got := map[string]string{}
	for _, name := range []string{"default", "red", "static", "src"} {
		tok, err := d.Token(context.Background(), ProviderTokenArgs{"s", name})
		if err != nil {
			got[name] = "error"
			continue
		}
		got[name] = tok.Value
	}
	if diff := cmp.Diff(map[string]string{"default": "whole", "red": "red", "static": "error", "src": "from-source"}, got); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
	remove()
	if _, err := d.Token(context.Background(), ProviderTokenArgs{"s", "red"}); codeOf(err) != rpc.CodeUnknownProvider {
		t.Errorf("after remove: %v", err)
	}
}
