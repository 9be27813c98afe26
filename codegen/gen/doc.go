// Package gen turns the JSON Schema documents of schema/ into the Go wire
// types of package rpc.
//
// It sits at the top of tokenhost's one-way pipeline: schema/ holds the
// contract with the Copilot runtime in our words, gen reads it, and the
// thin command in codegen/ writes one rpc/z<doc>.go per schema document
// (run it with `go generate ./...`). For every document gen emits structs
// with json tags, enum string types with their constants, method name
// constants with a table of their directions and params/result types,
// and the constants of the session event types the document lists.
//
// Names come from the schema (camelCase to Go, with initialisms such as
// ID, URL and API); the exceptions, and the optional properties that need
// a pointer, live in one table, [Overrides]. [Generate] fails when an
// override is not used, and when its output does not pass go/format.
//
// Besides standard keywords the documents use four of their own:
// x-methods and x-events (the tables of a document), x-enumDescriptions
// (the meaning of each enum value) and x-subset (a definition that keeps
// only the properties tokenhost uses of a larger runtime message).
package gen
