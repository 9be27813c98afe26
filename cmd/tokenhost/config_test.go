package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfig(t *testing.T) {
	cfg, err := parseConfig([]byte(`{
	  // per token acquisition
	  "timeout": "45s",
	  "strict": true,
	  "model": "red/gpt-4.1",
	  "models": [{"id": "gpt-4.1", "provider": "red"}],
	  "providers": [
	    { "name": "default", "auth": { "type": "env", "var": "MY_TOKEN" } },
	    { "name": "red", "type": "azure", "baseUrl": "https://red.example/openai/v1", "wireApi": "responses",
	      "headers": {"X-Team": "red"}, "azure": {"apiVersion": "2025-04-01"},
	      "auth": { "type": "exec", "command": ["/usr/local/bin/print-token", "--aud", "red"], "ttl": "1m" } },
	    { "name": "blue", "auth": { "type": "file", "path": "/var/run/secrets/blue/token" } },
	    { "name": "az", "auth": { "type": "azure", "credential": "client-secret", "tenantId": "t", "clientId": "c",
	                              "clientSecret": { "env": "AZURE_CLIENT_SECRET" } } },
	    { "name": "ci", "auth": { "type": "github-oidc", "tenantId": "t", "clientId": "c" } }, // trailing comma
	  ],
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != duration(45*time.Second) || !cfg.Strict || cfg.Model != "red/gpt-4.1" || len(cfg.Models) != 1 {
		t.Errorf("top level: %+v", cfg)
	}
	var names, types []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
		types = append(types, p.Auth.Type)
	}
	if diff := cmp.Diff([]string{"default", "red", "blue", "az", "ci"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"env", "exec", "file", "azure", "github-oidc"}, types); diff != "" {
		t.Errorf("auth types (-want +got):\n%s", diff)
	}
	red, _ := json.Marshal(cfg.Providers[1].NamedProviderConfig)
	want := `{"name":"red","type":"azure","wireApi":"responses","baseUrl":"https://red.example/openai/v1","azure":{"apiVersion":"2025-04-01"},"headers":{"X-Team":"red"}}`
	if string(red) != want {
		t.Errorf("red's wire fields:\n got %s\nwant %s", red, want)
	}
	sc, err := cfg.Providers[1].Auth.decode("")
	if err != nil || sc.ttl() != time.Minute {
		t.Errorf("red's ttl: %v, %v", sc, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", `{"providers": [}`, "not valid JSON"},
		{"unknown top-level field", `{"colour": 1, "providers": []}`, "colour: unknown field"},
		{"unknown provider field", `{"providers": [{"name": "a", "colour": 1, "auth": {"type": "env", "var": "X"}}]}`, "providers[0].colour: unknown field"},
		{"unknown auth field", `{"providers": [{"name": "a", "auth": {"type": "env", "var": "X"}}, {"name": "b", "auth": {"type": "env", "var": "X", "colour": 1}}]}`, "providers[1].auth.colour: unknown field"},
		{"field of another source", `{"providers": [{"name": "a", "auth": {"type": "env", "path": "/x"}}]}`, "providers[0].auth.path: unknown field"},
		{"wrong type", `{"providers": [{"name": "a", "auth": {"type": "exec", "command": "print-token"}}]}`, "providers[0].auth.command: want []string, got string"},
		{"bad timeout", `{"timeout": "soon", "providers": []}`, `"soon" is not a non-negative duration`},
		{"no providers", `{}`, "no providers"},
		{"no name", `{"providers": [{"auth": {"type": "env", "var": "X"}}]}`, "providers[0].name: missing"},
		{"slash in name", `{"providers": [{"name": "a/b", "auth": {"type": "env", "var": "X"}}]}`, `providers[0].name: "a/b" contains '/'`},
		{"duplicate", `{"providers": [{"name": "a", "auth": {"type": "env", "var": "X"}}, {"name": "a", "auth": {"type": "env", "var": "Y"}}]}`, `providers[1]: provider "a" is defined twice`},
		{"no auth", `{"providers": [{"name": "a"}]}`, "providers[0].auth: missing"},
		{"unknown auth type", `{"providers": [{"name": "a", "auth": {"type": "vault"}}]}`, `providers[0].auth.type: "vault" is not one of "azure", "env", "exec", "file", "github-oidc"`},
		{"env without var", `{"providers": [{"name": "a", "auth": {"type": "env"}}]}`, "providers[0].auth: var: missing"},
		{"exec without command", `{"providers": [{"name": "a", "auth": {"type": "exec", "command": []}}]}`, "providers[0].auth: command: missing"},
		{"inline api key", `{"providers": [{"name": "a", "apiKey": "sk-canary", "auth": {"type": "env", "var": "X"}}]}`, "apiKey and bearerToken are not accepted"},
		{"inline secret", `{"providers": [{"name": "a", "auth": {"type": "azure", "credential": "client-secret", "tenantId": "t", "clientId": "c", "clientSecret": "s3cret-canary"}}]}`, "providers[0].auth"},
		{"model of an unknown provider", `{"models": [{"id": "m", "provider": "nope"}], "providers": [{"name": "a", "auth": {"type": "env", "var": "X"}}]}`, `models[0]: provider "nope" is not among the providers`},
		{"trailing data", `{"providers": []} {}`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "canary") {
				t.Errorf("the error repeats a secret: %v", err)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantAuth string
		wantErr  string
	}{
		{"entra default", map[string]string{"OPENAI_AUTH_MODE": "entra", "OPENAI_BASE_URL": "https://r.openai.azure.com/openai/v1"},
			`{"credential":"default","type":"azure"}`, ""},
		{"entra client secret with scope", map[string]string{"OPENAI_AUTH_MODE": "entra", "TOKENHOST_AZURE_CREDENTIAL": "client-secret",
			"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "TOKENHOST_SCOPE": "https://ai.azure.com/.default"},
			`{"clientId":"c","clientSecret":{"env":"AZURE_CLIENT_SECRET"},"credential":"client-secret","scope":"https://ai.azure.com/.default","tenantId":"t","type":"azure"}`, ""},
		{"github oidc", map[string]string{"OPENAI_AUTH_MODE": "github-oidc", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"},
			`{"clientId":"c","tenantId":"t","type":"github-oidc"}`, ""},
		{"token env", map[string]string{"TOKENHOST_TOKEN_ENV": "MY_TOKEN"}, `{"type":"env","var":"MY_TOKEN"}`, ""},
		{"token file", map[string]string{"TOKENHOST_TOKEN_FILE": "/t"}, `{"path":"/t","type":"file"}`, ""},
		{"token command words", map[string]string{"TOKENHOST_TOKEN_COMMAND": "print-token --aud x"}, `{"command":["print-token","--aud","x"],"type":"exec"}`, ""},
		{"token command JSON", map[string]string{"TOKENHOST_TOKEN_COMMAND": `["print token", "-v"]`}, `{"command":["print token","-v"],"type":"exec"}`, ""},
		{"nothing", map[string]string{}, "", "give --config FILE"},
		{"bad mode", map[string]string{"OPENAI_AUTH_MODE": "key"}, "", `OPENAI_AUTH_MODE="key"`},
		{"bad command JSON", map[string]string{"TOKENHOST_TOKEN_COMMAND": `["x",`}, "", "TOKENHOST_TOKEN_COMMAND: not a JSON array"},
		{"bad timeout", map[string]string{"TOKENHOST_TOKEN_ENV": "X", "TOKENHOST_TIMEOUT": "later"}, "", "from the environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := configFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := cfg.Providers[0]
			if p.Name != "default" {
				t.Errorf("name %q, want default", p.Name)
			}
			var got any
			json.Unmarshal(p.Auth.Raw, &got)
			canon, _ := json.Marshal(got)
			if string(canon) != tt.wantAuth {
				t.Errorf("auth:\n got %s\nwant %s", canon, tt.wantAuth)
			}
			if u := tt.env["OPENAI_BASE_URL"]; p.BaseURL != u {
				t.Errorf("baseUrl %q, want %q", p.BaseURL, u)
			}
		})
	}
}

func TestCacheKey(t *testing.T) {
	parse := func(auth string) auth {
		cfg, err := parseConfig([]byte(`{"providers": [{"name": "a", "auth": ` + auth + `}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Providers[0].Auth
	}
	a := parse(`{"type": "exec", "command": ["print", "--secret-canary"]}`)
	b := parse(`{ "command": ["print", "--secret-canary"], "type": "exec" }`)
	c := parse(`{"type": "exec", "command": ["print", "--other"]}`)
	if a.cacheKey() != b.cacheKey() {
		t.Errorf("the same credential written two ways has two keys: %s, %s", a.cacheKey(), b.cacheKey())
	}
	if a.cacheKey() == c.cacheKey() {
		t.Errorf("two credentials share a key")
	}
	if strings.Contains(a.cacheKey(), "canary") {
		t.Errorf("the key holds the command line: %s", a.cacheKey())
	}
}
