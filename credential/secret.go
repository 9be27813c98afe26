package credential

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SecretRef says where a secret is read from: the environment variable Env
// ({"env": "VAR"}) or the file File ({"file": "/path"}), exactly one of
// them. A configuration never holds the secret itself: a JSON string where a
// SecretRef is expected is an error.
//
// A reference is resolved when the source first needs it, not when the
// configuration is read.
type SecretRef struct {
	// Env names an environment variable holding the secret.
	Env string `json:"env,omitempty"`
	// File is the path of a file holding the secret.
	File string `json:"file,omitempty"`
}

// IsZero reports whether r names nothing.
func (r SecretRef) IsZero() bool { return r.Env == "" && r.File == "" }

// String describes r without resolving it: "env VAR" or "file /path".
func (r SecretRef) String() string {
	switch {
	case r.Env != "":
		return "env " + r.Env
	case r.File != "":
		return "file " + r.File
	}
	return "nothing"
}

// UnmarshalJSON implements [json.Unmarshaler]. It accepts only an object
// with exactly one of "env" and "file", and never repeats the input in an
// error (it may be a secret pasted inline).
func (r *SecretRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return errors.New(`credential: a secret must not be written inline: give {"env": "VAR"} or {"file": "/path"} instead`)
	}
	var v struct {
		Env  string `json:"env"`
		File string `json:"file"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		return errors.New(`credential: a secret reference must be {"env": "VAR"} or {"file": "/path"}`)
	}
	*r = SecretRef(v)
	return r.validate()
}

func (r SecretRef) validate() error {
	if r.Env != "" && r.File != "" {
		return errors.New(`credential: a secret reference names both "env" and "file": give one`)
	}
	if r.IsZero() {
		return errors.New(`credential: a secret reference must name "env" or "file"`)
	}
	return nil
}

// resolve reads the secret. An unset or empty variable and a missing file
// wrap [ErrUnavailable]. Errors name the variable or file, never the value.
func (r SecretRef) resolve(env func(string) (string, bool), readFile func(string) ([]byte, error)) ([]byte, error) {
	switch {
	case r.Env != "":
		v, ok := env(r.Env)
		if !ok {
			return nil, fmt.Errorf("variable %s is not set: %w", r.Env, ErrUnavailable)
		}
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("variable %s is empty: %w", r.Env, ErrUnavailable)
		}
		return []byte(v), nil
	case r.File != "":
		b, err := readFile(r.File)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, fmt.Errorf("file %s is empty: %w", r.File, ErrUnavailable)
		}
		return b, nil
	}
	return nil, fmt.Errorf("no reference given: %w", ErrUnavailable)
}

// Ref is a setting that is not secret, such as a tenant or client ID: a JSON
// string given inline ("value"), or a reference like a [SecretRef]
// ({"env": "VAR"} or {"file": "/path"}).
type Ref struct {
	// Value is the setting given inline.
	Value string
	// Env names an environment variable holding the setting.
	Env string
	// File is the path of a file holding the setting.
	File string
}

// IsZero reports whether r is empty.
func (r Ref) IsZero() bool { return r.Value == "" && r.Env == "" && r.File == "" }

// MarshalJSON implements [json.Marshaler]: a string for an inline value,
// else the reference object.
func (r Ref) MarshalJSON() ([]byte, error) {
	if r.Env == "" && r.File == "" {
		return json.Marshal(r.Value)
	}
	return json.Marshal(SecretRef{Env: r.Env, File: r.File})
}

// UnmarshalJSON implements [json.Unmarshaler]: a string, or an object with
// exactly one of "env" and "file".
func (r *Ref) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = Ref{Value: s}
		return nil
	}
	var s SecretRef
	if err := s.UnmarshalJSON(b); err != nil {
		return errors.New(`credential: a setting must be a string, {"env": "VAR"} or {"file": "/path"}`)
	}
	*r = Ref{Env: s.Env, File: s.File}
	return nil
}

// resolve returns the setting, trimmed of surrounding whitespace.
func (r Ref) resolve(env func(string) (string, bool), readFile func(string) ([]byte, error)) (string, error) {
	if r.Env == "" && r.File == "" {
		return r.Value, nil
	}
	b, err := SecretRef{Env: r.Env, File: r.File}.resolve(env, readFile)
	return strings.TrimSpace(string(b)), err
}

// validate checks the form of r without resolving it.
func (r Ref) validate() error {
	if r.Value != "" && (r.Env != "" || r.File != "") {
		return errors.New("credential: a setting has both a value and a reference")
	}
	return SecretRef{Env: r.Env, File: r.File}.validateIfSet()
}

func (r SecretRef) validateIfSet() error {
	if r.IsZero() {
		return nil
	}
	return r.validate()
}
