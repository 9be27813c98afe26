package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/credential"
	"github.com/tokenhost/tokenhost/rpc"
)

// DefaultProvider is the name the runtime uses for a session's whole-session
// provider, and the fallback for names with no callback of their own.
const DefaultProvider = "default"

// DefaultTimeout bounds one token acquisition unless [Options.Timeout] says
// otherwise.
const DefaultTimeout = 30 * time.Second

// AnySession, used as a session id in [Dispatcher.Register], registers a
// callback for every session, as `tokenhost serve` does.
const AnySession = ""

// ProviderTokenArgs says which token the runtime wants.
type ProviderTokenArgs struct {
	// SessionID is the runtime session whose model request needs the token.
	SessionID string
	// ProviderName is the provider's name: "default" for a whole-session
	// provider, the provider's own name for a named one.
	ProviderName string
}

// TokenFunc returns a token for a provider. It should honour ctx, but the
// [Dispatcher] answers at its timeout even when it does not.
type TokenFunc func(ctx context.Context, args ProviderTokenArgs) (credential.Token, error)

// SourceFunc adapts a [credential.Source] to a [TokenFunc].
func SourceFunc(src credential.Source) TokenFunc {
	return func(ctx context.Context, _ ProviderTokenArgs) (credential.Token, error) {
		return src.Token(ctx)
	}
}

// Call describes one answered token request, for [Options.OnCall].
type Call struct {
	Args      ProviderTokenArgs
	Provider  string        // the registration that answered: Args.ProviderName or "default"
	Took      time.Duration // time spent in the callback
	ExpiresOn time.Time     // the token's expiry, zero when unknown
	Err       error         // nil on success; the error sent to the runtime otherwise
}

// Options configures a [Dispatcher]. A nil *Options means the defaults.
type Options struct {
	// Timeout bounds each acquisition. Zero means [DefaultTimeout].
	Timeout time.Duration
	// Strict turns off the fallback to the "default" provider: a name with
	// no callback of its own is an error.
	Strict bool
	// Logger receives failures. Nil means [slog.Default].
	Logger *slog.Logger
	// OnCall, when set, is called after every token request, for progress
	// reports and metrics. It must return quickly. It never sees a token.
	OnCall func(Call)
}

type key struct{ session, provider string }

// Dispatcher routes token requests to registered callbacks. It is safe for
// concurrent use; registrations may change while requests are served.
type Dispatcher struct {
	timeout time.Duration
	strict  bool
	log     *slog.Logger
	onCall  func(Call)
	now     func() time.Time

	mu    sync.RWMutex
	funcs map[key]*entry
}

// entry is one registration; its address tells it from a later
// registration of the same pair. cached, when set, serves a token without
// waiting, or says it cannot.
type entry struct {
	fn     TokenFunc
	cached func() (credential.Token, bool)
}

// NewDispatcher returns a [Dispatcher] with no callbacks.
func NewDispatcher(opts *Options) *Dispatcher {
	d := &Dispatcher{timeout: DefaultTimeout, log: slog.Default(), now: time.Now, funcs: map[key]*entry{}}
	if opts != nil {
		if opts.Timeout > 0 {
			d.timeout = opts.Timeout
		}
		if opts.Logger != nil {
			d.log = opts.Logger
		}
		d.strict = opts.Strict
		d.onCall = opts.OnCall
	}
	return d
}

// Register makes fn answer for provider in the session sessionID, or in
// every session when sessionID is [AnySession], replacing any earlier
// registration of the pair. It returns a function that removes this
// registration (and not a later one of the same pair).
func (d *Dispatcher) Register(sessionID, provider string, fn TokenFunc) (remove func()) {
	return d.register(key{sessionID, provider}, &entry{fn: fn})
}

// RegisterSource registers src as [Dispatcher.Register] registers a
// callback. When src can serve a cached token without waiting (a
// [credential.CachedSource]), a request it can serve so is answered where
// it arrives, with no goroutine and no timer: the cache-hit path.
func (d *Dispatcher) RegisterSource(sessionID, provider string, src credential.Source) (remove func()) {
	e := &entry{fn: SourceFunc(src)}
	if c, ok := src.(interface {
		Cached() (credential.Token, bool)
	}); ok {
		e.cached = c.Cached
	}
	return d.register(key{sessionID, provider}, e)
}

