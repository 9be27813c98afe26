package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/session"
)

// commonFlags are the flags every command that reads a config takes.
type commonFlags struct {
	config   string
	logLevel string
	timeout  time.Duration
	strict   bool
}

func (c *commonFlags) register(fs *flag.FlagSet, defaultLevel string) {
	fs.StringVar(&c.config, "config", "", "the config `file` (JSON with comments); default $TOKENHOST_CONFIG, else the environment")
	fs.StringVar(&c.logLevel, "log-level", defaultLevel, "log `level` on stderr: debug, info, warn or error")
	fs.DurationVar(&c.timeout, "timeout", 0, "bound on each token acquisition (overrides the config's \"timeout\"; default 30s)")
	fs.BoolVar(&c.strict, "strict", false, "no fallback to the \"default\" provider for unknown names (or the config's \"strict\")")
}

// newFlagSet returns a flag set that prints its usage, headed by synopsis,
// to w.
func newFlagSet(name, synopsis string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, returning the exit status to stop with when
// parsing ends the command (help, or an error).
func parseFlags(fs *flag.FlagSet, args []string) (stop bool, code int) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return true, 0
		}
		return true, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return true, 2
	}
	return false, 0
}

// newLogger returns a text logger on w at the named level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// start makes the logger and loads the host for the command cmd; on
// failure it says why on w and returns a nil host and the exit status.
func (f *commonFlags) start(env *environment, cmd string, w io.Writer, onCall func(session.Call)) (*host, *slog.Logger, int) {
	log, err := newLogger(w, f.logLevel)
	if err != nil {
		fmt.Fprintf(w, "tokenhost %s: %v\n", cmd, err)
		return nil, nil, 2
	}
	h, err := loadHost(env, f, log, onCall)
	if err != nil {
		fmt.Fprintf(w, "tokenhost %s: %v\n", cmd, err)
		return nil, nil, 1
	}
	return h, log, 0
}

// host is a loaded config: a cached source per provider and a dispatcher
// that serves them to every session.
type host struct {
	cfg        *config
	timeout    time.Duration                // bound on each acquisition
	sources    map[string]credential.Source // by provider name, behind the cache
	dispatcher *session.Dispatcher
	cache      *credential.Cache
}

// close stops the acquisitions still in flight (a hanging token command is
// stopped) and waits for them, so that none outlives the process.
func (h *host) close() { h.cache.Close() }

// loadHost reads the config the flags and environment name and builds the
// host. Sources are built but not used: nothing reaches the network.
func loadHost(env *environment, f *commonFlags, log *slog.Logger, onCall func(session.Call)) (*host, error) {
	cfg, err := resolveConfig(env, f.config)
	if err != nil {
		return nil, err
	}
	timeout := session.DefaultTimeout
	if t := time.Duration(cfg.Timeout); t > 0 {
		timeout = t
	}
	if f.timeout > 0 {
		timeout = f.timeout
	}
	d := session.NewDispatcher(&session.Options{
		Timeout: timeout,
		Strict:  cfg.Strict || f.strict,
		Logger:  log,
		OnCall:  onCall,
	})
	// The cache bounds each upstream acquisition by the same timeout, so an
	// acquisition that outlives a request is joined by the next one rather
	// than started again, and ends when a request would have.
	cache := credential.NewCache(&credential.CacheOptions{AcquireTimeout: timeout})
	h := &host{cfg: cfg, timeout: timeout, sources: map[string]credential.Source{}, dispatcher: d, cache: cache}
	for i, p := range cfg.Providers {
		sc, err := p.Auth.decode(fmt.Sprintf("providers[%d].auth", i))
		if err != nil {
			return nil, err
		}
		src, err := sc.build()
		if err != nil {
			return nil, fmt.Errorf("providers[%d] (%q): %w", i, p.Name, err)
		}
		cached := cache.Source(p.Auth.cacheKey(), src, sc.ttl())
		h.sources[p.Name] = cached
		d.RegisterSource(session.AnySession, p.Name, cached)
	}
	return h, nil
}

// resolveConfig finds the config: the flag, then $TOKENHOST_CONFIG, then
// the environment alone.
func resolveConfig(env *environment, path string) (*config, error) {
	if path == "" {
		path = env.getenv("TOKENHOST_CONFIG")
	}
	if path != "" {
		return loadConfig(path)
	}
	cfg, err := configFromEnv(env.getenv)
	if err != nil {
		return nil, fmt.Errorf("no config: %w", err)
	}
	return cfg, nil
}

// firstLine keeps the first line of s.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
