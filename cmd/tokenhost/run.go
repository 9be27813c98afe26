package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/rpc"
	"github.com/tokenhost/tokenhost/session"
)

const runSynopsis = `Usage: tokenhost run [--config FILE] [--model ID] -p PROMPT [--copilot PATH]

Runs one prompt on the Copilot runtime with the config's providers: it spawns
the runtime (copilot --headless --no-auto-update --stdio), gives it each
provider's wire fields (the provider named "default" serves the whole session,
the others are named providers with the config's "models"), answers its token
requests from the providers' sources, and streams the reply to stdout.

Progress (each token request: which provider, how long it took; never the
token) goes to stderr. It exits 1 with the runtime's error when the turn
fails.`

func cmdRun(ctx context.Context, env *environment, args []string) int {
	var (
		f       commonFlags
		model   string
		prompt  string
		copilot string
	)
	fs := newFlagSet("run", runSynopsis, env.stderr)
	f.register(fs, "warn")
	fs.StringVar(&model, "model", "", "the model `ID`: a model id for the \"default\" provider, \"provider/id\" for a named one (default: the config's \"model\", else its first model)")
	fs.StringVar(&prompt, "p", "", "the `prompt` to run")
	fs.StringVar(&copilot, "copilot", "", "the Copilot runtime `program` (default $COPILOT_CLI_PATH, else copilot on PATH)")
	if stop, code := parseFlags(fs, args); stop {
		return code
	}
	if prompt == "" {
		fmt.Fprintln(env.stderr, "tokenhost run: -p: missing: give the prompt to run")
		return 2
	}
	stderr := &lockedWriter{w: env.stderr}
	h, log, code := f.start(env, "run", stderr, progress(stderr))
	if h == nil {
		return code
	}
	defer h.close()
	sc, err := runSession(h.cfg, h.sources, model)
	if err != nil {
		fmt.Fprintln(stderr, "tokenhost run:", err)
		return 1
	}
	if copilot == "" {
		copilot = env.getenv("COPILOT_CLI_PATH")
	}
	opts := &session.ClientOptions{Path: copilot, Dispatcher: h.dispatcher, Logger: log}
	if f.logLevel == "debug" {
		opts.Stderr = stderr
	}
	// The runtime outlives a signal long enough to be shut down politely:
	// Close bounds that and kills it after.
	client, err := session.Start(context.WithoutCancel(ctx), opts)
	if err != nil {
		fmt.Fprintln(stderr, "tokenhost run:", err)
		return 1
	}
	code = runTurn(ctx, client, sc, prompt, env.stdout, stderr)
	if err := client.Close(); err != nil && code == 0 {
		log.Warn("the runtime did not shut down cleanly", "err", err)
	}
	return code
}

// runTurn creates the session, runs the prompt, streams the reply to
// stdout, and returns the exit status.
func runTurn(ctx context.Context, client *session.Client, sc session.SessionConfig, prompt string, stdout, stderr io.Writer) int {
	info := client.Runtime()
	fmt.Fprintf(stderr, "tokenhost: Copilot runtime %s (protocol %d), model %s\n", info.Version, info.ProtocolVersion, sc.Model)
	s, err := client.CreateSession(ctx, sc)
	if err != nil {
		fmt.Fprintln(stderr, "tokenhost run:", err)
		return 1
	}
	out := &replyWriter{w: stdout}
	_, err = s.Run(ctx, prompt, out.event)
	out.end()
	var te *session.TurnError
	switch {
	case errors.As(err, &te):
		fmt.Fprintln(stderr, "tokenhost run:", te.Message)
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "tokenhost run:", err)
		return 1
	}
	return 0
}

