// Package modelserver is a loopback stand-in for an OpenAI-compatible model
// endpoint, for the end-to-end tests and the demo: it answers the Chat
// Completions requests the Copilot runtime sends to a provider of type
// "openai" (POST {baseUrl}/chat/completions, as JSON or as a server-sent
// event stream when the request says "stream": true) with a configured
// reply, and records every request's path and Authorization header.
//
// It listens on 127.0.0.1 only. It is test infrastructure: it records the
// bearer tokens it receives so that tests can check them.
package modelserver
