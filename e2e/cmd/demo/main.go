// Command demo runs tokenhost's whole loop on this machine, offline, for
// `make demo`: a loopback stand-in for Microsoft Entra ID (with its own test
// CA), a loopback OpenAI-compatible model endpoint, a config whose provider
// gets its token from Entra with a client secret, and `tokenhost run` with
// the real Copilot runtime. The reply goes to stdout; each token request
// (from tokenhost) and each model request (from the endpoint, its bearer
// token redacted) is shown on stderr.
//
//	go run ./e2e/cmd/demo [--host bin/tokenhost] [--copilot PATH] [-p PROMPT]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/tokenhost/tokenhost/credential/credtest"
	"github.com/tokenhost/tokenhost/e2e/internal/modelserver"
)

const pinnedRuntime = "e2e/runtime/node_modules/@github/copilot-linux-x64/copilot"

func main() {
	host := flag.String("host", "bin/tokenhost", "the tokenhost `binary` to run")
	copilot := flag.String("copilot", "", "the Copilot runtime `program` (default $COPILOT_CLI_PATH, else the pinned one in "+pinnedRuntime+")")
	prompt := flag.String("p", "Say hello to tokenhost.", "the `prompt`")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, *host, *copilot, *prompt)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, host, copilot, prompt string) error {
	if copilot == "" {
		copilot = os.Getenv("COPILOT_CLI_PATH")
	}
	if copilot == "" {
		copilot = pinnedRuntime
	}
	for _, p := range []*string{&host, &copilot} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%w (run `make build runtime`)", err)
		}
		*p = abs
	}
	dir, err := os.MkdirTemp("", "tokenhost-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The identity side: a loopback Entra ID with an app that has a secret.
	ca := credtest.NewCA()
	caFile := filepath.Join(dir, "ca.pem")
	if err := ca.WriteFile(caFile); err != nil {
		return err
	}
	entra := credtest.NewEntra(ca, &credtest.EntraOptions{Apps: []credtest.App{
		{TenantID: "contoso.example", ClientID: "demo-app", Secret: "demo-s3cret"},
	}})
	defer entra.Close()
	fmt.Fprintf(os.Stderr, "demo: Entra ID stand-in at %s (tenant contoso.example, app demo-app)\n", entra.URL())

	// The model side: an OpenAI-compatible endpoint that shows each request.
	model, err := modelserver.New("Hello from the loopback model: this reply was paid for with a keyless Entra token.", &modelserver.Options{
		OnRequest: func(r modelserver.Request) {
			fmt.Fprintf(os.Stderr, "demo: model endpoint got %s %s with Authorization: %s\n", r.Method, r.Path, redactAuth(r.Authorization))
		},
	})
	if err != nil {
		return err
	}
	defer model.Close()
	fmt.Fprintf(os.Stderr, "demo: model endpoint at %s\n", model.URL())

	cfg := map[string]any{
		"model": "gpt-4.1",
		"providers": []any{map[string]any{
			"name": "default", "type": "openai", "baseUrl": model.URL(),
			"auth": map[string]any{
				"type": "azure", "credential": "client-secret",
				"tenantId": "contoso.example", "clientId": "demo-app",
				"clientSecret":  map[string]any{"env": "DEMO_APP_SECRET"},
				"authorityHost": entra.URL(), "disableInstanceDiscovery": true,
			},
		}},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	cfgFile := filepath.Join(dir, "tokenhost.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo: config %s:\n%s\n", cfgFile, b)

	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, host, "run", "--config", cfgFile, "--copilot", copilot, "-p", prompt)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,            // the runtime keeps its state under $HOME/.copilot
		"SSL_CERT_FILE=" + caFile, // trust the stand-in's CA
		"DEMO_APP_SECRET=demo-s3cret",
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Fprintf(os.Stderr, "demo: %s run --config %s -p %q\n", host, cfgFile, prompt)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("tokenhost run failed: %w", err)
		}
		return err
	}
	fmt.Fprintf(os.Stderr, "demo: done: %d token request(s) reached Entra ID\n", entra.TokenRequests())
	return nil
}

// redactAuth shows an Authorization header's scheme and enough of the
// token to tell two apart, never enough to use.
func redactAuth(h string) string {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok {
		return fmt.Sprintf("[%d chars]", len(h))
	}
	if len(tok) <= 8 {
		return fmt.Sprintf("%s [%d chars]", scheme, len(tok))
	}
	return fmt.Sprintf("%s %s…[%d chars]", scheme, tok[:4], len(tok))
}
