// Command scripted-runtime plays a short Copilot runtime session against a
// token host over stdio and prints each providerToken.getToken call and its
// outcome as a table, tokens redacted. It is what `make demo` runs first.
//
// Usage:
//
//	go run ./e2e/cmd/scripted-runtime [--host PATH] [--config FILE]
//
// It builds nothing: --host names the host binary (default: tokenhost in
// PATH), which it starts as `<host> serve --config FILE` in the config's
// directory with TOKENHOST_DEMO_TOKEN set. The default config is
// e2e/testdata/demo.jsonc. It exits 0 when every call had the outcome the
// script expects and the host exited cleanly with nothing but frames on
// stdout, 1 otherwise, and 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/tokenhost/tokenhost/e2e/internal/peer"
	"github.com/tokenhost/tokenhost/rpc"
)

// demoToken is the default provider's token, given to the host through
// the environment.
const demoToken = "demo-env-token-0b5d7e19"

// bound is how long the whole session may take before it is abandoned.
const bound = time.Minute

// step is one getToken call of the script and the outcome it expects.
type step struct {
	session, provider string
	code              int64  // the expected error code; 0 for a token
	token             string // the expected token, when known
	note              string
}

var script = []step{
	{session: "session-1", provider: "default", token: demoToken, note: "whole-session provider (env)"},
	{session: "session-1", provider: "red", note: "named provider (exec)"},
	{session: "session-1", provider: "blue", note: "named provider (file)"},
	{session: "session-2", provider: "default", token: demoToken, note: "a second session"},
	{session: "session-2", provider: "green", token: demoToken, note: "unknown name: falls back to default"},
	{session: "session-1", provider: "broken", code: rpc.CodeSourceFailed, note: "a source that fails"},
	{session: "session-1", provider: "red", note: "named provider again (its program runs again)"},
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scripted-runtime", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "", "the token host binary (default: tokenhost in PATH)")
	cfg := fs.String("config", filepath.Join("e2e", "testdata", "demo.jsonc"), "the host's config")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *host == "" {
		p, err := exec.LookPath("tokenhost")
		if err != nil {
			fmt.Fprintln(stderr, "scripted-runtime: tokenhost is not in PATH: build it (go build -o bin/ ./cmd/tokenhost) and pass --host bin/tokenhost")
			return 2
		}
		*host = p
	}
	cfgPath, err := filepath.Abs(*cfg)
	if err == nil {
		_, err = os.Stat(cfgPath)
	}
	if err != nil {
		fmt.Fprintf(stderr, "scripted-runtime: config: %v (run from the repository's root, or pass --config)\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := play(ctx, *host, cfgPath, stdout); err != nil {
		fmt.Fprintln(stderr, "scripted-runtime:", err)
		return 1
	}
	return 0
}

// play runs the script against the host and prints the table.
func play(ctx context.Context, host, cfgPath string, stdout io.Writer) error {
	argv := []string{host, "serve", "--config", cfgPath}
	h, err := peer.Start(argv, &peer.Options{
		Env: append(os.Environ(), "TOKENHOST_DEMO_TOKEN="+demoToken),
		Dir: filepath.Dir(cfgPath),
	})
	if err != nil {
		return err
	}
	defer h.Kill()
	fmt.Fprintf(stdout, "scripted runtime: %s\n\n", strings.Join(argv, " "))

	// Like the runtime, send the calls without waiting for each answer.
	calls := make([]*peer.Call, len(script))
	for i, s := range script {
		if calls[i], err = h.GoToken(s.session, s.provider); err != nil {
			return withLog(err, h)
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSESSION\tPROVIDER\tOUTCOME\tAS SCRIPTED\tNOTE")
	var unexpected []string
	var details []string
	for i, s := range script {
		resp, err := calls[i].Wait(ctx)
		if err != nil {
			return withLog(err, h)
		}
		outcome, ok := judge(s, resp)
		verdict := "yes"
		if !ok {
			verdict = "NO"
			unexpected = append(unexpected, fmt.Sprintf("call %d (%s)", i+1, s.provider))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, s.session, s.provider, outcome, verdict, s.note)
		if resp.Error != nil {
			details = append(details, fmt.Sprintf("  %d: %s", i+1, resp.Error.Message))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(details) > 0 {
		fmt.Fprintf(stdout, "\nerror messages (as the user would see them after the runtime's retries):\n%s\n", strings.Join(details, "\n"))
	}

	if err := h.CloseStdin(); err != nil {
		return withLog(err, h)
	}
	code, err := h.Wait(ctx)
	if err != nil {
		return withLog(err, h)
	}
	fmt.Fprintf(stdout, "\nstdin closed: the host exited with status %d after %d answers", code, h.Answers())
	v := h.Violations()
	if len(v) == 0 {
		fmt.Fprintln(stdout, "; its stdout held nothing but frames.")
	} else {
		fmt.Fprintf(stdout, "; its stdout broke the protocol:\n  %s\n", strings.Join(v, "\n  "))
	}
	switch {
	case len(unexpected) > 0:
		return withLog(fmt.Errorf("not as scripted: %s", strings.Join(unexpected, ", ")), h)
	case code != 0:
		return withLog(fmt.Errorf("the host exited with status %d", code), h)
	case len(v) > 0:
		return withLog(errors.New("the host wrote something other than frames on stdout"), h)
	}
	return nil
}

// judge describes resp and says whether it is what s expects.
func judge(s step, resp *peer.Response) (outcome string, ok bool) {
	if resp.Error != nil {
		return fmt.Sprintf("error %d", resp.Error.Code), resp.Error.Code == s.code
	}
	tok, err := resp.Token()
	if err != nil {
		return "malformed answer", false
	}
	return "token " + redact(tok), s.code == 0 && tok != "" && (s.token == "" || tok == s.token)
}

// redact shows a token's first four characters and its length.
func redact(tok string) string {
	n := utf8.RuneCountInString(tok)
	if n <= 8 {
		return fmt.Sprintf("…(%d)", n)
	}
	return string([]rune(tok)[:4]) + "…" + fmt.Sprint(n)
}

// withLog adds the host's log to err.
func withLog(err error, h *peer.Host) error {
	if log := strings.TrimSpace(h.Stderr()); log != "" {
		return fmt.Errorf("%w\nthe host's log:\n%s", err, log)
	}
	return err
}
