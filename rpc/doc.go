// Package rpc is tokenhost's wire layer: the JSON-RPC 2.0 types generated
// from schema/ (the z*.go files) and the transport that carries them, framed
// with Content-Length headers over a pair of byte streams, usually stdio.
//
// A [Conn] works in both directions on one stream: it serves the peer's
// requests through a [Mux] (the runtime calls providerToken.getToken on us)
// and calls methods on the peer (we call connect and session.create on the
// runtime). Requests are handled concurrently, so a slow provider never
// delays another, and each is cancelled by the peer's $/cancelRequest.
//
// It sits just below package session, which mounts its dispatcher on a Mux;
// it imports nothing of tokenhost's.
package rpc
