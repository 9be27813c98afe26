package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/tokenhost/tokenhost/credential"
)

// sourceConfig is one auth block, decoded by its type.
type sourceConfig interface {
	// build makes the source; it must not reach the network.
	build() (credential.Source, error)
	// ttl is how long a token without an expiry is reused; zero means it is
	// read again on every request.
	ttl() time.Duration
}

// sources maps an auth type to a new, empty config of that type.
var sources = map[string]func() sourceConfig{
	"env":         func() sourceConfig { return new(envAuth) },
	"file":        func() sourceConfig { return new(fileAuth) },
	"exec":        func() sourceConfig { return new(execAuth) },
	"azure":       func() sourceConfig { return new(azureAuth) },
	"github-oidc": func() sourceConfig { return new(githubOIDCAuth) },
}

func sourceTypes() []string {
	var names []string
	for n := range sources {
		names = append(names, fmt.Sprintf("%q", n))
	}
	slices.Sort(names)
	return names
}

// decode parses the auth block strictly by its type and checks it.
func (a auth) decode(path string) (sourceConfig, error) {
	sc := sources[a.Type]()
	if err := strictDecode(a.Raw, sc, path); err != nil {
		return nil, err
	}
	if v, ok := sc.(interface{ validate() error }); ok {
		if err := v.validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return sc, nil
}

// cacheKey identifies the credential an auth block stands for, so providers
// that share one share its cached token: a hash of the block's type and
// fields in a canonical form (a hash, since a command line may hold a
// secret).
func (a auth) cacheKey() string {
	canonical := []byte(a.Raw)
	if sc, err := a.decode(""); err == nil {
		canonical, _ = json.Marshal(sc)
	}
	sum := sha256.Sum256(append([]byte(a.Type+"\x00"), canonical...))
	return a.Type + ":" + hex.EncodeToString(sum[:8])
}

// base holds what every auth block has.
type base struct {
	Type string   `json:"type"`
	TTL  duration `json:"ttl,omitempty"`
}

func (b base) ttl() time.Duration { return time.Duration(b.TTL) }

// envAuth reads the token from an environment variable.
type envAuth struct {
	base
	Var string `json:"var"`
}

func (a *envAuth) validate() error {
	if a.Var == "" {
		return fmt.Errorf(`var: missing: name the variable that holds the token, e.g. "var": "MY_TOKEN"`)
	}
	return nil
}

func (a *envAuth) build() (credential.Source, error) { return credential.NewEnvSource(a.Var), nil }

// fileAuth reads the token from a file, again when it changes.
type fileAuth struct {
	base
	Path string `json:"path"`
}

func (a *fileAuth) validate() error {
	if a.Path == "" {
		return fmt.Errorf("path: missing: give the token file's path")
	}
	return nil
}

func (a *fileAuth) build() (credential.Source, error) {
	return credential.NewFileSource(a.Path, nil), nil
}

// execAuth runs a command that prints the token.
type execAuth struct {
	base
	Command []string `json:"command"`
}

func (a *execAuth) validate() error {
	if len(a.Command) == 0 || a.Command[0] == "" {
		return fmt.Errorf(`command: missing: give the program and its arguments, e.g. ["/usr/local/bin/print-token", "--aud", "red"]`)
	}
	return nil
}

func (a *execAuth) build() (credential.Source, error) {
	return credential.NewExecSource(a.Command, nil), nil
}

// azureAuth acquires Microsoft Entra ID tokens through azidentity.
type azureAuth struct {
	base
	credential.AzureOptions
}

func (a *azureAuth) validate() error {
	_, err := credential.NewAzureSource(&a.AzureOptions)
	return err
}

func (a *azureAuth) build() (credential.Source, error) {
	return credential.NewAzureSource(&a.AzureOptions)
}

func (a *azureAuth) describe() string {
	if a.Credential == "" {
		return string(credential.AzureDefault)
	}
	return string(a.Credential)
}

// githubOIDCAuth exchanges a GitHub Actions OIDC token for an Entra token.
type githubOIDCAuth struct {
	base
	credential.GitHubOIDCOptions
}

func (a *githubOIDCAuth) validate() error {
	_, err := credential.NewGitHubOIDCSource(&a.GitHubOIDCOptions)
	return err
}

func (a *githubOIDCAuth) build() (credential.Source, error) {
	return credential.NewGitHubOIDCSource(&a.GitHubOIDCOptions)
}

func (a *envAuth) describe() string  { return "$" + a.Var }
func (a *fileAuth) describe() string { return a.Path }
func (a *execAuth) describe() string { return a.Command[0] }

func ioLimit(r io.Reader, n int64) io.Reader { return io.LimitReader(r, n) }
