// Package session is the Go side of a Copilot runtime session's token
// contract.
//
// A [Dispatcher] answers the runtime's providerToken.getToken: it routes
// each request, by session and provider name, to the token callback
// registered for it, with "default" as the fallback, and bounds every
// acquisition with its own timeout, because the runtime never cancels a
// token request. A cached token is answered where the request arrives
// ([Dispatcher.RegisterSource]); anything else runs in a goroutine of its
// own, so a slow provider never delays another.
//
// A [Client] drives the runtime itself: [Start] spawns it, and
// [Client.CreateSession] sends providers that carry a callback in their wire
// form ([Provider.Wire], [NamedProvider.Wire]: hasBearerTokenProvider set,
// the callback kept here) and registers the callbacks with the client's
// dispatcher for that session.
//
// It sits between package rpc, whose [rpc.Mux] and [rpc.Conn] it uses, and
// package credential, whose tokens it serves.
package session
