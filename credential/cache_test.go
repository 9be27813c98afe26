package credential

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is when every cache test starts, on its fake clock.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// secret is the prefix of every token value the cache tests make: it must
// appear in no error and no log line.
const secret = "secret-"

// newTestCache returns a cache on a fake clock at t0, with no jitter, whose
// log is checked at the end of the test for token values.
func newTestCache(t *testing.T, opts *CacheOptions) (*Cache, *fakeClock) {
	t.Helper()
	logs := &syncBuffer{}
	o := CacheOptions{Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if opts != nil {
		o.AcquireTimeout = opts.AcquireTimeout
	}
	c := NewCache(&o)
	clk := &fakeClock{t: t0}
	c.now = clk.now
	c.jitter = func() float64 { return 0 }
	t.Cleanup(func() {
		c.background.Wait()
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the cache logged a token value:\n%s", logs)
		}
	})
	return c, clk
}

// countingSource counts its calls and answers the nth (from 1) with next.
type countingSource struct {
	calls atomic.Int64
	next  func(ctx context.Context, n int64) (Token, error)
}

func (s *countingSource) Token(ctx context.Context) (Token, error) {
	return s.next(ctx, s.calls.Add(1))
}

// lasting returns a source whose nth token is "secret-n", valid for
// lifetime from the clock's now.
func lasting(clk *fakeClock, lifetime time.Duration) *countingSource {
	return &countingSource{next: func(_ context.Context, n int64) (Token, error) {
		return Token{Value: fmt.Sprint(secret, n), ExpiresOn: clk.now().Add(lifetime)}, nil
	}}
}

var errUpstream = errors.New("upstream says no")

// failingAfter returns a source whose first `ok` calls succeed as lasting's
// do and whose later ones fail.
func failingAfter(clk *fakeClock, ok int64, lifetime time.Duration) *countingSource {
	s := lasting(clk, lifetime)
	good := s.next
	s.next = func(ctx context.Context, n int64) (Token, error) {
		if n > ok {
			return Token{}, errUpstream
		}
		return good(ctx, n)
	}
	return s
}

// get calls cs.Token and returns the token's value, or the error's text
// after checking that it does not show a token.
func get(t *testing.T, cs *CachedSource) string {
	t.Helper()
	tok, err := cs.Token(context.Background())
	if err != nil {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows a token value: %v", err)
		}
		return "error: " + err.Error()
	}
	return tok.Value
}

// step is one call of a test's script: at when (after t0), a call returns
// want; once the background refreshes it started have ended, the source has
// been called calls times in all.
type step struct {
	at    time.Duration
	want  string
	calls int64
}

func runSteps(t *testing.T, c *Cache, clk *fakeClock, cs *CachedSource, src *countingSource, steps []step) {
	t.Helper()
	for i, s := range steps {
		clk.set(t0.Add(s.at))
		got := get(t, cs)
		c.background.Wait()
		if !strings.HasPrefix(got, s.want) {
			t.Errorf("step %d at t0+%v: got %q, want %q", i, s.at, got, s.want)
		}
		if n := src.calls.Load(); n != s.calls {
			t.Errorf("step %d at t0+%v: source called %d times, want %d", i, s.at, n, s.calls)
		}
	}
}

