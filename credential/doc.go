// Package credential is where tokens come from: environment variables, files,
// external commands, Microsoft Entra ID (through azidentity) and GitHub
// Actions OIDC federated to Entra, each a [Source], and a [Cache] in front of
// them that serves tokens from memory and refreshes them before they expire.
//
// It sits at the bottom of tokenhost: it imports nothing of tokenhost's, and
// package session calls it to answer the runtime's providerToken.getToken.
package credential
