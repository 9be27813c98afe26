package credential

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The cache's timing rules, in one place.
const (
	// expiryMargin: a token with less than this left is expired: it could
	// expire on its way to the model provider.
	expiryMargin = 30 * time.Second
	// refreshLead: a token is refreshed this long before it expires...
	refreshLead = 5 * time.Minute
	// shortLived: ...unless its lifetime is under this, when it is refreshed
	// at half its lifetime.
	shortLived = 10 * time.Minute
	// firstRetry and maxRetry bound the backoff after failed early refreshes:
	// 30s, 60s, 120s, ... up to maxRetry.
	firstRetry = 30 * time.Second
	maxRetry   = 5 * time.Minute
	// defaultAcquireTimeout bounds one upstream acquisition.
	defaultAcquireTimeout = 30 * time.Second
)

// CacheOptions configures a [Cache]. The zero value is the default.
type CacheOptions struct {
	// AcquireTimeout bounds one upstream acquisition (a call of a source's
	// Token). It is not the caller's context that bounds it, because the
	// caller that happened to start an acquisition may leave while others
	// wait for it. Zero means 30 seconds.
	AcquireTimeout time.Duration
	// Logger receives a warning when a background refresh fails (the error
	// is otherwise swallowed, since the cached token is still served). Nil
	// means [slog.Default].
	Logger *slog.Logger
}

// Cache holds the tokens of the sources behind it, one entry per key, and
// serves them from memory until they are due for refresh. Make one with
// [NewCache] and put each source behind it with [Cache.Source].
//
// An entry's token is served until its refresh point: the token's RefreshOn
// when set, else 5 minutes before ExpiresOn, or half its lifetime when that
// is under 10 minutes, moved earlier by a random fraction (up to half) of the
// remaining window so that many hosts do not refresh in step. The first call
// past that point starts one refresh in the background and every caller
// keeps getting the still-valid token. A failed background refresh is
// logged and retried no sooner than 30 s later, then 60 s, 120 s, ... (at
// most 5 minutes apart).
//
// A token with under 30 s left is expired and never served: the call that
// finds it so acquires a new one while concurrent callers wait for that same
// acquisition (one upstream call however many callers). A failed acquisition
// returns its error to all of them and is not remembered: the next call
// tries again.
//
// A token without ExpiresOn (an environment variable, a command's plain
// output) is kept for the ttl given to [Cache.Source], or not at all when
// ttl is zero.
//
// Deadlines are compared on both the monotonic and the wall clock, and a
// token once found expired is dropped, so neither the clock jumping back nor
// a suspended machine waking up makes an expired token be served.
//
// The cache never puts a token in an error or a log line.
type Cache struct {
	acquireTimeout time.Duration
	log            *slog.Logger

	// now and jitter are replaced by tests before the first call. jitter
	// returns a fraction in [0, 1).
	now    func() time.Time
	jitter func() float64
	// background counts the acquisitions in flight, so tests can wait for
	// a background refresh to end.
	background sync.WaitGroup
	// joined, when set by a test, is called by each caller that is about to
	// wait for an acquisition.
	joined func()

	// root ends every acquisition when the cache is closed.
	root      context.Context
	closeRoot context.CancelFunc

	mu      sync.Mutex
	entries map[string]*entry
	closed  bool // Close has begun: background gets no more Adds
}

// NewCache returns an empty [Cache]. opts may be nil.
func NewCache(opts *CacheOptions) *Cache {
	c := &Cache{
		acquireTimeout: defaultAcquireTimeout,
		log:            slog.Default(),
		now:            time.Now,
		jitter:         rand.Float64,
		entries:        map[string]*entry{},
	}
	c.root, c.closeRoot = context.WithCancel(context.Background())
	if opts != nil {
		if opts.AcquireTimeout > 0 {
			c.acquireTimeout = opts.AcquireTimeout
		}
		if opts.Logger != nil {
			c.log = opts.Logger
		}
	}
	return c
}

// Close cancels the acquisitions in flight (an exec source's command is
// stopped, an HTTP request abandoned) and waits for them to end. A process
// calls it on its way out, so that no token command outlives it. Tokens
// asked for after Close fail.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true // no acquisition starts from here on
	c.mu.Unlock()
	c.closeRoot()
	c.background.Wait()
}

// errClosed answers the callers of a closed cache.
var errClosed = errors.New("credential: cache: closed (the process is exiting)")

// Source returns the [CachedSource] of key, which serves src's tokens from
// the cache. Every call with the same key returns the same entry, so that the
// providers configured with the same credential share one token: the src and
// ttl of the first call for a key are the ones used, later ones are ignored.
// Entries are never evicted: keys come from a configuration, not from
// requests.
//
// ttl is how long a token without ExpiresOn is kept; zero means such tokens
// are acquired again on every call (concurrent calls still share one
// acquisition). Tokens that carry an ExpiresOn ignore ttl.
func (c *Cache) Source(key string, src Source, ttl time.Duration) *CachedSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		e = &entry{cache: c, key: key, src: src, ttl: max(ttl, 0)}
		c.entries[key] = e
	}
	return &CachedSource{e: e}
}

