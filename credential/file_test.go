package credential

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mtime is the modification time token files are given, so that a test
// controls which of mtime, size and inode change.
var mtime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func writeToken(t *testing.T, path, content string, mod time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func fileToken(t *testing.T, s Source) string {
	t.Helper()
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

// TestFileSourceRereadsWhenChanged changes one thing a stat sees at a time:
// every file starts as "secret-1\n" (9 bytes) at mtime.
func TestFileSourceRereadsWhenChanged(t *testing.T) {
	tests := []struct {
		name    string
		replace func(t *testing.T, path string)
		want    string
	}{{
		name:    "mtime changed",
		replace: func(t *testing.T, path string) { writeToken(t, path, "secret-2\n", mtime.Add(time.Second)) },
		want:    "secret-2",
	}, {
		name:    "size changed",
		replace: func(t *testing.T, path string) { writeToken(t, path, "secret-2", mtime) },
		want:    "secret-2",
	}, {
		name: "renamed over (new inode)",
		replace: func(t *testing.T, path string) {
			tmp := path + ".new"
			writeToken(t, tmp, "secret-2\n", mtime)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		},
		want: "secret-2",
	}, {
		name: "symbolic link switched (Kubernetes' ..data)",
		replace: func(t *testing.T, path string) {
			dir := filepath.Dir(path)
			writeToken(t, filepath.Join(dir, "v2"), "secret-2\n", mtime)
			if err := os.Symlink("v2", filepath.Join(dir, "link.new")); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(dir, "link.new"), path); err != nil {
				t.Fatal(err)
			}
		},
		want: "secret-2",
	}, {
		// Nothing a stat sees changed: the last content read is served.
		name:    "rewritten in place, same size and mtime",
		replace: func(t *testing.T, path string) { writeToken(t, path, "secret-2\n", mtime) },
		want:    "secret-1",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "token")
			if strings.Contains(tt.name, "symbolic") {
				writeToken(t, filepath.Join(dir, "v1"), "secret-1\n", mtime)
				if err := os.Symlink("v1", path); err != nil {
					t.Fatal(err)
				}
			} else {
				writeToken(t, path, "secret-1\n", mtime)
			}
			s := NewFileSource(path, nil)
			if got := fileToken(t, s); got != "secret-1" {
				t.Fatalf("first read: got %q, want secret-1", got)
			}
			tt.replace(t, path)
			if got := fileToken(t, s); got != tt.want {
				t.Errorf("after the change: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFileSourceJWTExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, jwt(`{"exp":1900000000,"aud":"api://AzureADTokenExchange"}`)+"\n", mtime)
	tok, err := NewFileSource(path, nil).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(1900000000, 0); !tok.ExpiresOn.Equal(want) {
		t.Errorf("ExpiresOn = %v, want %v", tok.ExpiresOn, want)
	}
	writeToken(t, path, "opaque-secret", mtime.Add(time.Second))
	tok, err = NewFileSource(path, nil).Token(context.Background())
	if err != nil || !tok.ExpiresOn.IsZero() {
		t.Errorf("opaque token: ExpiresOn %v, err %v; want no expiry", tok.ExpiresOn, err)
	}
}

func TestFileSourceErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	writeToken(t, big, strings.Repeat("s", 101), mtime)
	empty := filepath.Join(dir, "empty")
	writeToken(t, empty, " \n\t", mtime)
	tests := []struct {
		name        string
		path        string
		want        string
		unavailable bool
	}{
		{"missing", filepath.Join(dir, "nope"), "nope: no such file", true},
		{"empty", empty, empty + " is empty", false},
		{"too big", big, big + " is larger than 100 bytes", false},
		{"directory", dir, "is a directory", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFileSource(tt.path, &FileOptions{MaxSize: 100}).Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "credential: file source: ") {
				t.Fatalf("got error %v, want one saying %q", err, tt.want)
			}
			if got := errors.Is(err, ErrUnavailable); got != tt.unavailable {
				t.Errorf("errors.Is(err, ErrUnavailable) = %v, want %v", got, tt.unavailable)
			}
			if strings.Contains(err.Error(), "sss") {
				t.Errorf("error %q shows the content", err)
			}
		})
	}
}

func TestFileSourceRemovedAfterRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, "secret-1", mtime)
	s := NewFileSource(path, nil)
	fileToken(t, s)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("got %v, want an error wrapping ErrUnavailable", err)
	}
}