func (d *Dispatcher) register(k key, e *entry) (remove func()) {
	d.mu.Lock()
	d.funcs[k] = e
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.funcs[k] == e {
			delete(d.funcs, k)
		}
	}
}

// RemoveSession removes every callback registered for sessionID.
func (d *Dispatcher) RemoveSession(sessionID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.funcs {
		if k.session == sessionID {
			delete(d.funcs, k)
		}
	}
}

// lookup finds the callback for args: the session's own registration of the
// provider, then one for every session, then, unless strict, the same for
// "default".
func (d *Dispatcher) lookup(args ProviderTokenArgs) (*entry, string) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, p := range [...]string{args.ProviderName, DefaultProvider} {
		if e := d.funcs[key{args.SessionID, p}]; e != nil {
			return e, p
		}
		if e := d.funcs[key{AnySession, p}]; e != nil {
			return e, p
		}
		if d.strict || p == DefaultProvider {
			break
		}
	}
	return nil, ""
}

// known lists the provider names that can answer for sessionID.
func (d *Dispatcher) known(sessionID string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var names []string
	for k := range d.funcs {
		if k.session == sessionID || k.session == AnySession {
			names = append(names, k.provider)
		}
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// Token answers one token request: it finds the callback, runs it under
// the timeout, and checks what it returns. Its errors are *[rpc.Error]s
// whose messages name the provider and never hold a token.
func (d *Dispatcher) Token(ctx context.Context, args ProviderTokenArgs) (credential.Token, error) {
	e, provider := d.lookup(args)
	if e == nil {
		err := d.unknown(args)
		d.report(Call{Args: args, Err: err})
		return credential.Token{}, err
	}
	if tok, ok := d.cached(e, args, provider); ok {
		return tok, nil
	}
	start := d.now()
	tok, err := d.run(ctx, e.fn, args, provider)
	c := Call{Args: args, Provider: provider, Took: d.now().Sub(start), ExpiresOn: tok.ExpiresOn, Err: err}
	d.report(c)
	if err != nil {
		return credential.Token{}, err
	}
	return tok, nil
}

// cached serves e's cached token when it has one it can serve at once, and
// reports the call. It never waits; false means the callback must run.
func (d *Dispatcher) cached(e *entry, args ProviderTokenArgs, provider string) (credential.Token, bool) {
	if e.cached == nil {
		return credential.Token{}, false
	}
	tok, ok := e.cached()
	if !ok || tok.Value == "" || (!tok.ExpiresOn.IsZero() && !d.now().Before(tok.ExpiresOn)) {
		// Nothing to serve, or nothing servable: the slow path explains.
		return credential.Token{}, false
	}
	d.report(Call{Args: args, Provider: provider, ExpiresOn: tok.ExpiresOn})
	return tok, true
}

func (d *Dispatcher) report(c Call) {
	if c.Err != nil {
		d.log.Warn("session: token request failed", "session", c.Args.SessionID, "provider", c.Args.ProviderName, "err", c.Err)
	}
	if d.onCall != nil {
		d.onCall(c)
	}
}

func (d *Dispatcher) unknown(args ProviderTokenArgs) error {
	known := d.known(args.SessionID)
	list := "none are registered"
	if len(known) > 0 {
		list = "known providers: " + strings.Join(quoteAll(known), ", ")
	}
	why := ""
	if d.strict && slices.Contains(known, DefaultProvider) {
		why = " (strict mode: no fallback to \"default\")"
	}
	return rpc.Errorf(rpc.CodeUnknownProvider, "tokenhost: no token source for provider %q in session %q%s; %s", args.ProviderName, args.SessionID, why, list)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

type result struct {
	tok credential.Token
	err error
}

// run calls fn under the timeout and answers when it returns or when the
// timeout or ctx ends, whichever is first: a callback that ignores its
// context cannot hold the request.
func (d *Dispatcher) run(ctx context.Context, fn TokenFunc, args ProviderTokenArgs, provider string) (credential.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				d.log.Error("session: token callback panicked", "provider", provider, "panic", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
				done <- result{err: rpc.Errorf(rpc.CodeInternalError, "tokenhost: provider %q: the token callback failed unexpectedly (a bug: see the host's log)", args.ProviderName)}
			}
		}()
		tok, err := fn(ctx, args)
		done <- result{tok, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		r.err = ctx.Err()
	}
	if r.err != nil {
		return credential.Token{}, d.classify(ctx, args, r.err)
	}
	if r.tok.Value == "" {
		return credential.Token{}, rpc.Errorf(rpc.CodeSourceFailed, "tokenhost: provider %q: the token source returned an empty token", args.ProviderName)
	}
	if !r.tok.ExpiresOn.IsZero() && !d.now().Before(r.tok.ExpiresOn) {
		return credential.Token{}, rpc.Errorf(rpc.CodeSourceFailed, "tokenhost: provider %q: the token source returned a token that expired at %s", args.ProviderName, r.tok.ExpiresOn.UTC().Format(time.RFC3339))
	}
	return r.tok, nil
}

// classify turns a callback's error into the error sent to the runtime.
func (d *Dispatcher) classify(ctx context.Context, args ProviderTokenArgs, err error) error {
	var e *rpc.Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// Ours, or the source's own bound (the cache's acquisition
		// timeout): either way the source did not answer in time.
		return rpc.Errorf(rpc.CodeSourceTimeout, "tokenhost: provider %q: no token within %s: the token source is not answering (check that its identity endpoint or command is reachable and responsive)", args.ProviderName, d.timeout)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return rpc.Errorf(rpc.CodeRequestCancelled, "tokenhost: provider %q: request cancelled", args.ProviderName)
	case errors.Is(err, credential.ErrUnavailable):
		return rpc.Errorf(rpc.CodeSourceUnavailable, "tokenhost: provider %q: %s", args.ProviderName, oneLine(err.Error()))
	}
	return rpc.Errorf(rpc.CodeSourceFailed, "tokenhost: provider %q: %s", args.ProviderName, oneLine(err.Error()))
}

// oneLine keeps an error message on one line, as the runtime shows it.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i]) + " …"
	}
	return s
}