func TestCacheRefreshPoint(t *testing.T) {
	tests := []struct {
		name        string
		tok         func(clk *fakeClock, n int64) Token
		ttl         time.Duration
		jitter      float64
		wantRefresh time.Duration // after t0
	}{{
		name:        "five minutes before expiry",
		tok:         func(clk *fakeClock, n int64) Token { return Token{ExpiresOn: clk.now().Add(time.Hour)} },
		wantRefresh: 55 * time.Minute,
	}, {
		name:        "half the lifetime of a short-lived token",
		tok:         func(clk *fakeClock, n int64) Token { return Token{ExpiresOn: clk.now().Add(8 * time.Minute)} },
		wantRefresh: 4 * time.Minute,
	}, {
		name: "RefreshOn",
		tok: func(clk *fakeClock, n int64) Token {
			return Token{ExpiresOn: clk.now().Add(time.Hour), RefreshOn: clk.now().Add(20 * time.Minute)}
		},
		wantRefresh: 20 * time.Minute,
	}, {
		name: "RefreshOn after ExpiresOn is ignored",
		tok: func(clk *fakeClock, n int64) Token {
			return Token{ExpiresOn: clk.now().Add(time.Hour), RefreshOn: clk.now().Add(2 * time.Hour)}
		},
		wantRefresh: 55 * time.Minute,
	}, {
		name:   "jitter takes a fraction of the window",
		tok:    func(clk *fakeClock, n int64) Token { return Token{ExpiresOn: clk.now().Add(time.Hour)} },
		jitter: 0.5, // half of half of the 5-minute window
		// 55m - 0.5*5m/2
		wantRefresh: 53*time.Minute + 45*time.Second,
	}, {
		name: "jitter on a RefreshOn",
		tok: func(clk *fakeClock, n int64) Token {
			return Token{ExpiresOn: clk.now().Add(time.Hour), RefreshOn: clk.now().Add(40 * time.Minute)}
		},
		jitter:      0.5, // 40m - 0.5*20m/2
		wantRefresh: 35 * time.Minute,
	}, {
		name:        "no expiry, long ttl",
		tok:         func(clk *fakeClock, n int64) Token { return Token{} },
		ttl:         20 * time.Minute,
		wantRefresh: 15 * time.Minute,
	}, {
		name:        "no expiry, short ttl",
		tok:         func(clk *fakeClock, n int64) Token { return Token{} },
		ttl:         2 * time.Minute,
		wantRefresh: time.Minute,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, nil)
			c.jitter = func() float64 { return tt.jitter }
			src := &countingSource{next: func(_ context.Context, n int64) (Token, error) {
				tok := tt.tok(clk, n)
				tok.Value = fmt.Sprint(secret, n)
				return tok, nil
			}}
			cs := c.Source("k", src, tt.ttl)
			runSteps(t, c, clk, cs, src, []step{
				{at: 0, want: "secret-1", calls: 1},
				{at: tt.wantRefresh - 1, want: "secret-1", calls: 1},
				// Due: the still-valid token is served while one refresh
				// runs in the background.
				{at: tt.wantRefresh, want: "secret-1", calls: 2},
				{at: tt.wantRefresh, want: "secret-2", calls: 2},
			})
		})
	}
}

func TestCacheRefreshesOnceInBackground(t *testing.T) {
	c, clk := newTestCache(t, nil)
	started, release := make(chan struct{}), make(chan struct{})
	src := lasting(clk, time.Hour)
	first := src.next
	src.next = func(ctx context.Context, n int64) (Token, error) {
		if n == 2 {
			close(started)
			<-release
		}
		return first(ctx, n)
	}
	cs := c.Source("k", src, 0)
	get(t, cs)
	clk.set(t0.Add(56 * time.Minute))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			if got := get(t, cs); got != "secret-1" {
				t.Errorf("call %d during the refresh: got %q, want the still-valid secret-1", i, got)
			}
		}
	}()
	// The calls end while the refresh is held. The timer is a watchdog, so
	// that a cache that waits for its refresh fails instead of hanging.
	select {
	case <-done:
	case <-time.After(time.Minute):
		close(release)
		t.Fatal("callers waited for the background refresh")
	}
	<-started
	close(release)
	c.background.Wait()
	if got := get(t, cs); got != "secret-2" {
		t.Errorf("after the refresh: got %q, want secret-2", got)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source called %d times, want 2", n)
	}
}

// burst makes n concurrent calls of cs.Token and returns their results.
func burst(cs *CachedSource, n int) []string {
	var wg sync.WaitGroup
	got := make([]string, n)
	for i := range n {
		wg.Go(func() {
			tok, err := cs.Token(context.Background())
			if err != nil {
				got[i] = "error: " + err.Error()
			} else {
				got[i] = tok.Value
			}
		})
	}
	wg.Wait()
	return got
}

