package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// envVars documents the variables configFromEnv reads, for --help and the
// README.
const envVars = `Without a config file, these variables configure one "default" provider:
  OPENAI_BASE_URL             the provider's baseUrl (needed by run)
  OPENAI_AUTH_MODE            "entra" (Microsoft Entra ID through azidentity) or
                              "github-oidc" (GitHub Actions OIDC federated to Entra)
  TOKENHOST_AZURE_CREDENTIAL  with entra: default, managed-identity, workload-identity,
                              azure-cli, client-secret or client-certificate (default: default)
  AZURE_TENANT_ID, AZURE_CLIENT_ID
                              with github-oidc (and client-secret, whose secret is read
                              from AZURE_CLIENT_SECRET); azidentity reads them too
  TOKENHOST_SCOPE             the token scope (default https://cognitiveservices.azure.com/.default)
  TOKENHOST_TOKEN_ENV, TOKENHOST_TOKEN_FILE, TOKENHOST_TOKEN_COMMAND
                              instead of OPENAI_AUTH_MODE: a variable, a file, or a command
                              (a JSON array, or words split on spaces) that holds the token
  TOKENHOST_PROVIDER_TYPE     the runtime's provider type: openai, azure or anthropic
  TOKENHOST_TIMEOUT           the acquisition timeout, e.g. 30s`

// configFromEnv configures a single "default" provider from environment
// variables alone, by writing the config a user would and parsing it, so
// both paths check the same things.
func configFromEnv(getenv func(string) string) (*config, error) {
	auth := map[string]any{}
	switch mode := getenv("OPENAI_AUTH_MODE"); mode {
	case "entra":
		auth["type"] = "azure"
		kind := getenv("TOKENHOST_AZURE_CREDENTIAL")
		if kind == "" {
			kind = "default"
		}
		auth["credential"] = kind
		if kind == "client-secret" {
			auth["tenantId"] = getenv("AZURE_TENANT_ID")
			auth["clientId"] = getenv("AZURE_CLIENT_ID")
			auth["clientSecret"] = map[string]string{"env": "AZURE_CLIENT_SECRET"}
		}
	case "github-oidc":
		auth["type"] = "github-oidc"
		auth["tenantId"] = getenv("AZURE_TENANT_ID")
		auth["clientId"] = getenv("AZURE_CLIENT_ID")
	case "":
		switch {
		case getenv("TOKENHOST_TOKEN_ENV") != "":
			auth["type"], auth["var"] = "env", getenv("TOKENHOST_TOKEN_ENV")
		case getenv("TOKENHOST_TOKEN_FILE") != "":
			auth["type"], auth["path"] = "file", getenv("TOKENHOST_TOKEN_FILE")
		case getenv("TOKENHOST_TOKEN_COMMAND") != "":
			argv, err := splitCommand(getenv("TOKENHOST_TOKEN_COMMAND"))
			if err != nil {
				return nil, fmt.Errorf("TOKENHOST_TOKEN_COMMAND: %w", err)
			}
			auth["type"], auth["command"] = "exec", argv
		default:
			return nil, errors.New("give --config FILE, set TOKENHOST_CONFIG, or configure a provider with OPENAI_AUTH_MODE or TOKENHOST_TOKEN_* (see 'tokenhost --help')")
		}
	default:
		return nil, fmt.Errorf(`OPENAI_AUTH_MODE=%q: want "entra" or "github-oidc"`, mode)
	}
	if scope := getenv("TOKENHOST_SCOPE"); scope != "" && (auth["type"] == "azure" || auth["type"] == "github-oidc") {
		auth["scope"] = scope
	}
	p := map[string]any{"name": "default", "auth": auth}
	if u := getenv("OPENAI_BASE_URL"); u != "" {
		p["baseUrl"] = u
	}
	if t := getenv("TOKENHOST_PROVIDER_TYPE"); t != "" {
		p["type"] = t
	}
	doc := map[string]any{"providers": []any{p}}
	if t := getenv("TOKENHOST_TIMEOUT"); t != "" {
		doc["timeout"] = t
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("from the environment: %w", err)
	}
	return cfg, nil
}

// splitCommand reads a command as a JSON array of strings, or as words
// separated by spaces.
func splitCommand(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(s), &argv); err != nil {
			return nil, errors.New("not a JSON array of strings")
		}
		return argv, nil
	}
	return strings.Fields(s), nil
}
