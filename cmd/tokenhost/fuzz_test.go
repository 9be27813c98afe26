package main

import (
	"strings"
	"testing"
)

// FuzzParseConfig parses arbitrary config files. It never panics; a
// config it accepts has providers, each with a name and a known auth type;
// a config it refuses gets a one-line error that is not empty. Seeds are
// in testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig(data)
		if err != nil {
			msg := err.Error()
			if c != nil || strings.TrimSpace(msg) == "" || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("parseConfig(%q) = %v, %q; want no config and a one-line error", data, c, msg)
			}
			return
		}
		if len(c.Providers) == 0 {
			t.Fatalf("parseConfig(%q) accepted a config without providers", data)
		}
		for i, p := range c.Providers {
			if p.Name == "" {
				t.Fatalf("parseConfig(%q): provider %d has no name", data, i)
			}
			if _, ok := sources[p.Auth.Type]; !ok {
				t.Fatalf("parseConfig(%q): provider %q has auth type %q", data, p.Name, p.Auth.Type)
			}
		}
	})
}
