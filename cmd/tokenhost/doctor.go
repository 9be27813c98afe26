package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/tokenhost/tokenhost/credential"
)

const doctorSynopsis = `Usage: tokenhost doctor [--config FILE] [--timeout DUR]

Acquires a token for every provider and prints a table: provider, source,
status, time to expiry, time taken, and for a failure its cause and a hint.
Exits non-zero when any provider fails. Tokens are never printed.`

func cmdDoctor(ctx context.Context, env *environment, args []string) int {
	var f commonFlags
	fs := newFlagSet("doctor", doctorSynopsis, env.stderr)
	f.register(fs, "error")
	if stop, code := parseFlags(fs, args); stop {
		return code
	}
	h, _, code := f.start(env, "doctor", env.stderr, nil)
	if h == nil {
		return code
	}
	defer h.close()
	timeout := h.timeout
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tSOURCE\tSTATUS\tEXPIRES IN\tTOOK\tCAUSE / HINT")
	failed := 0
	for _, p := range h.cfg.Providers {
		r := check(ctx, h.sources[p.Name], timeout)
		status, expires, detail := "ok", "-", ""
		if r.err != nil {
			failed++
			status = "FAIL"
			detail = firstLine(r.err.Error())
			if hint := credential.Hint(r.err); hint != "" {
				detail += " (hint: " + hint + ")"
			}
		} else if !r.tok.ExpiresOn.IsZero() {
			expires = time.Until(r.tok.ExpiresOn).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Auth.describe(), status, expires, r.took.Round(time.Millisecond), detail)
	}
	tw.Flush()
	if failed > 0 {
		fmt.Fprintf(env.stderr, "tokenhost doctor: %d of %d providers failed\n", failed, len(h.cfg.Providers))
		return 1
	}
	return 0
}

type checkResult struct {
	tok  credential.Token
	took time.Duration
	err  error
}

// check acquires one token under timeout, answering at the timeout even if
// the source does not.
func check(ctx context.Context, src credential.Source, timeout time.Duration) checkResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	done := make(chan checkResult, 1)
	go func() {
		tok, err := src.Token(ctx)
		done <- checkResult{tok: tok, err: err}
	}()
	var r checkResult
	select {
	case r = <-done:
	case <-ctx.Done():
		r.err = fmt.Errorf("no token within %s: %w", timeout, ctx.Err())
	}
	r.took = time.Since(start)
	if r.err == nil && r.tok.Value == "" {
		r.err = errors.New("the source returned an empty token")
	}
	return r
}

// describe names the source an auth block configures.
func (a auth) describe() string {
	sc, err := a.decode("")
	if err != nil {
		return a.Type
	}
	if d, ok := sc.(interface{ describe() string }); ok {
		return a.Type + " (" + d.describe() + ")"
	}
	return a.Type
}
