// Package floor measures token hosts against the floor: the least a host
// can do to answer providerToken.getToken over a Content-Length framed
// stdio pipe.
//
// [Serve] is the floor host: it reads a frame, finds the request's id, and
// answers a fixed token through one buffered writer, with no JSON decoding
// and no dispatch. Its command is floorhost. A [Driver] plays the runtime's
// side of the wire to any host (the floor, `tokenhost serve`, or a host
// served in process over a pipe) with pre-encoded requests, a fixed number
// of them in flight, and checks every answer. The same driver measures the
// floor and the host under test in the same run, so the figures are
// printed as ratios and say what the host costs, not what the machine does.
//
// It sits beside e2e/internal/peer, the strict runtime side the conformance
// suite uses; a Driver is the lean one, for speed. make bench
// (e2e/cmd/bench) and the benchmarks of package e2e use it.
package floor
