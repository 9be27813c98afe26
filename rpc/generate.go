package rpc

//go:generate go run ../codegen

// Method describes one JSON-RPC method of the contract in schema/: the
// generated tables such as [ProviderTokenMethods] and [SessionMethods]
// hold one per method.
type Method struct {
	// Name is the JSON-RPC method name, such as [MethodProviderTokenGetToken].
	Name string
	// Direction says which side sends the method and whether it is answered.
	Direction Direction
	// Params is the name of the Go type of the params, or "" for none.
	Params string
	// Result is the name of the Go type of the result, or "" for a null
	// result or a notification.
	Result string
}

// Direction is the way a [Method] travels between tokenhost (the client,
// which spawned the runtime) and the Copilot runtime.
type Direction string

// Values of [Direction], as the x-methods tables of schema/ spell them.
const (
	// DirectionClientToRuntime is a request tokenhost sends and the
	// runtime answers.
	DirectionClientToRuntime Direction = "client->runtime"
	// DirectionRuntimeToClient is a request the runtime sends and
	// tokenhost answers.
	DirectionRuntimeToClient Direction = "runtime->client"
	// DirectionNotification is a notification the runtime sends, which
	// gets no answer.
	DirectionNotification Direction = "notification"
)
