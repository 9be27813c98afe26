// Command bench measures tokenhost against the floor and prints a table:
// the cache-hit getToken round trip over stdio at 1 and 16 requests in
// flight, start-up to the first answer, a cold burst of concurrent calls,
// dispatch cost as registrations grow, and the dispatcher embedded on a
// connection in process. Every host figure is a ratio to the floor host
// (package e2e/internal/floor) measured in the same run by the same driver.
//
// Usage (from the module's root, as `make bench` runs it):
//
//	go run ./e2e/cmd/bench [-host bin/tokenhost] [-round 1s] [-rounds 5]
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tokenhost/tokenhost/e2e/internal/floor"
)

func main() {
	host := flag.String("host", "bin/tokenhost", "the tokenhost `binary` to measure (built afresh when it does not exist)")
	round := flag.Duration("round", time.Second, "how long each throughput round lasts")
	rounds := flag.Int("rounds", 5, "throughput rounds per host, alternating host and floor; the best is kept")
	spawns := flag.Int("spawns", 15, "start-ups per host; the median is kept")
	flag.Parse()
	if err := run(*host, *round, *rounds, *spawns); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// table collects the rows printed at the end.
type table struct{ rows [][]string }

func (t *table) add(cells ...string) {
	t.rows = append(t.rows, cells)
	fmt.Fprintf(os.Stderr, "bench: %s\n", strings.Join(cells, " | "))
}

func (t *table) print() {
	w := tabwriter.NewWriter(os.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "measure\ttokenhost\tfloor\tratio\tgoal\t")
	for _, r := range t.rows {
		fmt.Fprintln(w, strings.Join(r, "\t")+"\t")
	}
	w.Flush()
}

func run(host string, round time.Duration, rounds, spawns int) error {
	if _, err := os.Stat(host); err != nil {
		host = ""
	}
	s, err := floor.NewSetup(host)
	if err != nil {
		return err
	}
	defer s.Close()
	var t table
	if err := throughput(&t, s, round, rounds); err != nil {
		return err
	}
	if err := embedded(&t, round, rounds); err != nil {
		return err
	}
	if err := startUp(&t, s, spawns); err != nil {
		return err
	}
	if err := coldBurst(&t, s); err != nil {
		return err
	}
	if err := growth(&t); err != nil {
		return err
	}
	t.print()
	return nil
}

// rate runs d for about dur and returns calls per second.
func rate(d *floor.Driver, inflight int, dur time.Duration) (float64, error) {
	// Calibrate: a batch that takes about a tenth of dur.
	n := 256
	for {
		start := time.Now()
		if err := d.Run(n, inflight); err != nil {
			return 0, err
		}
		if el := time.Since(start); el > dur/10 {
			n = int(float64(n) * float64(dur) / float64(el))
			break
		}
		n *= 2
	}
	start := time.Now()
	if err := d.Run(n, inflight); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// best alternates measuring a and b rounds times each and returns the best
// rate of each.
func best(rounds int, a, b func() (float64, error)) (ra, rb float64, err error) {
	for range rounds {
		x, err := a()
		if err != nil {
			return 0, 0, err
		}
		y, err := b()
		if err != nil {
			return 0, 0, err
		}
		ra, rb = max(ra, x), max(rb, y)
	}
	return ra, rb, nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func throughput(t *table, s *floor.Setup, round time.Duration, rounds int) error {
	argv, req, err := s.CacheHit()
	if err != nil {
		return err
	}
	h, err := floor.Start(argv, s.Env(), req)
	if err != nil {
		return err
	}
	defer h.Close(5 * time.Second)
	f, err := floor.Start(s.Floor, s.Env(), floor.Request{SessionID: floor.SessionID, ProviderName: "default", Want: floor.Token})
	if err != nil {
		return err
	}
	defer f.Close(5 * time.Second)
	if err := h.Run(1, 1); err != nil { // the one acquisition
		return fmt.Errorf("%w (host stderr: %s)", err, h.Stderr())
	}
	for _, inflight := range []int{1, 16} {
		goal := map[int]float64{1: 0.8, 16: 0.6}[inflight]
		rh, rf, err := best(rounds,
			func() (float64, error) { return rate(h.Driver, inflight, round) },
			func() (float64, error) { return rate(f.Driver, inflight, round) })
		if err != nil {
			return fmt.Errorf("%w (host stderr: %s)", err, h.Stderr())
		}
		t.add(fmt.Sprintf("cache hit over stdio, %d in flight (calls/s)", inflight),
			fmt.Sprintf("%.0f", rh), fmt.Sprintf("%.0f", rf), fmt.Sprintf("%.2fx", rh/rf), fmt.Sprintf(">= %.1fx %s", goal, verdict(rh/rf >= goal)))
	}
	return nil
}

func embedded(t *table, round time.Duration, rounds int) error {
	h, err := floor.EmbeddedInProcess()
	if err != nil {
		return err
	}
	defer h.Close()
	f, err := floor.FloorInProcess()
	if err != nil {
		return err
	}
	defer f.Close()
	if err := h.Run(1, 1); err != nil {
		return err
	}
	for _, inflight := range []int{1, 16} {
		rh, rf, err := best(rounds,
			func() (float64, error) { return rate(h.Driver, inflight, round) },
			func() (float64, error) { return rate(f.Driver, inflight, round) })
		if err != nil {
			return err
		}
		t.add(fmt.Sprintf("embedded: dispatcher on rpc.Conn over pipes, %d in flight (calls/s)", inflight),
			fmt.Sprintf("%.0f", rh), fmt.Sprintf("%.0f", rf), fmt.Sprintf("%.2fx", rh/rf), "")
	}
	const n = 20000
	var herr, ferr error
	ha := floor.Allocs(n, func() { herr = h.Run(n, 1) })
	fa := floor.Allocs(n, func() { ferr = f.Run(n, 1) })
	if herr != nil || ferr != nil {
		return fmt.Errorf("allocations: %v %v", herr, ferr)
	}
	t.add("embedded: heap allocations per call (driver's included)", fmt.Sprintf("%.1f", ha), fmt.Sprintf("%.1f", fa),
		fmt.Sprintf("+%.1f", ha-fa), "")
	return nil
}

func startUp(t *table, s *floor.Setup, spawns int) error {
	argv, vars, req, err := s.StartUp()
	if err != nil {
		return err
	}
	env := s.Env(vars...)
	freq := floor.Request{SessionID: floor.SessionID, ProviderName: "default", Want: floor.Token}
	var th, tf []time.Duration
	for range spawns {
		d, err := floor.FirstAnswer(argv, env, req)
		if err != nil {
			return err
		}
		th = append(th, d)
		if d, err = floor.FirstAnswer(s.Floor, env, freq); err != nil {
			return err
		}
		tf = append(tf, d)
	}
	mh, mf := median(th), median(tf)
	ratio := float64(mh) / float64(mf)
	t.add("start-up: spawn to first answer (median)", mh.Round(time.Microsecond).String(), mf.Round(time.Microsecond).String(),
		fmt.Sprintf("%.2fx", ratio), fmt.Sprintf("<= 2x %s", verdict(ratio <= 2)))
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func coldBurst(t *table, s *floor.Setup) error {
	const calls = 1000
	argv, counter, req, err := s.ColdBurst()
	if err != nil {
		return err
	}
	h, err := floor.Start(argv, s.Env(), req)
	if err != nil {
		return err
	}
	start := time.Now()
	err = h.Run(calls, calls)
	took := time.Since(start)
	if cerr := h.Close(10 * time.Second); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cold burst: %w (stderr: %s)", err, h.Stderr())
	}
	n, err := floor.Lines(counter)
	if err != nil {
		return err
	}
	t.add(fmt.Sprintf("cold burst: %d concurrent calls, empty cache: upstream acquisitions", calls),
		fmt.Sprintf("%d (all %d answered in %s)", n, calls, took.Round(time.Millisecond)), "", "", fmt.Sprintf("== 1 %s", verdict(n == 1)))
	return nil
}

func growth(t *table) error {
	var base float64
	for _, sessions := range []int{1, 100, 10000} {
		d, ids := floor.Registered(sessions)
		const n = 300000
		if err := floor.Dispatch(d, ids, 1000); err != nil {
			return err
		}
		start := time.Now()
		if err := floor.Dispatch(d, ids, n); err != nil {
			return err
		}
		ns := float64(time.Since(start).Nanoseconds()) / n
		if sessions == 1 {
			base = ns
		}
		verdict := "flat (<= 1.5x) met"
		if ns/base > 1.5 {
			verdict = "flat (<= 1.5x) MISSED"
		}
		t.add(fmt.Sprintf("dispatch in process, %d sessions x 3 providers (ns/call)", sessions), fmt.Sprintf("%.0f", ns), "",
			fmt.Sprintf("%.2fx of 1 session", ns/base), verdict)
	}
	t.add("memory per registered (session, provider), cached source included (bytes)",
		fmt.Sprintf("%.0f", floor.BytesPerRegistration(10000)), "", "", "")
	return nil
}
