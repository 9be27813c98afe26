package e2e

import (
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/e2e/internal/floor"
)

// The benchmarks of the host against the floor (see package
// e2e/internal/floor; `make bench` prints the same figures as ratios).
// Each b.N is one getToken answered. The stdio ones measure a separate
// process, so their -benchmem figures are the driver's; the in-process
// ones include the host's allocations.

var (
	setupOnce sync.Once
	setup     *floor.Setup
	setupErr  error
)

// benchSetup builds the floor host once, and uses the tokenhost the suite
// built (see TestMain).
func benchSetup(b *testing.B) *floor.Setup {
	b.Helper()
	setupOnce.Do(func() { setup, setupErr = floor.NewSetup(hostCmd[0]) })
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	return setup
}

func runDriver(b *testing.B, d *floor.Driver, inflight int) {
	b.Helper()
	if err := d.Run(1, 1); err != nil { // warm: the first acquisition
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := d.Run(b.N, inflight); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

func startProcess(b *testing.B, argv, env []string, req floor.Request) *floor.Process {
	b.Helper()
	p, err := floor.Start(argv, env, req)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := p.Close(10 * time.Second); err != nil {
			b.Errorf("host: %v\n%s", err, p.Stderr())
		}
	})
	return p
}

// BenchmarkStdio is the cache-hit round trip over stdio: tokenhost serve
// and the floor host, 1 and 16 requests in flight.
func BenchmarkStdio(b *testing.B) {
	s := benchSetup(b)
	for _, inflight := range []int{1, 16} {
		b.Run("host/inflight="+itoa(inflight), func(b *testing.B) {
			argv, req, err := s.CacheHit()
			if err != nil {
				b.Fatal(err)
			}
			runDriver(b, startProcess(b, argv, s.Env(), req).Driver, inflight)
		})
		b.Run("floor/inflight="+itoa(inflight), func(b *testing.B) {
			runDriver(b, startProcess(b, s.Floor, s.Env(), floor.Request{SessionID: floor.SessionID, ProviderName: "default", Want: floor.Token}).Driver, inflight)
		})
	}
}

// BenchmarkInProcess is the same round trip over pipes within this
// process: the dispatcher mounted on an rpc.Conn (the embedded path) and
// the floor's Serve. Its allocations are the host's and the driver's.
func BenchmarkInProcess(b *testing.B) {
	for _, inflight := range []int{1, 16} {
		for _, tc := range []struct {
			name  string
			start func() (*floor.InProcess, error)
		}{{"embedded", floor.EmbeddedInProcess}, {"floor", floor.FloorInProcess}} {
			b.Run(tc.name+"/inflight="+itoa(inflight), func(b *testing.B) {
				p, err := tc.start()
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				runDriver(b, p.Driver, inflight)
			})
		}
	}
}

// BenchmarkStartUp is spawn to the first answered getToken.
func BenchmarkStartUp(b *testing.B) {
	s := benchSetup(b)
	argv, vars, req, err := s.StartUp()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		argv []string
		req  floor.Request
	}{
		{"host", argv, req},
		{"floor", s.Floor, floor.Request{SessionID: floor.SessionID, ProviderName: "default", Want: floor.Token}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := floor.FirstAnswer(tc.argv, s.Env(vars...), tc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkColdBurst is 1,000 concurrent getToken calls on an empty
// cache; it reports the upstream acquisitions per burst, which must be 1.
func BenchmarkColdBurst(b *testing.B) {
	s := benchSetup(b)
	argv, counter, req, err := s.ColdBurst()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		os.Remove(counter)
		p, err := floor.Start(argv, s.Env(), req)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		err = p.Run(1000, 1000)
		b.StopTimer()
		if cerr := p.Close(10 * time.Second); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatalf("%v\n%s", err, p.Stderr())
		}
		n, err := floor.Lines(counter)
		if err != nil {
			b.Fatal(err)
		}
		if n != 1 {
			b.Fatalf("a burst of 1000 calls on an empty cache made %d acquisitions, want 1", n)
		}
		b.ReportMetric(float64(n), "acquisitions/burst")
		b.StartTimer()
	}
}

// BenchmarkDispatch is the dispatcher's cost per call, in process, as
// registrations grow; it also reports the heap per registration.
func BenchmarkDispatch(b *testing.B) {
	for _, sessions := range []int{1, 100, 10000} {
		b.Run("sessions="+itoa(sessions), func(b *testing.B) {
			d, ids := floor.Registered(sessions)
			b.ReportAllocs()
			b.ResetTimer()
			if err := floor.Dispatch(d, ids, b.N); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(floor.BytesPerRegistration(sessions), "B/registration")
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