// Mount registers the dispatcher on mux as the handler of
// providerToken.getToken.
func (d *Dispatcher) Mount(mux *rpc.Mux) {
	mux.HandleInline(rpc.MethodProviderTokenGetToken, d.handleInline)
	mux.Handle(rpc.MethodProviderTokenGetToken, d.handle)
}

// handleInline answers a request whose token is cached, where it arrives;
// anything else (a miss, bad params, an unknown provider) goes to handle.
func (d *Dispatcher) handleInline(params json.RawMessage) (any, bool) {
	req, err := rpc.DecodeProviderTokenAcquireRequest(params)
	if err != nil || req.SessionID == "" || req.ProviderName == "" {
		return nil, false // handle says why not
	}
	args := ProviderTokenArgs{SessionID: req.SessionID, ProviderName: req.ProviderName}
	e, provider := d.lookup(args)
	if e == nil {
		return nil, false
	}
	tok, ok := d.cached(e, args, provider)
	if !ok {
		return nil, false
	}
	return rpc.ProviderTokenAcquireResult{Token: tok.Value}, true
}

func (d *Dispatcher) handle(ctx context.Context, params json.RawMessage) (any, error) {
	if len(params) == 0 || string(params) == "null" {
		return nil, rpc.Errorf(rpc.CodeInvalidParams, "invalid params: providerToken.getToken needs {sessionId, providerName}")
	}
	req, err := rpc.DecodeProviderTokenAcquireRequest(params)
	if err != nil {
		return nil, rpc.Errorf(rpc.CodeInvalidParams, "invalid params: providerToken.getToken needs {sessionId, providerName} as strings")
	}
	switch {
	case req.SessionID == "":
		return nil, rpc.Errorf(rpc.CodeInvalidParams, "invalid params: sessionId is missing or empty")
	case req.ProviderName == "":
		return nil, rpc.Errorf(rpc.CodeInvalidParams, "invalid params: providerName is missing or empty")
	}
	tok, err := d.Token(ctx, ProviderTokenArgs{SessionID: req.SessionID, ProviderName: req.ProviderName})
	if err != nil {
		return nil, err
	}
	return rpc.ProviderTokenAcquireResult{Token: tok.Value}, nil
}
