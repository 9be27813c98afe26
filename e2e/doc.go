// Package e2e drives tokenhost from outside, as the Copilot runtime does.
//
// Its conformance suite (go test ./e2e) builds cmd/tokenhost, starts
// `tokenhost serve` as a child process and speaks Content-Length framed
// JSON-RPC over its stdio through package e2e/internal/peer, treating the
// host as a black box: the same suite can judge another implementation
// when TOKENHOST_HOST_CMD names it (a command line split on spaces, to
// which the suite appends `serve --config FILE` and flags).
//
// It sits at the top of the picture: nothing imports it, and it imports of
// tokenhost only the error codes of package rpc. e2e/cmd/scripted-runtime
// plays a short runtime session against a built host for `make demo`;
// e2e/testdata holds its config and the tiny exec token sources the tests
// use; e2e/runtime pins the real Copilot runtime.
package e2e