// CachedSource is a [Source] served from an entry of a [Cache]; see
// [Cache.Source].
type CachedSource struct{ e *entry }

var _ Source = (*CachedSource)(nil)

// Token returns the cached token when it is fresh, and otherwise waits for
// the acquisition of a new one, or for ctx to end, whichever comes first
// (the acquisition goes on for the other callers).
func (s *CachedSource) Token(ctx context.Context) (Token, error) {
	now := s.e.cache.now()
	if sn := s.e.snap.Load(); sn.state(now) == fresh {
		return sn.tok, nil // the hit path: no lock, no allocation
	}
	return s.e.slowToken(ctx, now)
}

// Cached returns the cached token without waiting: true when one can be
// served now (fresh, or due for a refresh, which then starts in the
// background, as [CachedSource.Token] does), false when there is none and
// the caller must wait for an acquisition with Token. It never blocks, so
// a server can answer a cache hit where the request arrives.
func (s *CachedSource) Cached() (Token, bool) {
	now := s.e.cache.now()
	sn := s.e.snap.Load()
	switch sn.state(now) {
	case fresh:
		return sn.tok, true
	case refreshDue:
		s.e.mu.Lock()
		defer s.e.mu.Unlock()
		if sn = s.e.snap.Load(); sn.state(now) != expired {
			s.e.refreshLocked(context.Background(), now, sn)
			return sn.tok, true
		}
	}
	return Token{}, false
}

// Expire drops the cached token (for instance after the model provider
// rejected it), so that the next call acquires a new one.
func (s *CachedSource) Expire() {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	s.e.snap.Store(nil)
	s.e.failures = 0
}

// state is what may be done with a cached token at some moment.
type state int

const (
	fresh      state = iota // serve it
	refreshDue              // serve it, and start a background refresh
	expired                 // do not serve it: acquire a new one and wait
)

// snapshot is an entry's token with its schedule. It is immutable: a
// change publishes a new one, so the hit path reads it without a lock.
type snapshot struct {
	tok     Token
	refresh time.Time // when a background refresh is due
	retry   time.Time // no background refresh before this (zero: none pending)
	expire  time.Time // when the token stops being served
}

// state is the cache's one decision, in the manner of oauth2's
// Token.expired. A nil snapshot (nothing cached) is expired.
func (s *snapshot) state(now time.Time) state {
	switch {
	case s == nil || passed(now, s.expire):
		return expired
	case passed(now, s.refresh) && passed(now, s.retry):
		return refreshDue
	default:
		return fresh
	}
}

// passed reports whether now is at or after t by the monotonic clock (when
// both carry a reading: immune to the wall clock being set back) or by the
// wall clock (which, unlike Go's monotonic clock, runs on while the machine
// sleeps).
func passed(now, t time.Time) bool {
	return !now.Before(t) || !now.Round(0).Before(t.Round(0))
}

// entry is the state of one key. Everything but snap is guarded by mu;
// snap is written only with mu held.
type entry struct {
	cache *Cache
	key   string
	src   Source
	ttl   time.Duration

	snap     atomic.Pointer[snapshot]
	mu       sync.Mutex
	flight   *flight // the acquisition in progress, if any
	failures int     // failed background refreshes since the last success
}

// flight is one upstream acquisition; done is closed when tok and err are
// set.
type flight struct {
	done chan struct{}
	tok  Token
	err  error
	// from is the snapshot a background refresh replaces (nil for an
	// acquisition on an expired entry).
	from *snapshot
}

func (e *entry) slowToken(ctx context.Context, now time.Time) (Token, error) {
	e.mu.Lock()
	sn := e.snap.Load()
	switch sn.state(now) {
	case fresh:
		e.mu.Unlock()
		return sn.tok, nil
	case refreshDue:
		e.refreshLocked(ctx, now, sn)
		e.mu.Unlock()
		return sn.tok, nil
	}
	// Expired: forget the token for good, so that no later reading of the
	// clock can bring it back, and wait for a new one.
	e.snap.Store(nil)
	f := e.flight
	if f == nil {
		f = e.start(ctx, nil)
	}
	e.mu.Unlock()
	if e.cache.joined != nil {
		e.cache.joined()
	}
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return Token{}, fmt.Errorf("credential: cache: waiting for a token: %w", context.Cause(ctx))
	}
}

// refreshLocked starts a background refresh of sn, a token due for one,
// unless an acquisition is already in flight. e.mu is held.
func (e *entry) refreshLocked(ctx context.Context, now time.Time, sn *snapshot) {
	if e.flight != nil || sn.state(now) != refreshDue {
		return
	}
	// Hold back other refreshes while this one runs; on failure the retry
	// time is set again from when it failed.
	next := *sn
	next.retry = now.Add(retryDelay(e.failures + 1))
	e.snap.Store(&next)
	e.start(ctx, &next)
}

