// Package e2e drives tokenhost from outside, as the Copilot runtime does.
//
// Its conformance suite (go test ./e2e) builds cmd/tokenhost, starts
// `tokenhost serve` as a child process and speaks Content-Length framed
// JSON-RPC over its stdio through package e2e/internal/peer, treating the
// host as a black box: the same suite can judge another implementation
// when TOKENHOST_HOST_CMD names it (a command line split on spaces, to
// which the suite appends `serve --config FILE` and flags).
//
// Its real-runtime tests (runtime_test.go) drive the pinned Copilot
// runtime (e2e/runtime, installed by `make runtime`) with package session's
// client, against a loopback model endpoint (e2e/internal/modelserver) and
// the loopback identity stand-ins of credential/credtest, offline.
//
// It sits at the top of the picture: nothing imports it. The conformance
// suite imports of tokenhost only the error codes of package rpc; the
// real-runtime tests use session, credential and credtest as a Go program
// would. e2e/cmd/scripted-runtime and e2e/cmd/demo are `make demo`;
// e2e/cmd/bench and e2e/internal/floor are `make bench`; e2e/testdata holds
// configs and the tiny exec token sources the tests use.
package e2e
