package credtest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// discoveryHost is where MSAL sends instance discovery for an authority
// host it does not know, such as a stand-in on 127.0.0.1.
const discoveryHost = "login.microsoftonline.com"

// DialGuard is a dialer that connects only to loopback addresses. It
// refuses, and records, every other address, so a test can prove that no
// request left the machine. A route can send a named host to a loopback
// listener instead (see [DialGuard.Route]).
//
// A DialGuard is safe for concurrent use.
type DialGuard struct {
	dialer net.Dialer

	mu      sync.Mutex
	refused []string
	routes  map[string]string
}

// NewDialGuard returns a [DialGuard] that has refused nothing yet.
func NewDialGuard() *DialGuard { return &DialGuard{routes: map[string]string{}} }

// Route makes the guard dial the loopback address to whenever asked for
// from; both are "host:port". [Entra.RouteDiscovery] uses it.
func (g *DialGuard) Route(from, to string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.routes[from] = to
}

// DialContext dials addr if it is a loopback address (an IP literal in
// 127.0.0.0/8 or ::1, or "localhost") or routed to one, and otherwise
// records addr and returns an error without touching the network.
func (g *DialGuard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	if to, ok := g.routes[addr]; ok {
		addr = to
	}
	g.mu.Unlock()
	if !IsLoopback(addr) {
		g.mu.Lock()
		g.refused = append(g.refused, addr)
		g.mu.Unlock()
		return nil, fmt.Errorf("credtest: dial guard refused non-loopback address %s", addr)
	}
	return g.dialer.DialContext(ctx, network, addr)
}

// Refused returns the addresses the guard refused to dial, in order.
func (g *DialGuard) Refused() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.refused...)
}

// IsLoopback reports whether addr, a "host:port" or a bare host, names a
// loopback address: an IP literal in 127.0.0.0/8 or ::1, or "localhost".
func IsLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
