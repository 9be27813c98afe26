package credential

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSecretRefJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    SecretRef
		wantErr string
	}{
		{"env", `{"env": "S"}`, SecretRef{Env: "S"}, ""},
		{"file", `{"file": "/run/s"}`, SecretRef{File: "/run/s"}, ""},
		{"inline", `"hunter2-` + canary + `"`, SecretRef{}, "must not be written inline"},
		{"both", `{"env": "S", "file": "/f"}`, SecretRef{}, "both"},
		{"neither", `{}`, SecretRef{}, `must name "env" or "file"`},
		{"unknown field", `{"value": "` + canary + `"}`, SecretRef{}, `must be {"env": "VAR"} or {"file": "/path"}`},
		{"number", `42`, SecretRef{}, `must be {"env": "VAR"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got SecretRef
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.wantErr != "" {
				checkClean(t, err)
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestRefJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Ref
	}{
		{`"tenant"`, Ref{Value: "tenant"}},
		{`{"env": "T"}`, Ref{Env: "T"}},
		{`{"file": "/t"}`, Ref{File: "/t"}},
	} {
		var got Ref
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, d)
		}
		out, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var back Ref
		if err := json.Unmarshal(out, &back); err != nil || back != got {
			t.Errorf("round trip of %s = %s -> %+v, %v", tc.in, out, back, err)
		}
	}
	var r Ref
	if err := json.Unmarshal([]byte(`{"env":"A","file":"/b"}`), &r); err == nil {
		t.Error("a Ref with env and file was accepted")
	}
}

func TestSecretRefResolve(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(full, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := mapEnv(map[string]string{"SET": testSecret, "BLANK": "  "})
	for _, tc := range []struct {
		name        string
		ref         SecretRef
		want        string
		unavailable bool
		mention     string
	}{
		{"env", SecretRef{Env: "SET"}, testSecret, false, ""},
		{"file", SecretRef{File: full}, testSecret + "\n", false, ""},
		{"unset", SecretRef{Env: "UNSET"}, "", true, "UNSET"},
		{"blank", SecretRef{Env: "BLANK"}, "", true, "BLANK"},
		{"missing file", SecretRef{File: filepath.Join(dir, "nope")}, "", true, "nope"},
		{"empty file", SecretRef{File: empty}, "", true, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ref.resolve(env, os.ReadFile)
			if !tc.unavailable {
				if err != nil || string(got) != tc.want {
					t.Errorf("resolve = %q, %v; want the secret", got, err)
				}
				return
			}
			checkClean(t, err)
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("err = %v, want ErrUnavailable mentioning %q", err, tc.mention)
			}
		})
	}
}