// gateOnWaiters makes the cache open the returned gate once n callers wait
// for an acquisition; open opens it anyway, so that a broken cache fails a
// test instead of hanging it.
func gateOnWaiters(c *Cache, n int64) (gate <-chan struct{}, open func()) {
	ch := make(chan struct{})
	open = sync.OnceFunc(func() { close(ch) })
	var waiting atomic.Int64
	c.joined = func() {
		if waiting.Add(1) == n {
			open()
		}
	}
	return ch, open
}

func TestCacheBurstAcquiresOnce(t *testing.T) {
	const callers = 1000
	tests := []struct {
		name      string
		prime     bool          // acquire a token before the burst
		at        time.Duration // when the burst comes
		fail      bool          // the burst's acquisition fails
		want      string
		wantCalls int64
	}{
		{name: "cold", want: "secret-1", wantCalls: 1},
		{name: "cold, failing", fail: true, want: "error: upstream says no", wantCalls: 1},
		{name: "expired", prime: true, at: 2 * time.Hour, want: "secret-2", wantCalls: 2},
		{name: "expired, failing", prime: true, at: 2 * time.Hour, fail: true, want: "error: upstream says no", wantCalls: 2},
		{name: "under 30s left", prime: true, at: time.Hour - 30*time.Second, want: "secret-2", wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, nil)
			src := lasting(clk, time.Hour)
			good := src.next
			var gate <-chan struct{}
			fail := tt.fail
			src.next = func(ctx context.Context, n int64) (Token, error) {
				if gate != nil {
					<-gate // until every caller waits for this acquisition
				}
				if fail {
					return Token{}, errUpstream
				}
				return good(ctx, n)
			}
			cs := c.Source("k", src, 0)
			if tt.prime {
				get(t, cs)
			}
			clk.set(t0.Add(tt.at))
			var open func()
			gate, open = gateOnWaiters(c, callers)
			got := burst(cs, callers)
			open()
			for i, g := range got {
				if !strings.HasPrefix(g, tt.want) {
					t.Fatalf("caller %d: got %q, want %q", i, g, tt.want)
				}
			}
			if n := src.calls.Load(); n != tt.wantCalls {
				t.Errorf("source called %d times for %d concurrent callers, want %d", n, callers, tt.wantCalls)
			}
			// The result of a failure is not kept: the next call tries again.
			gate, c.joined, fail = nil, nil, false
			get(t, cs)
			wantAfter := tt.wantCalls
			if tt.fail {
				wantAfter++
			}
			if n := src.calls.Load(); n != wantAfter {
				t.Errorf("after the burst: source called %d times, want %d", n, wantAfter)
			}
		})
	}
}

func TestCacheWaiterHonoursItsContext(t *testing.T) {
	cause := errors.New("the caller gave up")
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{{
		name: "canceled",
		ctx:  func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
		want: context.Canceled,
	}, {
		name: "deadline",
		ctx: func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Unix(0, 0))
		},
		want: context.DeadlineExceeded,
	}, {
		name: "cause",
		ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancelCause(context.Background())
			return ctx, func() { cancel(cause) }
		},
		want: cause,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, nil)
			started, release := make(chan struct{}), make(chan struct{})
			var upstreamErr error
			src := lasting(clk, time.Hour)
			good := src.next
			src.next = func(ctx context.Context, n int64) (Token, error) {
				close(started)
				<-release
				upstreamErr = ctx.Err() // read after the callers have left
				return good(ctx, n)
			}
			cs := c.Source("k", src, 0)

			// The first caller starts the acquisition, then leaves.
			ctx1, cancel1 := tt.ctx()
			errs := make(chan error)
			go func() {
				_, err := cs.Token(ctx1)
				errs <- err
			}()
			<-started
			cancel1()
			if err := <-errs; !errors.Is(err, tt.want) {
				t.Errorf("first caller: got %v, want %v", err, tt.want)
			}
			// A second caller whose context has ended leaves too.
			ctx2, cancel2 := tt.ctx()
			cancel2()
			if _, err := cs.Token(ctx2); !errors.Is(err, tt.want) {
				t.Errorf("second caller: got %v, want %v", err, tt.want)
			}
			// The acquisition goes on, with a context of its own.
			close(release)
			c.background.Wait()
			if upstreamErr != nil {
				t.Errorf("the acquisition's context ended with the callers': %v", upstreamErr)
			}
			if got := get(t, cs); got != "secret-1" {
				t.Errorf("after the acquisition: got %q, want secret-1", got)
			}
			if n := src.calls.Load(); n != 1 {
				t.Errorf("source called %d times, want 1", n)
			}
		})
	}
}

