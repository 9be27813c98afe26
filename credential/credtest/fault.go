package credtest

import (
	"net"
	"net/http"
	"strconv"
	"sync"
)

// FaultKind is a way a stand-in misbehaves.
type FaultKind int

// The kinds of [Fault].
const (
	// NoFault answers normally.
	NoFault FaultKind = iota
	// FaultServerError answers 500 with a JSON error body.
	FaultServerError
	// FaultAADSTS answers an Entra error body carrying [Fault.Code]
	// (default 7000215), with [Fault.Status] (default 400).
	FaultAADSTS
	// FaultMalformed answers 200 with a body that is not JSON.
	FaultMalformed
	// FaultExpired answers with a token that has already expired.
	FaultExpired
	// FaultThrottle answers 429 with Retry-After: [Fault.RetryAfter]
	// seconds (default 1).
	FaultThrottle
	// FaultStall answers nothing until the request's context ends (the
	// client gives up) or the stand-in is closed.
	FaultStall
	// FaultReset resets the TCP connection without answering.
	FaultReset
	// FaultRefuse answers [Fault.Status] (default 403), as the GitHub
	// issuer does for a bad request token.
	FaultRefuse
)

// Fault is a misbehaviour injected into a stand-in's token endpoint with
// SetFault. The zero Fault means none.
type Fault struct {
	Kind FaultKind
	// Status overrides the HTTP status for FaultAADSTS and FaultRefuse.
	Status int
	// Code is the AADSTS code for FaultAADSTS.
	Code int
	// RetryAfter is the Retry-After of FaultThrottle, in seconds.
	RetryAfter int
	// Times is how many requests the fault applies to; 0 means every
	// request until the next SetFault.
	Times int
}

// faults holds a stand-in's current fault.
type faults struct {
	mu    sync.Mutex
	fault Fault
	done  chan struct{} // closed when the stand-in closes; ends stalls
	once  sync.Once
}

func newFaults() *faults { return &faults{done: make(chan struct{})} }

func (f *faults) set(x Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = x
}

// take returns the fault for this request and counts it down.
func (f *faults) take() Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	x := f.fault
	if x.Times > 0 {
		f.fault.Times--
		if f.fault.Times == 0 {
			f.fault = Fault{}
		}
	}
	return x
}

func (f *faults) close() { f.once.Do(func() { close(f.done) }) }

// transportFault handles the kinds that do not depend on the stand-in's
// protocol; it reports whether it answered.
func (f *faults) transportFault(w http.ResponseWriter, r *http.Request, x Fault, canary string) bool {
	switch x.Kind {
	case FaultServerError:
		writeJSON(w, http.StatusInternalServerError, map[string]any{
			"error": "server_error", "error_description": "credtest: injected server error " + canary,
		})
	case FaultMalformed:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"access_token": "` + canary + `", oops`))
	case FaultThrottle:
		after := x.RetryAfter
		if after == 0 {
			after = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(after))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{
			"error": "temporarily_unavailable", "error_description": "credtest: throttled " + canary,
		})
	case FaultStall:
		select {
		case <-r.Context().Done():
		case <-f.done:
		}
	case FaultReset:
		reset(w)
	case FaultRefuse:
		status := x.Status
		if status == 0 {
			status = http.StatusForbidden
		}
		writeJSON(w, status, map[string]any{"message": "credtest: refused " + canary})
	default:
		return false
	}
	return true
}

// reset closes the request's connection with a TCP reset.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("credtest: cannot hijack the connection to reset it")
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return
	}
	raw := c
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		raw = nc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}
