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
		name:        "jitter on a RefreshOn",
		tok:         func(clk *fakeClock, n int64) Token { return Token{ExpiresOn: clk.now().Add(time.Hour), RefreshOn: clk.now().Add(40 * time.Minute)} },
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
	// Were the refresh not in the background, this would block for good.
	for i := range 100 {
		if got := get(t, cs); got != "secret-1" {
			t.Fatalf("call %d during the refresh: got %q, want the still-valid secret-1", i, got)
		}
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
// for an acquisition.
func gateOnWaiters(c *Cache, n int64) <-chan struct{} {
	gate := make(chan struct{})
	var waiting atomic.Int64
	c.joined = func() {
		if waiting.Add(1) == n {
			close(gate)
		}
	}
	return gate
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
			gate = gateOnWaiters(c, callers)
			for i, g := range burst(cs, callers) {
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