func TestCacheAcquireTimeout(t *testing.T) {
	c, _ := newTestCache(t, &CacheOptions{AcquireTimeout: time.Nanosecond})
	var hadDeadline bool
	src := &countingSource{next: func(ctx context.Context, _ int64) (Token, error) {
		_, hadDeadline = ctx.Deadline()
		<-ctx.Done() // a slow issuer
		return Token{}, ctx.Err()
	}}
	// The caller's context has no deadline: the cache's bounds the call.
	_, err := c.Source("k", src, 0).Token(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want %v", err, context.DeadlineExceeded)
	}
	if !hadDeadline {
		t.Error("the source's context had no deadline")
	}
}

func TestCacheDefaultAcquireTimeout(t *testing.T) {
	if got := NewCache(nil).acquireTimeout; got != 30*time.Second {
		t.Errorf("default AcquireTimeout = %v, want 30s", got)
	}
}

func TestCacheFailedRefreshBacksOff(t *testing.T) {
	c, clk := newTestCache(t, nil)
	src := failingAfter(clk, 1, time.Hour)
	cs := c.Source("k", src, 0)
	const m = time.Minute
	runSteps(t, c, clk, cs, src, []step{
		{at: 0, want: "secret-1", calls: 1},
		{at: 55 * m, want: "secret-1", calls: 2}, // refresh fails in the background
		{at: 55*m + 29*time.Second, want: "secret-1", calls: 2},
		{at: 55*m + 30*time.Second, want: "secret-1", calls: 3}, // 30s later
		{at: 56*m + 29*time.Second, want: "secret-1", calls: 3},
		{at: 56*m + 30*time.Second, want: "secret-1", calls: 4}, // 60s later
		{at: 58*m + 29*time.Second, want: "secret-1", calls: 4},
		{at: 58*m + 30*time.Second, want: "secret-1", calls: 5}, // 120s later
		// The next retry would be at 62:30, past expiry: the backoff does
		// not delay the acquisition when the token has 30s left.
		{at: 59*m + 29*time.Second, want: "secret-1", calls: 5},
		{at: 59*m + 30*time.Second, want: "error: upstream says no", calls: 6},
		{at: 59*m + 30*time.Second, want: "error: upstream says no", calls: 7},
	})
}

func TestCacheRefreshAfterFailureResetsBackoff(t *testing.T) {
	c, clk := newTestCache(t, nil)
	src := lasting(clk, time.Hour)
	good := src.next
	src.next = func(ctx context.Context, n int64) (Token, error) {
		if n == 2 {
			return Token{}, errUpstream
		}
		return good(ctx, n)
	}
	cs := c.Source("k", src, 0)
	const m = time.Minute
	runSteps(t, c, clk, cs, src, []step{
		{at: 0, want: "secret-1", calls: 1},
		{at: 55 * m, want: "secret-1", calls: 2},                 // fails
		{at: 55*m + 30*time.Second, want: "secret-1", calls: 3},  // succeeds
		{at: 55*m + 30*time.Second, want: "secret-3", calls: 3},  // the new token
		{at: 110*m + 29*time.Second, want: "secret-3", calls: 3}, // its refresh point is 110:30
		{at: 110*m + 30*time.Second, want: "secret-3", calls: 4},
	})
}

