package gen

// Overrides is the one table of exceptions to the derived Go names and to
// the default field types. Keys are "Definition" (the Go type name),
// "Definition.property" (the field name, or a pointer for an optional
// property whose false or zero must be kept apart from absent) and
// "Enum.value" (the constant name). [Generate] fails on an unused key.
var Overrides = map[string]Override{
	// Brand names the word splitter cannot know.
	"ProviderConfigType.openai":          {Name: "ProviderConfigTypeOpenAI"},
	"ProviderConfigTransport.websockets": {Name: "ProviderConfigTransportWebSockets"},

	// The published names of these event payloads say too little inside
	// package rpc, where errors are JSON-RPC errors.
	"ErrorData": {Name: "SessionErrorData"},
	"IdleData":  {Name: "SessionIdleData"},

	// The SDK always sends requestPermission, so an explicit false must
	// survive; some events carry "ephemeral": false, which a round trip
	// must keep.
	"SessionCreateRequest.requestPermission": {Pointer: true},
	"SessionEvent.ephemeral":                 {Pointer: true},
}
