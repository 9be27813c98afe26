package session_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEExample checks that the library example in the README is the
// code of example_test.go between its README:begin and README:end marks,
// so the README shows code that compiles and passes.
func TestREADMEExample(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(src), "// README:begin\n")
	snippet, _, ok2 := strings.Cut(rest, "// README:end\n")
	if !ok1 || !ok2 {
		t.Fatal("example_test.go lacks its README:begin and README:end marks")
	}
	snippet = strings.TrimSpace(snippet)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+snippet+"\n```") {
		t.Errorf("README.md does not show session/example_test.go's example as it is; paste this between ```go and ```:\n%s", snippet)
	}
}