func TestCacheExpiredNeverServed(t *testing.T) {
	const m = time.Minute
	tests := []struct {
		name  string
		src   func(clk *fakeClock) *countingSource
		steps []step
	}{{
		name: "expired token, acquisition fails every time",
		src:  func(clk *fakeClock) *countingSource { return failingAfter(clk, 1, time.Hour) },
		steps: []step{
			{at: 0, want: "secret-1", calls: 1},
			{at: 59*m + 30*time.Second, want: "error: upstream says no", calls: 2},
			{at: 59*m + 30*time.Second, want: "error: upstream says no", calls: 3},
			// The clock goes back: the token found expired stays gone.
			{at: 10 * m, want: "error: upstream says no", calls: 4},
		},
	}, {
		name: "clock jumps forward then back",
		src:  func(clk *fakeClock) *countingSource { return failingAfter(clk, 1, time.Hour) },
		steps: []step{
			{at: 0, want: "secret-1", calls: 1},
			{at: 3 * time.Hour, want: "error: upstream says no", calls: 2},
			{at: 0, want: "error: upstream says no", calls: 3},
		},
	}, {
		name: "clock jumps forward, a new token, then back",
		src:  func(clk *fakeClock) *countingSource { return lasting(clk, time.Hour) },
		steps: []step{
			{at: 0, want: "secret-1", calls: 1},
			{at: 3 * time.Hour, want: "secret-2", calls: 2},
			{at: 0, want: "secret-2", calls: 2},
			{at: 4 * time.Hour, want: "secret-3", calls: 3},
		},
	}, {
		name: "clock jumps into the refresh window and back",
		src:  func(clk *fakeClock) *countingSource { return failingAfter(clk, 1, time.Hour) },
		steps: []step{
			{at: 0, want: "secret-1", calls: 1},
			{at: 57 * m, want: "secret-1", calls: 2},
			{at: 1 * m, want: "secret-1", calls: 2},
			{at: 59*m + 30*time.Second, want: "error: upstream says no", calls: 3},
			{at: 1 * m, want: "error: upstream says no", calls: 4},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, nil)
			src := tt.src(clk)
			runSteps(t, c, clk, c.Source("k", src, 0), src, tt.steps)
		})
	}
}

func TestCacheTokensWithoutExpiry(t *testing.T) {
	const m = time.Minute
	plain := func() *countingSource {
		return &countingSource{next: func(_ context.Context, n int64) (Token, error) {
			return Token{Value: fmt.Sprint(secret, n)}, nil
		}}
	}
	t.Run("ttl 0: read on every call", func(t *testing.T) {
		c, clk := newTestCache(t, nil)
		src := plain()
		runSteps(t, c, clk, c.Source("k", src, 0), src, []step{
			{at: 0, want: "secret-1", calls: 1},
			{at: 0, want: "secret-2", calls: 2},
			{at: 0, want: "secret-3", calls: 3},
		})
	})
	t.Run("ttl: kept for the ttl", func(t *testing.T) {
		c, clk := newTestCache(t, nil)
		src := plain()
		good := src.next
		src.next = func(ctx context.Context, n int64) (Token, error) {
			if n > 1 {
				return Token{}, errUpstream
			}
			return good(ctx, n)
		}
		runSteps(t, c, clk, c.Source("k", src, 2*m), src, []step{
			{at: 0, want: "secret-1", calls: 1},
			{at: m - 1, want: "secret-1", calls: 1},
			{at: m, want: "secret-1", calls: 2}, // refresh fails, token kept
			{at: m + 29*time.Second, want: "secret-1", calls: 2},
			{at: 2 * m, want: "error: upstream says no", calls: 3}, // ttl over
		})
	})
}

