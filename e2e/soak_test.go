package e2e

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/credential/credtest"
)

var soak = flag.Bool("soak", false, "run the soak test (make soak), about a minute")

// soakFor is how long the soak sends requests.
const soakFor = 50 * time.Second

// TestSoak runs `tokenhost serve` under load for about a minute: 16
// callers, a new session id on every request, three azure providers whose
// Entra tokens rotate every few seconds (refresh_in) and whose endpoint
// fails intermittently, and three exec providers whose tokens live two
// seconds (ttl) and whose command fails one run in five. At the end: no
// wrong token (an azure token of another app, an exec token of another
// provider) and no expired token was ever answered, every request was
// answered, and the host's resident memory and thread count are back near
// what they were after warming up. Run with -soak.
func TestSoak(t *testing.T) {
	if !*soak {
		t.Skip("the soak test runs with -soak (make soak)")
	}
	ca := credtest.NewCA()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteFile(caFile); err != nil {
		t.Fatal(err)
	}
	const azureN, execN = 3, 3
	var apps []credtest.App
	for i := range azureN {
		apps = append(apps, credtest.App{TenantID: "contoso.example", ClientID: fmt.Sprintf("app-%d", i), Secret: "soak-secret"})
	}
	// Tokens live 70 s (past the cache's 30 s expiry margin) and are to
	// be refreshed after 4 s, so they rotate many times a minute.
	entra := credtest.NewEntra(ca, &credtest.EntraOptions{Apps: apps, Lifetime: 70 * time.Second, RefreshIn: 4 * time.Second})
	t.Cleanup(entra.Close)

	dir := t.TempDir()
	script := writeFile(t, "flaky.sh", `n=$(cat "$1" 2>/dev/null || echo 0); echo $((n + 1)) > "$1"
[ $((n % 5)) -eq 4 ] && { echo "flaky failure $n" >&2; exit 1; }
printf '%s-%s' "$2" "$n"
`)
	var providers []provider
	for i := range azureN {
		providers = append(providers, provider{Name: fmt.Sprintf("azure-%d", i), Auth: map[string]any{
			"type": "azure", "credential": "client-secret", "tenantId": "contoso.example", "clientId": fmt.Sprintf("app-%d", i),
			"clientSecret": map[string]any{"env": "SOAK_SECRET"}, "authorityHost": entra.URL(), "disableInstanceDiscovery": true,
		}})
	}
	for i := range execN {
		name := fmt.Sprintf("exec-%d", i)
		providers = append(providers, provider{Name: name, Auth: map[string]any{
			"type": "exec", "ttl": "2s",
			"command": []string{"/bin/sh", script, filepath.Join(dir, name+".count"), "tok-" + name},
		}})
	}
	h := startHost(t, writeConfig(t, config{Timeout: "10s", Strict: true, Providers: providers}),
		hostEnv(t, "SOAK_SECRET=soak-secret", "SSL_CERT_FILE="+caFile), "--log-level", "error")

	var answered, failed, wrong, expired atomic.Int64
	call := func(r *rand.Rand) {
		session := fmt.Sprintf("3f0b6a8e-0000-4000-8000-%012d", r.Int64N(1e12))
		p := providers[r.IntN(len(providers))].Name
		resp, err := h.Call(bounded(t), "providerToken.getToken", map[string]string{"sessionId": session, "providerName": p})
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return
		}
		answered.Add(1)
		tok, err := resp.Token()
		if err != nil {
			failed.Add(1)
			return
		}
		switch {
		case strings.HasPrefix(p, "exec-"):
			if !strings.HasPrefix(tok, "tok-"+p+"-") {
				wrong.Add(1)
			}
		default:
			claims, err := entra.VerifyAccessToken(tok)
			switch {
			case err != nil && strings.Contains(err.Error(), "expired"):
				expired.Add(1)
			case err != nil:
				wrong.Add(1)
			case claims["appid"] != "app-"+strings.TrimPrefix(p, "azure-"):
				wrong.Add(1)
			}
		}
	}
	run := func(d time.Duration, faults bool) {
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for time.Now().Before(deadline) && !t.Failed() {
					call(r)
				}
			})
		}
		if faults {
			// The endpoint fails two requests of every few seconds'
			// refreshes: a 500, a reset, a 429.
			kinds := []credtest.FaultKind{credtest.FaultServerError, credtest.FaultReset, credtest.FaultThrottle}
			for i := 0; time.Now().Before(deadline); i++ {
				entra.SetFault(credtest.Fault{Kind: kinds[i%len(kinds)], Times: 2})
				time.Sleep(3 * time.Second) // pacing the load, not waiting for anything
			}
		}
		wg.Wait()
	}
	run(5*time.Second, false) // warm up
	rss0, threads0 := procStatus(t, h.Pid())
	run(soakFor, true)
	entra.SetFault(credtest.Fault{})
	run(3*time.Second, false) // settle
	rss1, threads1 := procStatus(t, h.Pid())
	endSession(t, h)

	t.Logf("answered %d, errors %d (flaky sources), wrong %d, expired %d; VmRSS %d -> %d kB, threads %d -> %d; Entra token requests %d",
		answered.Load(), failed.Load(), wrong.Load(), expired.Load(), rss0, rss1, threads0, threads1, entra.TokenRequests())
	if wrong.Load() != 0 || expired.Load() != 0 {
		t.Errorf("%d wrong and %d expired tokens answered, want none", wrong.Load(), expired.Load())
	}
	if rss1 > rss0*3/2+4096 {
		t.Errorf("VmRSS grew from %d kB after warm-up to %d kB at the end", rss0, rss1)
	}
	if threads1 > threads0+4 {
		t.Errorf("threads grew from %d after warm-up to %d at the end", threads0, threads1)
	}
}

// procStatus reads a process's VmRSS (kB) and thread count from
// /proc/<pid>/status.
func procStatus(t *testing.T, pid int) (rss, threads int) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			rss = n
		case "Threads":
			threads = n
		}
	}
	return rss, threads
}
