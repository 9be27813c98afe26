// Package session answers the Copilot runtime's providerToken.getToken: a
// [Dispatcher] routes each request, by session and provider name, to the
// token callback registered for it, with "default" as the fallback, and
// bounds every acquisition with its own timeout, because the runtime never
// cancels a token request.
//
// It also turns provider configs that carry a callback into their wire form
// ([Provider.Wire], [NamedProvider.Wire]): hasBearerTokenProvider set, the
// callback kept here.
//
// It sits between package rpc, whose [rpc.Mux] it mounts on, and package
// credential, whose tokens it serves.
package session