func TestCacheExpire(t *testing.T) {
	c, clk := newTestCache(t, nil)
	src := lasting(clk, time.Hour)
	cs := c.Source("k", src, 0)
	get(t, cs)
	cs.Expire()
	if got := get(t, cs); got != "secret-2" {
		t.Errorf("after Expire: got %q, want secret-2", got)
	}
	// Another CachedSource of the same key shares the entry.
	c.Source("k", nil, 0).Expire()
	if got := get(t, cs); got != "secret-3" {
		t.Errorf("after Expire of the shared entry: got %q, want secret-3", got)
	}
}

func TestCacheSharesEntriesByKey(t *testing.T) {
	c, clk := newTestCache(t, nil)
	a, b := lasting(clk, time.Hour), lasting(clk, time.Hour)
	a1, a2, b1 := c.Source("a", a, 0), c.Source("a", b, 0), c.Source("b", b, 0)
	for _, cs := range []*CachedSource{a1, a2, a1, b1, a2, b1} {
		get(t, cs)
	}
	if got, want := []int64{a.calls.Load(), b.calls.Load()}, []int64{1, 1}; got[0] != want[0] || got[1] != want[1] {
		t.Errorf("source calls (a, b) = %v, want %v: one per key, the first source registered for it", got, want)
	}
}

func TestCacheRejectsUnservableTokens(t *testing.T) {
	tests := []struct {
		name string
		tok  func(clk *fakeClock) Token
		want string
	}{
		{"empty", func(*fakeClock) Token { return Token{} }, "empty token"},
		{"two lines", func(*fakeClock) Token { return Token{Value: "warning: old\nsecret-1"} }, "printable ASCII"},
		{"space", func(*fakeClock) Token { return Token{Value: "Bearer secret-1"} }, "printable ASCII"},
		{"non-ASCII", func(*fakeClock) Token { return Token{Value: "secret-1\u00a0"} }, "printable ASCII"},
		{"expired", func(clk *fakeClock) Token { return Token{Value: "secret-1", ExpiresOn: clk.now().Add(-time.Hour)} }, "expires at 2030-01-02T02:04:05Z"},
		{"30s left", func(clk *fakeClock) Token {
			return Token{Value: "secret-1", ExpiresOn: clk.now().Add(30 * time.Second)}
		}, "under 30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache(t, nil)
			src := &countingSource{next: func(context.Context, int64) (Token, error) { return tt.tok(clk), nil }}
			cs := c.Source("key-canary", src, time.Hour)
			for range 2 {
				got := get(t, cs)
				if !strings.Contains(got, tt.want) || strings.Contains(got, "key-canary") {
					t.Errorf("got %q, want an error saying %q and not quoting the key (it may be a secret)", got, tt.want)
				}
			}
			if n := src.calls.Load(); n != 2 {
				t.Errorf("source called %d times, want 2: a rejected token is not kept", n)
			}
		})
	}
}

func TestCacheSourcePanics(t *testing.T) {
	c, _ := newTestCache(t, nil)
	src := SourceFunc(func(context.Context) (Token, error) { panic("secret-1") })
	got := get(t, c.Source("k", src, 0))
	if want := `the token source panicked`; !strings.Contains(got, want) {
		t.Errorf("got %q, want an error saying %q", got, want)
	}
}

// TestCacheCloseStopsAcquisitions: Close cancels an acquisition that
// would otherwise run until its timeout (a token command that hangs), and
// waits for it to end.
func TestCacheCloseStopsAcquisitions(t *testing.T) {
	c := NewCache(&CacheOptions{AcquireTimeout: time.Hour})
	started, ended := make(chan struct{}), make(chan error, 1)
	src := SourceFunc(func(ctx context.Context) (Token, error) {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return Token{}, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go c.Source("hang", src, 0).Token(ctx)
	<-started
	cancel() // the caller leaves; the acquisition goes on for others
	c.Close()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the acquisition ended with %v, want context.Canceled", err)
		}
	default:
		t.Fatal("Close returned before the acquisition ended")
	}
	if _, err := c.Source("after", SourceFunc(func(ctx context.Context) (Token, error) {
		return Token{}, ctx.Err()
	}), 0).Token(context.Background()); err == nil {
		t.Error("a token was acquired after Close")
	}
}

