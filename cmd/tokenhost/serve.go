package main

import (
	"context"
	"io"

	"github.com/tokenhost/tokenhost/rpc"
)

const serveSynopsis = `Usage: tokenhost serve [--config FILE] [--timeout DUR] [--strict] [--log-level LEVEL]

Serves the Copilot runtime's providerToken.getToken on stdin/stdout, the way the
runtime's client does: start it as a child process and connect its stdio to the
runtime. It answers each request with a token from the provider's source (cached
until shortly before it expires), and ends with status 0 when stdin closes or on
SIGINT/SIGTERM. Logs go to stderr; stdout carries only protocol frames.`

func cmdServe(ctx context.Context, env *environment, args []string) int {
	var f commonFlags
	fs := newFlagSet("serve", serveSynopsis, env.stderr)
	f.register(fs, "info")
	if stop, code := parseFlags(fs, args); stop {
		return code
	}
	h, log, code := f.start(env, "serve", env.stderr, nil)
	if h == nil {
		return code
	}
	mux := rpc.NewMux()
	h.dispatcher.Mount(mux)
	conn := rpc.NewConn(context.Background(), stdio{env.stdin, env.stdout}, mux, &rpc.Options{Logger: log})
	log.Info("serving providerToken.getToken on stdio", "providers", len(h.cfg.Providers), "version", version)
	select {
	case <-conn.Done():
		log.Info("stdin closed; exiting")
	case <-ctx.Done():
		log.Info("signalled; exiting")
		conn.Close()
	}
	conn.Wait()
	h.close()
	return 0
}

// stdio joins the process's stdin and stdout into one stream. Closing it
// closes stdin, which ends the read loop; stdout stays open for the exit.
type stdio struct {
	io.Reader
	io.Writer
}

func (s stdio) Close() error {
	if c, ok := s.Reader.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
