package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tailscale/hujson"
	"github.com/tokenhost/tokenhost/rpc"
)

// maxConfigSize bounds a config file; a real one is a few kilobytes.
const maxConfigSize = 1 << 20

// config is a tokenhost config file.
type config struct {
	// Timeout bounds each token acquisition.
	Timeout duration `json:"timeout"`
	// Strict turns off the fallback to the "default" provider.
	Strict bool `json:"strict"`
	// Model selects the model `tokenhost run` uses unless --model says
	// otherwise: a model id for a whole-session provider, "provider/id" for
	// a named one.
	Model string `json:"model"`
	// Models lists the models of named providers, in the runtime's shape.
	Models []rpc.ProviderModelConfig `json:"models"`
	// Providers are the providers, each with its auth.
	Providers []provider `json:"providers"`
}

// provider is one provider of a config: the runtime's wire fields, which
// `serve` ignores and `run` sends, and the auth that stays here.
type provider struct {
	rpc.NamedProviderConfig
	Auth auth `json:"-"`
}

// auth says where a provider's tokens come from. Raw is the block as
// written, decoded again by the source's own type.
type auth struct {
	Type string
	Raw  json.RawMessage
}

// duration is a time.Duration written as a Go duration string ("30s").
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "30s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a non-negative duration such as \"30s\"", s)
	}
	*d = duration(v)
	return nil
}

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// loadConfig reads and parses a config file.
func loadConfig(path string) (*config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(ioLimit(f, maxConfigSize+1)); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if buf.Len() > maxConfigSize {
		return nil, fmt.Errorf("config %s: larger than %d bytes", path, maxConfigSize)
	}
	c, err := parseConfig(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// parseConfig parses a config: JSON with comments and trailing commas,
// unknown fields rejected with their path. Its errors are one line.
func parseConfig(data []byte) (*config, error) {
	c, err := parseConfigDoc(data)
	if err != nil {
		return nil, oneLineError{err}
	}
	return c, nil
}

// oneLineError shows an error on one line, control characters (from a
// field name or literal in a malformed file) replaced by '?'.
type oneLineError struct{ error }

func (e oneLineError) Error() string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, e.error.Error())
}

func (e oneLineError) Unwrap() error { return e.error }

func parseConfigDoc(data []byte) (*config, error) {
	std, err := hujson.Standardize(data)
	if err != nil {
		return nil, fmt.Errorf("not valid JSON (comments allowed): %s", syntaxError(err))
	}
	var top struct {
		Timeout   duration                  `json:"timeout"`
		Strict    bool                      `json:"strict"`
		Model     string                    `json:"model"`
		Models    []rpc.ProviderModelConfig `json:"models"`
		Providers []json.RawMessage         `json:"providers"`
	}
	if err := strictDecode(std, &top, ""); err != nil {
		return nil, err
	}
	c := &config{Timeout: top.Timeout, Strict: top.Strict, Model: top.Model, Models: top.Models}
	seen := map[string]bool{}
	for i, raw := range top.Providers {
		path := fmt.Sprintf("providers[%d]", i)
		p, err := parseProvider(raw, path)
		if err != nil {
			return nil, err
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%s: provider %q is defined twice", path, p.Name)
		}
		seen[p.Name] = true
		c.Providers = append(c.Providers, p)
	}
	if len(c.Providers) == 0 {
		return nil, errors.New(`no providers: add at least one, e.g. {"name": "default", "auth": {...}}`)
	}
	for i, m := range c.Models {
		if !seen[m.Provider] {
			return nil, fmt.Errorf("models[%d]: provider %q is not among the providers", i, m.Provider)
		}
	}
	return c, nil
}

func parseProvider(raw json.RawMessage, path string) (provider, error) {
	var p struct {
		rpc.NamedProviderConfig
		Auth json.RawMessage `json:"auth"`
	}
	if err := strictDecode(raw, &p, path); err != nil {
		return provider{}, err
	}
	switch {
	case p.Name == "":
		return provider{}, fmt.Errorf(`%s.name: missing: every provider has a name ("default" for the whole-session provider)`, path)
	case strings.Contains(p.Name, "/"):
		return provider{}, fmt.Errorf("%s.name: %q contains '/', which the runtime reserves for model ids", path, p.Name)
	case p.APIKey != "" || p.BearerToken != "":
		return provider{}, fmt.Errorf("%s: apiKey and bearerToken are not accepted: tokenhost is keyless, give the provider an \"auth\" instead", path)
	case len(p.Auth) == 0 || string(p.Auth) == "null":
		return provider{}, fmt.Errorf(`%s.auth: missing: say where tokens come from, e.g. {"type": "env", "var": "MY_TOKEN"}`, path)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(p.Auth, &head); err != nil {
		return provider{}, fmt.Errorf("%s.auth: %s", path, describeJSON(err))
	}
	if _, ok := sources[head.Type]; !ok {
		return provider{}, fmt.Errorf("%s.auth.type: %q is not one of %s", path, head.Type, strings.Join(sourceTypes(), ", "))
	}
	a := auth{Type: head.Type, Raw: p.Auth}
	if _, err := a.decode(path + ".auth"); err != nil {
		return provider{}, err
	}
	return provider{NamedProviderConfig: p.NamedProviderConfig, Auth: a}, nil
}

// strictDecode decodes data into v, rejecting unknown fields and trailing
// data; errors carry path.
func strictDecode(data []byte, v any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return pathError(path, err)
	}
	if dec.More() {
		return pathError(path, errors.New("unexpected data after the object"))
	}
	return nil
}

// pathError prefixes err with the config path it is about, naming the
// field of an unknown-field or type error.
func pathError(path string, err error) error {
	join := func(field string) string {
		switch {
		case path == "":
			return field
		case field == "":
			return path
		}
		return path + "." + field
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Errorf("%s: unknown field", join(strings.Trim(f, `"`)))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: want %s, got %s", join(te.Field), te.Type, te.Value)
	}
	where := path
	if where == "" {
		where = "config"
	}
	return fmt.Errorf("%s: %s", where, describeJSON(err))
}

// syntaxError keeps hujson's account of a syntax error but not a literal
// it quotes, which could be a secret pasted without quotes.
func syntaxError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "hujson: ")
	if i := strings.Index(msg, "invalid literal"); i >= 0 {
		return msg[:i] + "invalid literal (a word that is not true, false or null: a string without its quotes?)"
	}
	return msg
}

func describeJSON(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}