func TestRetryDelay(t *testing.T) {
	const s = time.Second
	for n, want := range []time.Duration{1: 30 * s, 2: 60 * s, 3: 120 * s, 4: 240 * s, 5: 300 * s, 6: 300 * s, 100: 300 * s} {
		if want == 0 {
			continue
		}
		if got := retryDelay(n); got != want {
			t.Errorf("retryDelay(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestPassed(t *testing.T) {
	now := time.Now() // with a monotonic reading
	tests := []struct {
		name string
		now  time.Time
		t    time.Time
		want bool
	}{
		{"before", now, now.Add(time.Second), false},
		{"at", now, now, true},
		{"after", now.Add(time.Second), now, true},
		{"wall clock only", now.Round(0), now.Round(0).Add(-time.Second), true},
		{"mixed", now, now.Round(0).Add(time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := passed(tt.now, tt.t); got != tt.want {
				t.Errorf("passed = %v, want %v", got, tt.want)
			}
		})
	}
}

// hitSource returns a cached source holding a token valid for an hour.
func hitSource(b *testing.B) *CachedSource {
	b.Helper()
	c := NewCache(nil)
	cs := c.Source("k", SourceFunc(func(context.Context) (Token, error) {
		return Token{Value: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
	}), 0)
	if _, err := cs.Token(context.Background()); err != nil {
		b.Fatal(err)
	}
	return cs
}

func BenchmarkCacheHit(b *testing.B) {
	cs := hitSource(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cs.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheHitParallel(b *testing.B) {
	cs := hitSource(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cs.Token(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCacheColdBurst measures 1,000 concurrent callers of a cold entry
// and reports the upstream acquisitions per burst, which must be 1.
func BenchmarkCacheColdBurst(b *testing.B) {
	const callers = 1000
	var calls atomic.Int64
	b.ReportAllocs()
	for b.Loop() {
		c := NewCache(nil)
		gate, _ := gateOnWaiters(c, callers)
		cs := c.Source("k", SourceFunc(func(context.Context) (Token, error) {
			calls.Add(1)
			<-gate
			return Token{Value: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
		}), 0)
		burst(cs, callers)
	}
	b.ReportMetric(float64(calls.Load())/float64(b.N), "acquisitions/burst")
}

// TestCacheCached: Cached never waits: a fresh token is served, a token due
// for refresh is served while one background refresh starts, and with
// nothing servable it says so and starts nothing.
func TestCacheCached(t *testing.T) {
	c, clk := newTestCache(t, nil)
	src := lasting(clk, time.Hour)
	cs := c.Source("k", src, 0)
	if _, ok := cs.Cached(); ok || src.calls.Load() != 0 {
		t.Fatalf("cold: Cached served a token or called the source (%d calls)", src.calls.Load())
	}
	get(t, cs) // secret-1, an hour long
	if tok, ok := cs.Cached(); !ok || tok.Value != "secret-1" {
		t.Errorf("fresh: Cached = %q, %v; want secret-1", tok.Value, ok)
	}
	clk.set(t0.Add(56 * time.Minute)) // due for refresh
	for range 3 {
		if tok, ok := cs.Cached(); !ok || tok.Value != "secret-1" {
			t.Errorf("due: Cached = %q, %v; want the still-valid secret-1", tok.Value, ok)
		}
	}
	c.background.Wait()
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source called %d times, want 2 (one background refresh)", n)
	}
	clk.set(t0.Add(3 * time.Hour)) // everything expired
	if _, ok := cs.Cached(); ok {
		t.Error("expired: Cached served a token")
	}
}
