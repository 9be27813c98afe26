// Package peer is the Copilot runtime's side of the wire to a token host: it
// spawns a host command (`tokenhost serve` or another implementation),
// writes Content-Length framed JSON-RPC requests to its stdin with its own
// increasing ids, and matches the answers read from its stdout to their
// callers, many in flight at once.
//
// It is written from the protocol, not from package rpc, so that it can
// judge a host as a black box: it reads stdout strictly, and every byte
// there that is not a well-formed answer frame is recorded as a violation
// ([Host.Violations]) rather than skipped. It can also write raw bytes
// (malformed frames), send notifications such as $/cancelRequest, capture
// the host's stderr, signal it, close its stdin and wait for its exit
// under a context.
//
// The conformance suite in package e2e, the benchmarks and the
// scripted-runtime demo use it. It runs on Unix: the host gets its own
// process group so that [Host.Kill] also ends what the host started.
package peer
