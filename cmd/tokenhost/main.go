// Command tokenhost supplies keyless bearer tokens to the BYOK providers of
// the GitHub Copilot runtime.
//
// Usage:
//
//	tokenhost serve  --config FILE   answer providerToken.getToken on stdin/stdout
//	tokenhost run    --config FILE -p PROMPT   run a prompt on the Copilot runtime
//	tokenhost token  --config FILE --provider NAME   print a token
//	tokenhost doctor --config FILE   acquire a token for every provider, as a table
//
// Run `tokenhost COMMAND --help` for a command's flags. Logs go to stderr;
// in serve, stdout is the protocol channel.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set by the linker for releases.
var version = "devel"

const usage = `tokenhost supplies keyless bearer tokens (Entra ID, GitHub Actions OIDC,
a command, a file) to the BYOK providers of the GitHub Copilot runtime.

Usage:
  tokenhost serve  --config FILE                    serve providerToken.getToken on stdin/stdout
  tokenhost run    --config FILE [--model ID] -p PROMPT
                                                    run one prompt on the Copilot runtime
  tokenhost token  --config FILE --provider NAME [--claims]
                                                    print a provider's token (or its claims)
  tokenhost doctor --config FILE                    check every provider's token source
  tokenhost version                                 print the version

Without --config, TOKENHOST_CONFIG names the file; without either, the
environment configures a single "default" provider (see the README).
Run 'tokenhost COMMAND --help' for a command's flags.
`

func main() {
	// A peer that closes the pipe must not kill us with SIGPIPE: writes then
	// fail with EPIPE, which the code handles.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run runs one command line and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	env := &environment{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, env, args[1:])
	case "token":
		return cmdToken(ctx, env, args[1:])
	case "doctor":
		return cmdDoctor(ctx, env, args[1:])
	case "run":
		return cmdRun(ctx, env, args[1:])
	case "version", "--version":
		fmt.Fprintln(stdout, "tokenhost", version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage+"\n"+envVars+"\n")
		return 0
	}
	fmt.Fprintf(stderr, "tokenhost: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// environment is what a command reads and writes: the process's streams
// and variables, injected for tests.
type environment struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}
