// Package credtest provides loopback stand-ins for identity endpoints, for
// tests, demos and benchmarks: a Microsoft Entra ID token service
// ([Entra]), the GitHub Actions OIDC token issuer ([GitHubOIDC]) and an App
// Service style managed identity endpoint ([ManagedIdentity]).
//
// Each is a real TLS server on 127.0.0.1 with a certificate from a test
// [CA]; a client reaches them through the same code paths as production
// (azidentity and MSAL included) by trusting that CA, for example with
// [CA.Client]. A [DialGuard] under that client refuses and records every
// dial of a non-loopback address, so a test can prove that nothing, such as
// azidentity's probe of the instance metadata service at 169.254.169.254,
// left the machine.
//
// The stand-ins count their requests, can be told to misbehave (a [Fault]),
// and can embed a canary string in every token and error body they write, so
// a test can assert that no token or response body reaches an error or a
// log line.
//
// Package credtest imports nothing of tokenhost's; package credential's
// tests and the e2e tests use it.
package credtest