// runSession builds the session a config describes: the provider named
// "default" serves the whole session, the others are named providers with
// the config's models; each provider's token comes from its source. model
// overrides the config's model; without either, the first of the config's
// models is used.
func runSession(cfg *config, sources map[string]credential.Source, model string) (session.SessionConfig, error) {
	sc := session.SessionConfig{Model: model, Models: cfg.Models, Streaming: true, ClientName: "tokenhost"}
	if sc.Model == "" {
		sc.Model = cfg.Model
	}
	if sc.Model == "" && len(cfg.Models) > 0 {
		sc.Model = cfg.Models[0].Provider + "/" + cfg.Models[0].ID
	}
	var names []string
	for i, p := range cfg.Providers {
		if p.BaseURL == "" {
			return sc, fmt.Errorf("providers[%d] (%q): baseUrl: missing: run gives the provider to the Copilot runtime, which needs its endpoint", i, p.Name)
		}
		src := sources[p.Name]
		if p.Name == session.DefaultProvider {
			sc.Provider = &session.Provider{ProviderConfig: wholeSession(p.NamedProviderConfig), Source: src}
			continue
		}
		names = append(names, fmt.Sprintf("%q", p.Name))
		sc.Providers = append(sc.Providers, session.NamedProvider{NamedProviderConfig: p.NamedProviderConfig, Source: src})
	}
	name, _, named := strings.Cut(sc.Model, "/")
	switch {
	case sc.Model == "":
		return sc, errors.New(`no model: give --model, or "model" in the config`)
	case named && !hasModel(cfg.Models, sc.Model):
		return sc, fmt.Errorf("model %q: no entry of the config's \"models\" has provider %q and that id", sc.Model, name)
	case !named && sc.Provider == nil:
		return sc, fmt.Errorf(`model %q: without a "default" provider, select a named provider's model as "provider/id" (providers: %s)`, sc.Model, strings.Join(names, ", "))
	}
	return sc, nil
}

// hasModel reports whether models has the selection id "provider/id".
func hasModel(models []rpc.ProviderModelConfig, selection string) bool {
	for _, m := range models {
		if m.Provider+"/"+m.ID == selection {
			return true
		}
	}
	return false
}

// wholeSession is a provider's wire config as the whole-session provider.
func wholeSession(p rpc.NamedProviderConfig) rpc.ProviderConfig {
	return rpc.ProviderConfig{
		Type:      p.Type,
		WireAPI:   p.WireAPI,
		Transport: p.Transport,
		BaseURL:   p.BaseURL,
		Azure:     p.Azure,
		Headers:   p.Headers,
	}
}

// progress reports each token request on w: the provider, how long it
// took, when the token expires or why it failed. Never the token.
func progress(w io.Writer) func(session.Call) {
	return func(c session.Call) {
		via := ""
		if c.Provider != "" && c.Provider != c.Args.ProviderName {
			via = fmt.Sprintf(" (served by %q)", c.Provider)
		}
		took := c.Took.Round(time.Millisecond)
		if c.Took < time.Millisecond {
			took = c.Took.Round(time.Microsecond)
		}
		switch {
		case c.Err != nil: // the dispatcher logs the cause
			fmt.Fprintf(w, "tokenhost: token for provider %q%s failed after %s\n", c.Args.ProviderName, via, took)
		case c.ExpiresOn.IsZero():
			fmt.Fprintf(w, "tokenhost: token for provider %q%s acquired in %s\n", c.Args.ProviderName, via, took)
		default:
			fmt.Fprintf(w, "tokenhost: token for provider %q%s acquired in %s, expires in %s\n", c.Args.ProviderName, via, took, time.Until(c.ExpiresOn).Round(time.Second))
		}
	}
}

// replyWriter writes a turn's reply to stdout as it arrives: the deltas of
// a streamed message, or a whole message that came without deltas, with a
// blank line between messages.
type replyWriter struct {
	w        io.Writer
	streamed map[string]bool // messages whose deltas were written
	current  string          // the message being written
	wrote    bool            // something was written
	midLine  bool            // the last write did not end a line
}

func (r *replyWriter) event(ev rpc.SessionEvent) {
	switch ev.Type {
	case rpc.EventAssistantMessageDelta:
		var d rpc.AssistantMessageDeltaData
		if json.Unmarshal(ev.Data, &d) != nil || d.DeltaContent == "" {
			return
		}
		if r.streamed == nil {
			r.streamed = map[string]bool{}
		}
		r.streamed[d.MessageID] = true
		r.write(d.MessageID, d.DeltaContent)
	case rpc.EventAssistantMessage:
		var d rpc.AssistantMessageData
		if json.Unmarshal(ev.Data, &d) != nil || d.Content == "" || r.streamed[d.MessageID] {
			return
		}
		r.write(d.MessageID, d.Content)
	}
}

func (r *replyWriter) write(id, text string) {
	if id != r.current && r.wrote {
		r.end()
		fmt.Fprintln(r.w)
	}
	r.current = id
	r.wrote = true
	io.WriteString(r.w, text)
	r.midLine = !strings.HasSuffix(text, "\n")
}

// end ends the last line written.
func (r *replyWriter) end() {
	if r.midLine {
		fmt.Fprintln(r.w)
		r.midLine = false
	}
}

// lockedWriter serializes writes: progress comes from the dispatcher's
// goroutines while the turn's messages are written.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