// start begins an acquisition in its own goroutine, bounded by the
// cache's AcquireTimeout instead of ctx's cancellation: the caller that
// starts it may leave, and the others still want the token. e.mu is held.
func (e *entry) start(ctx context.Context, from *snapshot) *flight {
	f := &flight{done: make(chan struct{}), from: from}
	e.flight = f
	e.cache.mu.Lock()
	if e.cache.closed {
		e.cache.mu.Unlock()
		go e.finish(f, Token{}, errClosed) // finish takes e.mu, held by our caller
		return f
	}
	e.cache.background.Add(1)
	e.cache.mu.Unlock()
	go func() {
		defer e.cache.background.Done()
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cache.acquireTimeout)
		defer cancel()
		defer context.AfterFunc(e.cache.root, cancel)()
		tok, err := e.call(actx)
		e.finish(f, tok, err)
	}()
	return f
}

// call calls the source, turning a panic into an error so that the
// waiters are not left waiting. The panic value is not shown: it could hold
// a secret.
func (e *entry) call(ctx context.Context) (tok Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.cache.log.Error("credential: cache: token source panicked", "key", e.key, "stack", string(debug.Stack()))
			tok, err = Token{}, errors.New("credential: cache: the token source panicked")
		}
	}()
	return e.src.Token(ctx)
}

// finish records the outcome of f and wakes its waiters.
func (e *entry) finish(f *flight, tok Token, err error) {
	now := e.cache.now()
	if err == nil {
		err = e.check(tok, now)
	}
	e.mu.Lock()
	e.flight = nil
	switch {
	case err == nil:
		next := e.cache.schedule(tok, e.ttl, now)
		if next != nil && next.state(now) != fresh {
			// A new token already due for refresh (the source handed back
			// an old one): refresh it no sooner than a failed refresh would be.
			e.failures++
			next.retry = now.Add(retryDelay(e.failures))
		} else {
			e.failures = 0
		}
		e.snap.Store(next)
	case f.from != nil:
		// A failed background refresh: keep serving the valid token and
		// retry later. A retry time past the token's expiry does not delay
		// anything: state finds it expired first, and the next call
		// acquires synchronously.
		e.failures++
		delay := retryDelay(e.failures)
		if cur := e.snap.Load(); cur == f.from {
			next := *cur
			next.retry = now.Add(delay)
			e.snap.Store(&next)
		}
		e.cache.log.Warn("credential: cache: background token refresh failed; serving the cached token",
			"key", e.key, "err", err, "retry_in", delay)
	}
	e.mu.Unlock()
	f.tok, f.err = tok, err
	if err != nil {
		f.tok = Token{}
	}
	close(f.done)
}

// check rejects a token the cache must never serve. Its errors say why
// without showing the token.
func (e *entry) check(tok Token, now time.Time) error {
	switch {
	case tok.Value == "":
		return errors.New("credential: cache: the token source returned an empty token")
	case strings.ContainsFunc(tok.Value, func(r rune) bool { return r < '!' || r > '~' }):
		return errors.New("credential: cache: the token source returned a token with a character other than printable ASCII (a space, a line break?)")
	case !tok.ExpiresOn.IsZero() && passed(now, tok.ExpiresOn.Add(-expiryMargin)):
		return fmt.Errorf("credential: cache: the token source returned a token that expires at %s, under %s from now",
			tok.ExpiresOn.UTC().Format(time.RFC3339), expiryMargin)
	}
	return nil
}

// schedule returns the snapshot of a token acquired at now, or nil when it
// is not to be kept (no ExpiresOn and no ttl). All its times are derived
// from now, so they carry now's monotonic reading.
func (c *Cache) schedule(tok Token, ttl time.Duration, now time.Time) *snapshot {
	var lifetime, life time.Duration // until it expires; until it is no longer served
	switch {
	case !tok.ExpiresOn.IsZero():
		lifetime = tok.ExpiresOn.Sub(now)
		life = lifetime - expiryMargin
	case ttl > 0:
		lifetime, life = ttl, ttl
	default:
		return nil
	}
	at := lifetime - refreshLead
	if lifetime < shortLived {
		at = lifetime / 2
	}
	if !tok.RefreshOn.IsZero() && tok.RefreshOn.Before(tok.ExpiresOn) {
		at = max(tok.RefreshOn.Sub(now), 0)
	}
	at -= time.Duration(c.jitter() * float64(lifetime-at) / 2)
	return &snapshot{tok: tok, refresh: now.Add(at), expire: now.Add(life)}
}

// retryDelay is the wait before retrying after the nth consecutive failed
// refresh: 30s, 60s, 120s, ... at most maxRetry.
func retryDelay(n int) time.Duration {
	d := firstRetry
	for i := 1; i < n && d < maxRetry; i++ {
		d *= 2
	}
	return min(d, maxRetry)
}
