package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEConfigs parses the README's config examples, so the reference
// stays true to what the binary accepts: every jsonc block that is a whole
// config parses, and every one-line auth block parses as a provider's auth.
func TestREADMEConfigs(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```jsonc\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 3 {
		t.Fatalf("found %d jsonc blocks in the README, want the config reference's", len(blocks))
	}
	configs, auths := 0, 0
	for _, b := range blocks {
		body := b[1]
		if strings.Contains(body, `"providers"`) {
			configs++
			if _, err := parseConfig([]byte(body)); err != nil {
				t.Errorf("README config does not parse: %v\n%s", err, body)
			}
			continue
		}
		// A list of auth blocks, one object per entry (an entry may span
		// lines: it ends where the braces balance).
		for _, obj := range objects(body) {
			auths++
			doc := `{"providers": [{"name": "p", "auth": ` + obj + `}]}`
			if _, err := parseConfig([]byte(doc)); err != nil {
				t.Errorf("README auth block does not parse: %v\n%s", err, obj)
			}
		}
	}
	if configs == 0 || auths < 8 {
		t.Errorf("checked %d configs and %d auth blocks: the README's examples were not found", configs, auths)
	}
}

// objects splits text into its top-level JSON objects, comments stripped.
func objects(text string) []string {
	var out []string
	var cur strings.Builder
	depth := 0
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "//"); i >= 0 && !strings.Contains(line[:i], `"https:`) && !strings.Contains(line[:i], `"api:`) {
			line = line[:i]
		}
		for _, r := range line {
			switch r {
			case '{':
				depth++
			case '}':
				depth--
			}
			if depth > 0 || r == '}' {
				cur.WriteRune(r)
			}
			if depth == 0 && r == '}' {
				out = append(out, cur.String())
				cur.Reset()
			}
		}
		if depth > 0 {
			cur.WriteRune('\n')
		}
	}
	return out
}
