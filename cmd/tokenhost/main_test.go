package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runCmd runs a command line in-process and returns its status and output.
func runCmd(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// writeConfig writes a config file and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokenhost.jsonc")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{nil, 2, "", "Usage:"},
		{[]string{"help"}, 0, "OPENAI_AUTH_MODE", ""},
		{[]string{"version"}, 0, "tokenhost ", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"serve", "--help"}, 0, "", "stdout carries only protocol frames"},
		{[]string{"token", "--help"}, 0, "", "--claims"},
		{[]string{"doctor", "--help"}, 0, "", "Exits non-zero when any provider fails"},
		{[]string{"serve", "--bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"serve", "--log-level", "loud"}, 2, "", `--log-level: "loud" is not debug`},
		{[]string{"serve"}, 1, "", "no config: give --config FILE"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(t, nil, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("got %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q", code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}

// jwt builds an unsigned JWT with the given claims.
func jwt(claims string) string {
	enc := func(s string) string {
		return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(base64Std(s)), "=")
	}
	return enc(`{"alg":"none"}`) + "." + enc(claims) + ".sig"
}

func TestToken(t *testing.T) {
	tok := jwt(`{"aud":"https://cognitiveservices.azure.com","iss":"https://sts.windows.net/t/","tid":"t","oid":"o","appid":"a","exp":4102444800}`)
	cfg := writeConfig(t, `{"providers": [
		{"name": "default", "auth": {"type": "env", "var": "TOK"}},
		{"name": "missing", "auth": {"type": "env", "var": "UNSET"}}]}`)
	t.Setenv("TOK", tok)
	env := map[string]string{}

	code, out, errOut := runCmd(t, env, "token", "--config", cfg)
	if code != 0 || out != tok+"\n" {
		t.Errorf("token: %d %q %s", code, out, errOut)
	}
	code, out, _ = runCmd(t, env, "token", "--config", cfg, "--provider", "default", "--claims")
	var claims map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &claims) != nil {
		t.Fatalf("claims: %d %q", code, out)
	}
	if claims["exp"] != "2100-01-01T00:00:00Z" || claims["oid"] != "o" || claims["appid"] != "a" || strings.Contains(out, tok) {
		t.Errorf("claims: %s", out)
	}
	code, out, errOut = runCmd(t, env, "token", "--config", cfg, "--provider", "missing")
	if code != 1 || out != "" || !strings.Contains(errOut, `provider "missing"`) || !strings.Contains(errOut, "UNSET") {
		t.Errorf("failing provider: %d %q %s", code, out, errOut)
	}
}

func TestDoctor(t *testing.T) {
	cfg := writeConfig(t, `{"providers": [
		{"name": "default", "auth": {"type": "env", "var": "TOK"}},
		{"name": "broken", "auth": {"type": "exec", "command": ["sh", "-c", "echo stdout-canary; echo cannot reach issuer >&2; exit 3"]}}]}`)
	t.Setenv("TOK", "tok-canary")
	code, out, errOut := runCmd(t, nil, "doctor", "--config", cfg)
	if code != 1 {
		t.Errorf("status %d, want 1", code)
	}
	for _, want := range []string{"PROVIDER", "default", "ok", "broken", "FAIL", "cannot reach issuer"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, "canary") {
		t.Errorf("doctor printed a token or a command's stdout:\n%s\n%s", out, errOut)
	}
	if !strings.Contains(errOut, "1 of 2 providers failed") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestServe(t *testing.T) {
	cfg := writeConfig(t, `{"providers": [{"name": "default", "auth": {"type": "env", "var": "TOK"}}]}`)
	t.Setenv("TOK", "tok-1")
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var errOut strings.Builder
	done := make(chan int)
	go func() {
		done <- run(context.Background(), []string{"serve", "--config", cfg}, inR, outW, &lockedWriter{w: &errOut}, os.Getenv)
		outW.Close()
	}()
	body := `{"jsonrpc":"2.0","id":1,"method":"providerToken.getToken","params":{"sessionId":"s","providerName":"default"}}`
	fmt.Fprintf(inW, "Content-Length: %d\r\n\r\n%s", len(body), body)
	r := bufio.NewReader(outR)
	header, _ := r.ReadString('\n')
	n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(header, "Content-Length:")))
	r.ReadString('\n')
	resp := make([]byte, n)
	io.ReadFull(r, resp)
	var got struct {
		Result struct{ Token string }
	}
	if err := json.Unmarshal(resp, &got); err != nil || got.Result.Token != "tok-1" {
		t.Errorf("answer %s", resp)
	}
	inW.Close()
	if code := <-done; code != 0 {
		t.Errorf("status %d after stdin closed, want 0", code)
	}
	if rest, _ := io.ReadAll(r); len(rest) != 0 {
		t.Errorf("stdout after the answer: %q", rest)
	}
}
